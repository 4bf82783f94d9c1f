import { platformWebSocket, type FeedContext } from './change-feed.js';
import { FetchTransport } from './fetch-transport.js';
import { PinbaseError } from './pinbase-error.js';
import { RetryingExchange } from './retrying-exchange.js';
import type { Transport } from './transport.js';
import type { ClientOptions } from './types.js';
import { UserHandle } from './user-handle.js';

const DEFAULT_DEADLINE_MS = 30_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;

/** A Pinbase client: one per application (it keeps connections alive); `close()` when done. */
export class PinbaseClient {
  private readonly exchange: RetryingExchange;
  private readonly feed: FeedContext;
  private transport: Transport | undefined;
  private transportLoading: Promise<Transport> | undefined;
  private closed = false;

  constructor(private readonly options: ClientOptions) {
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) {
      throw new TypeError(`createClient: url must be the router's http(s) URL, got ${String(options.url)}`);
    }
    const token = tokenSource(options);
    const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    const baseUrl = options.url.replace(/\/+$/, '');
    if ((options.routing ?? 'router') === 'router') this.transport = new FetchTransport(baseUrl, fetchFn);
    else if (options.routing !== 'direct') throw new TypeError(`createClient: routing must be 'router' or 'direct', got ${String(options.routing)}`);
    else if (typeof process !== 'object' || typeof process.versions?.node !== 'string') {
      // Else the first request would fail on loading undici, with a module resolution error.
      throw new TypeError("createClient: routing 'direct' runs on Node only (it connects to the workers with undici); use routing 'router' here");
    }
    this.exchange = new RetryingExchange(() => this.transport ?? this.loadDirect(baseUrl, token, attemptTimeoutMs), { deadlineMs, attemptTimeoutMs, token });
    this.feed = { baseUrl, token, fetch: fetchFn, webSocket: platformWebSocket, deadlineMs };
  }

  /** The handle of user (tenant) `userId`: cheap, make one whenever needed. */
  user(userId: string): UserHandle {
    if (this.closed) throw PinbaseError.client('aborted', 'the client is closed', undefined, false);
    return new UserHandle(this.exchange, this.feed, userId);
  }

  /** Ends the kept-alive connections (direct mode's pools). Calls after close fail. */
  async close(): Promise<void> {
    this.closed = true;
    const transport = this.transport ?? (await this.transportLoading?.catch(() => undefined));
    await transport?.close();
  }

  /** Direct mode's transport (Node only), loaded once with import() so browsers never load undici. */
  private loadDirect(baseUrl: string, token: ((userId: string) => string | Promise<string>) | undefined, attemptTimeoutMs: number): Promise<Transport> {
    this.transportLoading ??= import(/* webpackIgnore: true */ /* @vite-ignore */ './direct-transport.js').then(({ DirectTransport }) => {
      const transport = new DirectTransport({
        routerUrl: baseUrl,
        token,
        attemptTimeoutMs,
        connectionsPerWorker: this.options.connectionsPerWorker,
      });
      this.transport = transport;
      return transport;
    });
    return this.transportLoading;
  }
}

function tokenSource(options: ClientOptions): ((userId: string) => string | Promise<string>) | undefined {
  if (options.getToken !== undefined) return options.getToken;
  const { token } = options;
  return token === undefined ? undefined : () => token;
}

/**
 * Creates a client. `url`: the router. `token` (one for every user) or
 * `getToken(userId)`; `routing: 'direct'` (Node only) sends each request
 * straight to the worker that owns its user. See the README, "Use it from
 * TypeScript".
 */
export function createClient(options: ClientOptions): PinbaseClient {
  return new PinbaseClient(options);
}
