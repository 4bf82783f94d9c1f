/**
 * What one HTTP attempt tells a client about its write, and what a logical
 * operation (one Idempotency-Key, possibly sent several times) adds up to.
 *
 * Classification of one attempt (the contract the chaos test holds Pinbase
 * to; see the error table in services/problem/error-table.ts):
 * - 2xx: ok, the write took effect (a replay answers what the first
 *   application answered);
 * - 4xx: fail, nothing was applied: 409 transaction_conflict,
 *   412 precondition_failed, 404 object_not_found, 422 ... are answered by
 *   the worker after it checked the request; 421 misdirected_request,
 *   429 too_many_requests and 408 request_timeout are refusals before any
 *   work, worth retrying;
 * - 5xx whose code says "refused before anything was applied"
 *   (REFUSED_CODES: partition_busy, overloaded, shutting_down,
 *   no_worker_available, partition_lost): fail, worth retrying;
 * - anything else: info, the outcome is unknown: 502 upstream_failed,
 *   504 upstream_timeout, 503 io_error, 500 internal_error,
 *   507 insufficient_storage (an fsync failure can surface as it after the
 *   commit), a connection reset, a client timeout, an unexpected status.
 *
 * A logical operation is ok if any attempt was ok (the key makes every
 * attempt the same write, applied at most once); otherwise info if any
 * attempt was info (that attempt may still be applied later, even after a
 * later attempt was refused: a refusal only speaks for itself); otherwise
 * fail.
 */
import type { OperationStatus } from './linearizability.js';

/** One HTTP request as the client saw it. `status` is absent when no response arrived. */
export interface Attempt {
  status?: number;
  /** The problem document's `code`, for error responses that have one. */
  code?: string;
  /** The client-side error (timeout, connection reset), when there was no response. */
  error?: string;
  /** `Idempotent-Replayed: true`: the stored answer of an earlier application. */
  replayed: boolean;
  etag?: string;
  body?: string;
  /** Which worker produced the response (X-Pinbase-Worker), if one did. */
  worker?: string;
}

/** Codes that mean the request was refused before anything was applied. */
export const REFUSED_CODES: ReadonlySet<string> = new Set([
  'partition_busy',
  'overloaded',
  'too_many_requests',
  'shutting_down',
  'no_worker_available',
  'topology_changing',
  'partition_lost',
  'misdirected_request',
  'request_timeout',
]);

export interface AttemptVerdict {
  outcome: OperationStatus;
  /** Whether sending the same request again (same key) may help. */
  retry: boolean;
}

export function classifyAttempt(attempt: Attempt): AttemptVerdict {
  const { status, code } = attempt;
  if (status === undefined) return { outcome: 'info', retry: true };
  if (status >= 200 && status < 300) return { outcome: 'ok', retry: false };
  if (code !== undefined && REFUSED_CODES.has(code)) return { outcome: 'fail', retry: true };
  if (status >= 400 && status < 500) return { outcome: 'fail', retry: false };
  return { outcome: 'info', retry: true };
}

/** The status of a logical operation from its attempts' outcomes, in order (see the file comment). */
export function resolveOperation(outcomes: readonly OperationStatus[]): OperationStatus {
  if (outcomes.includes('ok')) return 'ok';
  if (outcomes.includes('info')) return 'info';
  if (outcomes.length === 0) throw new RangeError('an operation needs at least one attempt');
  return 'fail';
}

/** A short label for tallies and reports: "200", "412 precondition_failed", "timeout". */
export function attemptLabel(attempt: Attempt): string {
  if (attempt.status === undefined) return attempt.error ?? 'no response';
  const replay = attempt.replayed ? ' replayed' : '';
  return attempt.code === undefined ? `${attempt.status}${replay}` : `${attempt.status} ${attempt.code}`;
}
