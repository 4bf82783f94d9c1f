import { isRetryableStatus, PinbaseError } from './pinbase-error.js';
import { nextDelay, parseRetryAfter, sleep } from './retry-policy.js';
import type { ExchangeResponse, Method, Transport } from './transport.js';

export interface ExchangeOptions {
  /** Overall budget of a call, every attempt and wait included (ms). */
  deadlineMs: number;
  /** Budget of one attempt (ms). */
  attemptTimeoutMs: number;
  /** The bearer token for a user; undefined: no Authorization header. */
  token: ((userId: string) => string | Promise<string>) | undefined;
}

export interface CallInit {
  body?: string | undefined;
  /** Extra headers (lower-case names): content-type, idempotency-key, if-match, … */
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/**
 * Sends a request through a transport, retrying what may safely be retried
 * until the deadline. Safe means: every call is a GET or carries an
 * Idempotency-Key (the collection and user handles give every write one), so
 * a second attempt never applies a write twice. Retried: no answer (network
 * error, attempt timeout) and statuses 408, 421, 429, 502, 503, 504, waiting
 * full-jitter backoff or the server's Retry-After (a 421 means "ask the
 * owner": the transport re-resolves, so its Retry-After is not waited for).
 * Every other answer is returned as it is (< 400) or thrown as its
 * PinbaseError. Past the deadline, the last error is thrown.
 */
export class RetryingExchange {
  constructor(
    private readonly transport: () => Transport | Promise<Transport>,
    private readonly options: ExchangeOptions,
  ) {}

  async call(userId: string, method: Method, path: string, init: CallInit = {}): Promise<ExchangeResponse> {
    const { deadlineMs, attemptTimeoutMs, token } = this.options;
    const deadline = Date.now() + deadlineMs;
    const headers: Record<string, string> = { ...init.headers };
    // No await where the value is already there: the first attempt of a call is the hot path.
    const loaded = this.transport();
    const transport = loaded instanceof Promise ? await loaded : loaded;
    for (let attempt = 0; ; attempt++) {
      init.signal?.throwIfAborted();
      if (token !== undefined) {
        const value = token(userId);
        headers.authorization = `Bearer ${typeof value === 'string' ? value : await value}`;
      }
      const timeoutMs = Math.max(1, Math.min(attemptTimeoutMs, deadline - Date.now()));
      let failure: PinbaseError;
      let retryAfterMs: number | undefined;
      try {
        const response = await transport.send({ method, userId, path, headers, body: init.body }, init.signal, timeoutMs);
        if (response.status < 400) return response;
        failure = PinbaseError.fromResponse(response.status, response.body);
        if (!isRetryableStatus(response.status)) throw failure;
        if (response.status !== 421) retryAfterMs = parseRetryAfter(response.header('retry-after'));
      } catch (error) {
        if (init.signal?.aborted) throw init.signal.reason;
        if (!(error instanceof PinbaseError) || !error.retryable || error.status >= 400 && !isRetryableStatus(error.status)) throw error;
        failure = error;
      }
      const delay = nextDelay(attempt, retryAfterMs, Date.now(), deadline);
      if (delay === undefined) throw failure;
      await sleep(delay, init.signal);
    }
  }
}
