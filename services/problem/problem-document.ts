import { ERROR_TABLE, type ErrorCode } from './error-table.js';
import type { ProblemExtensions } from './pinbase-error.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  retryable: boolean;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** Builds the RFC 9457 body for `code`. Shared by the worker and the router. */
export function problemDocument(
  code: ErrorCode,
  detail?: string,
  instance?: string,
  extensions?: ProblemExtensions,
): ProblemDocument {
  const row = ERROR_TABLE[code];
  return {
    ...extensions,
    type: `urn:pinbase:problem:${code}`,
    title: row.title,
    status: row.status,
    code,
    retryable: row.retryable,
    ...(detail === undefined ? {} : { detail }),
    ...(instance === undefined ? {} : { instance }),
  };
}
