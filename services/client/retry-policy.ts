/**
 * When to try again: full-jitter exponential backoff (AWS Architecture Blog,
 * "Exponential Backoff And Jitter") between attempts, at least what the
 * server's Retry-After asks, and never past the call's deadline.
 */

/** The first backoff step and the largest one, in ms. */
export const BACKOFF_BASE_MS = 50;
export const BACKOFF_CAP_MS = 2000;

/** A random delay in [0, min(cap, base·2^attempt)) for retry number `attempt` (0 = the first retry). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.floor(random() * ceiling);
}

/**
 * Retry-After (RFC 9110 §10.2.3) in ms: delay-seconds or an HTTP-date;
 * undefined when absent or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  // An HTTP-date names its day and month (Sun, 06 Nov 1994 08:49:37 GMT); "-1" or "1.5" is neither form.
  const date = /^[A-Za-z]{3}, /.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The wait before the next attempt: the server's Retry-After when it gave
 * one (unless the jittered backoff is longer), else the backoff. Undefined
 * when waiting would end past `deadline`: the caller gives up then.
 */
export function nextDelay(attempt: number, retryAfterMs: number | undefined, now: number, deadline: number, random?: () => number): number | undefined {
  const delay = Math.max(retryAfterMs ?? 0, backoffDelay(attempt, random));
  return now + delay >= deadline ? undefined : delay;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. Browser-safe (no node:timers). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
