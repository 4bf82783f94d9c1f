import type { ErrorCode } from '../problem/error-table.js';

/** An RFC 9457 problem document as Pinbase sends it (extension members included, e.g. `conflicts`, `currentRev`). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  code?: string;
  retryable?: boolean;
  detail?: string;
  [extension: string]: unknown;
}

/**
 * Statuses the client retries (with the same Idempotency-Key for a write):
 * 408 (the request did not arrive in time), 421 (sent to a non-owner),
 * 429 and 503 (nothing applied; Retry-After), 502 and 504 (may have been
 * applied: the key makes the retry apply it at most once).
 */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 421, 429, 502, 503, 504]);

/** Codes the client itself gives errors that no server answered. */
export type ClientErrorCode = 'network_error' | 'timeout' | 'aborted' | 'invalid_response' | 'feed_closed';

/**
 * An error of a Pinbase call. From a server answer: its problem document
 * (status, the stable `code`, title, detail, retryable). Without one: a
 * client code (`network_error`, `timeout`, …, status 0), the cause attached.
 * `retryable` says whether the same call may succeed later; the client has
 * already retried what it safely could until its deadline.
 */
export class PinbaseError extends Error {
  readonly status: number;
  readonly code: ErrorCode | ClientErrorCode | (string & {});
  readonly title: string;
  readonly detail: string | undefined;
  readonly retryable: boolean;
  /** The whole problem document (undefined for a client-side error). */
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined, fallback: { code: string; title: string; retryable?: boolean; cause?: unknown }) {
    const title = typeof problem?.title === 'string' ? problem.title : fallback.title;
    const detail = typeof problem?.detail === 'string' ? problem.detail : undefined;
    super(detail ?? title, fallback.cause === undefined ? undefined : { cause: fallback.cause });
    this.name = 'PinbaseError';
    this.status = status;
    this.code = typeof problem?.code === 'string' ? problem.code : fallback.code;
    this.title = title;
    this.detail = detail;
    this.retryable = typeof problem?.retryable === 'boolean' ? problem.retryable : (fallback.retryable ?? RETRYABLE_STATUSES.has(status));
    this.problem = problem;
  }

  /** The error for an HTTP answer of `status` with `body` (a problem document, or anything else). */
  static fromResponse(status: number, body: string): PinbaseError {
    let problem: Problem | undefined;
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) problem = parsed as Problem;
    } catch {
      // not JSON: a proxy's or load balancer's page
    }
    return new PinbaseError(status, problem, { code: `http_${status}`, title: `HTTP ${status}` });
  }

  /** A client-side error without a server answer (network failure, timeout, abort). */
  static client(code: ClientErrorCode, title: string, cause?: unknown, retryable = code === 'network_error' || code === 'timeout'): PinbaseError {
    return new PinbaseError(0, undefined, { code, title, retryable, cause });
  }
}

/** Whether the client retries an answer of `status`. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}
