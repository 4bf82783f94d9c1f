import { PinbaseError } from './pinbase-error.js';
import type { ExchangeRequest, ExchangeResponse, Transport } from './transport.js';

/**
 * Router mode: every request to `baseUrl` (the router) with fetch, as
 * browsers and Node ≥ 18 provide it. Keep-alive is fetch's own (Node:
 * undici's global dispatcher; browsers: the page's connection pool).
 */
export class FetchTransport implements Transport {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly fetchFn: typeof fetch = globalThis.fetch.bind(globalThis),
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async send(request: ExchangeRequest, signal: AbortSignal | undefined, timeoutMs: number): Promise<ExchangeResponse> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      const response = await this.fetchFn(this.baseUrl + request.path, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: combined,
        redirect: 'manual',
      });
      const body = await response.text();
      const { headers, status } = response;
      return { status, body, header: (name) => headers.get(name) ?? undefined };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw PinbaseError.client('timeout', `no answer from ${this.baseUrl} within ${timeoutMs} ms`, error);
      throw PinbaseError.client('network_error', `cannot reach ${this.baseUrl}: ${String((error as Error)?.message ?? error)}`, error);
    }
  }

  async close(): Promise<void> {
    // fetch's connections belong to the platform.
  }
}
