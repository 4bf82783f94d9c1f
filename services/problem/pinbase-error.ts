import { ERROR_TABLE, type ErrorCode } from './error-table.js';

/** Extra members of a problem document (RFC 9457 extension members). */
export type ProblemExtensions = Record<string, unknown>;

/**
 * The one error type Pinbase code throws for anything a client can be told
 * about. The HTTP layer turns it into `application/problem+json`; storage
 * code throws it without knowing about HTTP.
 */
export class PinbaseError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  readonly extensions: ProblemExtensions | undefined;
  /** The partition seq the error was decided against, when a partition decided it (X-Pinbase-Seq). */
  seq: number | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    options: { extensions?: ProblemExtensions; cause?: unknown } = {},
  ) {
    super(detail ?? ERROR_TABLE[code].title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PinbaseError';
    this.code = code;
    this.detail = detail;
    this.extensions = options.extensions;
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_TABLE[this.code].retryable;
  }
}
