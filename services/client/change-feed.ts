import { WebSocketRefused, type FeedMessage, type FeedTarget } from './feed-message.js';
import { PinbaseError } from './pinbase-error.js';
import { backoffDelay, sleep } from './retry-policy.js';
import { sseConnection } from './sse-connection.js';
import type { ChangeEvent, ChangesOptions } from './types.js';
import { webSocketConnection, type WebSocketClass } from './websocket-connection.js';

/** Commits a WebSocket connection keeps for a slow consumer before it lets go (ChangesOptions.maxBuffered). */
const DEFAULT_MAX_BUFFERED = 1000;

/** A WebSocket class to use, and whether it can send the token as a header (Node) or must send it as the first message (browsers). */
export interface WebSocketSupport {
  WebSocket: WebSocketClass;
  headerAuth: boolean;
}

/** What the change feed needs from the client. */
export interface FeedContext {
  /** The router's base URL: the feed always goes through the router, which knows the owner during handoffs. */
  baseUrl: string;
  token: ((userId: string) => string | Promise<string>) | undefined;
  fetch: typeof fetch;
  /** The WebSocket to use, or undefined for SSE only. */
  webSocket: () => Promise<WebSocketSupport | undefined>;
  /** How long the feed keeps reconnecting without ever being accepted before it throws the last error. */
  deadlineMs: number;
}

/**
 * The WebSocket of this platform: the global one (browsers, Node ≥ 22), or
 * undici's on Node 20, loaded with import() so that no browser ever loads
 * it; the token goes in a header on Node, in the first message elsewhere.
 */
export async function platformWebSocket(): Promise<WebSocketSupport | undefined> {
  const onNode = typeof process === 'object' && typeof process.versions?.node === 'string';
  const global = (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
  if (global !== undefined) return { WebSocket: global, headerAuth: onNode };
  if (!onNode) return undefined;
  const { NodeWebSocket } = await import(/* webpackIgnore: true */ /* @vite-ignore */ './node-websocket.js');
  return { WebSocket: NodeWebSocket, headerAuth: true };
}

/**
 * The change feed of `userId` as an async iterator of commits (see
 * UserHandle.changes). Each connection starts after the last commit
 * delivered, and a commit at or before it is skipped, so a reconnect
 * neither repeats nor skips one; a large commit comes in parts (`partial`
 * on each but the last), and a connection that broke between two parts
 * resumes after the last part delivered (its cursor). A WebSocket that is refused (never opens)
 * is replaced by SSE for that connection. Retryable failures (network,
 * 429/503, the partition moving) reconnect after a jittered backoff; after
 * `deadlineMs` without an accepted connection the last error is thrown.
 */
export async function* openChangeFeed(ctx: FeedContext, userId: string, options: ChangesOptions): AsyncGenerator<ChangeEvent> {
  const controller = new AbortController();
  const stop = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) return;
  options.signal?.addEventListener('abort', stop, { once: true });
  const signal = controller.signal;
  const maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  if (!Number.isInteger(maxBuffered) || maxBuffered < 1) throw new TypeError(`changes: maxBuffered must be a positive integer, got ${String(options.maxBuffered)}`);
  const webSocket = options.transport === 'sse' ? undefined : await ctx.webSocket();
  if (options.transport === 'websocket' && webSocket === undefined) {
    throw PinbaseError.client('feed_closed', 'no WebSocket on this platform', undefined, false);
  }
  let since = options.since;
  /** Set while a large commit is being delivered in parts: where its next part starts. */
  let cursor: string | undefined;
  let sse = webSocket === undefined;
  let failures = 0;
  let failingSince: number | undefined;
  try {
    for (;;) {
      let lastError: PinbaseError | undefined;
      try {
        const token = ctx.token === undefined ? undefined : await ctx.token(userId);
        const target: FeedTarget = { baseUrl: ctx.baseUrl, userId, since, cursor, includeData: options.includeData === true, token, signal, maxBuffered };
        const connection: AsyncGenerator<FeedMessage> = sse ? sseConnection(target, ctx.fetch) : webSocketConnection(target, webSocket!.WebSocket, webSocket!.headerAuth);
        for await (const message of connection) {
          if (message.kind === 'ready') {
            since ??= message.seq;
            failures = 0;
            failingSince = undefined;
          } else if (since === undefined || message.event.seq > since) {
            if (message.event.partial === true) cursor = message.event.cursor;
            else [since, cursor] = [message.event.seq, undefined];
            yield message.event;
          }
        }
        sse = webSocket === undefined || options.transport === 'sse';
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof WebSocketRefused && options.transport !== 'websocket') {
          sse = true;
          continue;
        }
        if (!(error instanceof PinbaseError) || !error.retryable) throw error;
        lastError = error;
      }
      if (signal.aborted) return;
      failingSince ??= Date.now();
      if (lastError !== undefined && Date.now() - failingSince > ctx.deadlineMs) throw lastError;
      try {
        await sleep(backoffDelay(failures++), signal);
      } catch {
        return;
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    controller.abort();
  }
}
