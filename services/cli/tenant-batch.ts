/**
 * Running one operation per tenant over many tenants: at most `concurrency`
 * at a time, each retried on a retryable failure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestFailure } from './cluster-client.js';

/** Attempts per tenant, and the wait before the 2nd and 3rd (doubled each time). */
export const ATTEMPTS = 3;
const FIRST_BACKOFF_MS = 500;

/** Calls `fn` for each item, at most `concurrency` at once; resolves when every call has settled. `fn` must not throw. */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

/**
 * `attempt()` until it succeeds, fails with a non-retryable RequestFailure,
 * or ATTEMPTS have failed; resolves with the result or the last failure
 * (any other error is turned into one).
 */
export async function withRetries<R>(attempt: () => Promise<R>, backoffMs = FIRST_BACKOFF_MS): Promise<{ ok: true; value: R } | { ok: false; failure: RequestFailure }> {
  for (let n = 1; ; n++) {
    let failure: RequestFailure;
    try {
      return { ok: true, value: await attempt() };
    } catch (error) {
      failure = error instanceof RequestFailure ? error : new RequestFailure('local_error', (error as Error).message, undefined, false);
    }
    if (!failure.retryable || n >= ATTEMPTS) return { ok: false, failure };
    await sleep(backoffMs * 2 ** (n - 1));
  }
}
