import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { authorize } from '../../auth/request-auth.js';
import { ACCESS_TOKEN_PARAM } from '../../auth/token-redaction.js';
import type { TokenVerifier } from '../../auth/token-verifier.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { problemDocument } from '../../problem/problem-document.js';
import { FEED_CLOSE, type FeedAuthMessage } from '../change-socket-protocol.js';
import { toPinbaseError } from '../problem-reply.js';
import { closeSocket, isWebSocketRequest } from '../websocket-upgrade.js';
import { ChangeFeed, feedStart, type FeedFraming, type FeedResume, type FeedStart } from './change-feed.js';
import type { LiveStreamSlots } from './change-routes.js';
import type { RouteContext } from './route-context.js';

/**
 * Bytes a WebSocket feed lets wait in its socket's buffer (ws bufferedAmount)
 * before it reads no more changes until they are written out: with one page
 * of changes (change-feed.ts), the memory a client that does not read can
 * hold on the worker.
 */
export const SOCKET_BUFFER_BYTES = 64 * 1024;

/** What the WebSocket feed needs beside the routes' context. */
export interface SocketFeedContext extends RouteContext {
  slots: LiveStreamSlots;
  /** Verifies the auth message's token; undefined: the worker serves anyone (loopback or --insecure). */
  tokens: TokenVerifier | undefined;
  /** How long a socket without an Authorization header has to send its auth message (AUTH_TIMEOUT_MS). */
  authTimeoutMs: number;
}

/** The feed request as validated by the route's schema. */
export interface FeedRequest extends FeedResume {
  userId: string;
  includeData: boolean;
}

/**
 * The stream slot a socket holds: worker-wide only while it waits for its
 * auth message, then the user's. `release` is idempotent.
 */
class SocketSlot {
  constructor(private current: () => void) {}

  /** Trades the slot for the one `take` returns; holds none if `take` throws (over the caps). */
  trade(take: () => () => void): void {
    this.release();
    this.current = take();
  }

  readonly release = (): void => {
    const release = this.current;
    this.current = () => undefined;
    release();
  };
}

/** What the preHandler decided for an upgrade, for the wsHandler. */
interface Admitted {
  slot: SocketSlot;
  /** Known before the upgrade when the request was authenticated by its header (or needs no token). */
  start: FeedStart | undefined;
}

const admitted = new WeakMap<FastifyRequest, Admitted>();

/**
 * The route's preHandler for `Upgrade: websocket` (after the token hook and
 * the ownership check): everything that can be decided before the upgrade
 * is answered as plain HTTP problem+json. `?access_token=` is refused (URLs
 * get logged); with an authenticated header, a `since` beyond the latest
 * commit is 400 invalid_since (without one, that waits for the auth message:
 * the latest seq is the user's to know); over the stream caps, 429/503. The
 * socket then holds a stream slot, not a request slot, until it closes.
 */
export async function admitSocketFeed(ctx: SocketFeedContext, request: FastifyRequest, reply: FastifyReply, feed: FeedRequest): Promise<void> {
  if (!isWebSocketRequest(request)) return;
  if ((request.query as Record<string, unknown>)[ACCESS_TOKEN_PARAM] !== undefined) {
    throw new PinbaseError(
      'invalid_request',
      `?${ACCESS_TOKEN_PARAM}= is not accepted on a WebSocket (URLs get logged): send Authorization: Bearer <token>, or {"type":"auth","token":"<token>"} as the first message`,
    );
  }
  const authenticated = ctx.tokens === undefined || request.headers.authorization !== undefined;
  const start = authenticated ? await feedStart(ctx.store, feed.userId, feed) : undefined;
  // Throws too_many_streams / overloaded (with Retry-After) before the upgrade. A socket that has not
  // authenticated yet takes no slot of the user's: anyone could otherwise hold all of them.
  const slot = new SocketSlot(authenticated ? ctx.slots.streams.acquire(feed.userId) : ctx.slots.streams.acquireUnattributed());
  ctx.slots.requestSlots.leave(request);
  reply.raw.once('close', slot.release);
  admitted.set(request, { slot, start });
}

/** The route's wsHandler: serves the upgraded socket admitted by admitSocketFeed. */
export function serveSocketFeed(ctx: SocketFeedContext, socket: WebSocket, request: FastifyRequest, feed: FeedRequest): void {
  const admission = admitted.get(request);
  admitted.delete(request);
  if (admission === undefined) {
    closeSocket(socket, FEED_CLOSE.internalError, 'not admitted');
    return;
  }
  new SocketFeedSession(ctx, socket, request, feed, admission);
}

/** One WebSocket feed: the auth message (if the upgrade had no header), `ready`, then the ChangeFeed with WebSocket framing. */
class SocketFeedSession {
  private feed: ChangeFeed | undefined;
  private messages = 0;
  private authTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private unansweredPings = 0;

  constructor(
    private readonly ctx: SocketFeedContext,
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly params: FeedRequest,
    private readonly admission: Admitted,
  ) {
    socket.on('close', () => this.onClose());
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('pong', () => {
      this.unansweredPings = 0;
    });
    if (admission.start !== undefined) {
      this.begin(admission.start);
    } else {
      this.authTimer = setTimeout(
        () => this.fail(FEED_CLOSE.authTimeout, new PinbaseError('missing_token', `no {"type":"auth","token":"<token>"} message within ${ctx.authTimeoutMs} ms`)),
        ctx.authTimeoutMs,
      );
    }
  }

  /** The client may send one message: the auth message. Anything else closes the socket with 4400. */
  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (++this.messages > 1) {
      this.fail(FEED_CLOSE.badMessage, new PinbaseError('invalid_request', 'only one message may be sent: {"type":"auth","token":"<token>"}'));
      return;
    }
    const token = isBinary ? undefined : authToken(data);
    if (token === undefined) {
      this.fail(FEED_CLOSE.badMessage, new PinbaseError('invalid_request', 'the message is not {"type":"auth","token":"<token>"}'));
      return;
    }
    void this.authenticate(token);
  }

  private async authenticate(token: string): Promise<void> {
    const refusal = await this.check(token);
    if (this.closed) return;
    if (refusal !== undefined) {
      const code = refusal.status === 401 ? FEED_CLOSE.unauthorized : refusal.status === 403 ? FEED_CLOSE.forbidden : FEED_CLOSE.internalError;
      this.fail(code, refusal);
      return;
    }
    clearTimeout(this.authTimer);
    // Authenticated by the header already: the message is checked, and changes nothing.
    if (this.feed !== undefined) return;
    let start: FeedStart;
    try {
      start = await feedStart(this.ctx.store, this.params.userId, this.params);
      if (this.closed) return;
      this.admission.slot.trade(() => this.ctx.slots.streams.acquire(this.params.userId));
    } catch (error) {
      const problem = toPinbaseError(error, this.request);
      this.fail(problem.status === 400 ? FEED_CLOSE.badMessage : closeCodeOf(problem), problem);
      return;
    }
    this.begin(start);
  }

  /** The refusal of `token` for this user, if any (the same rules as a request's header). */
  private async check(token: string): Promise<PinbaseError | undefined> {
    if (this.ctx.tokens === undefined) return undefined;
    try {
      return authorize(await this.ctx.tokens.verify(token), this.params.userId, 'GET');
    } catch (error) {
      return toPinbaseError(error, this.request);
    }
  }

  private begin(start: FeedStart): void {
    void this.send(`{"type":"ready","seq":${start.seq}}`);
    this.feed = new ChangeFeed(
      {
        store: this.ctx.store,
        heartbeatMs: this.ctx.heartbeatMs,
        userId: this.params.userId,
        from: start.from,
        includeData: this.params.includeData,
        toProblem: (error) => toPinbaseError(error, this.request),
        onEnd: this.admission.slot.release,
      },
      this.framing(),
    );
    void this.feed.start();
  }

  private framing(): FeedFraming {
    return {
      commit: (seq, rows, cursor) => {
        const part = cursor === undefined ? '' : `,"partial":true,"cursor":"${cursor}"`;
        return this.send(`{"type":"change","seq":${seq},"changes":[${rows.join(',')}]${part}}`);
      },
      heartbeat: () => {
        // A peer that answered none of the last two pings is gone (or not reading at all).
        if (this.unansweredPings >= 2) {
          this.socket.terminate();
          return;
        }
        this.unansweredPings++;
        this.socket.ping();
      },
      finish: (end) => {
        if (end.kind === 'error') this.fail(closeCodeOf(end.error), end.error);
        else if (end.reason === 'shutdown') closeSocket(this.socket, FEED_CLOSE.shuttingDown, 'worker shutting down');
        else closeSocket(this.socket, FEED_CLOSE.partitionMoved, end.reason === 'erased' ? 'user erased' : 'partition moved');
      },
    };
  }

  /** Sends `text`; a promise that resolves once it is written out when the socket's buffer is above SOCKET_BUFFER_BYTES. */
  private send(text: string): Promise<void> | undefined {
    if (this.socket.readyState !== this.socket.OPEN) return undefined;
    let written: (() => void) | undefined;
    this.socket.send(text, () => written?.());
    if (this.socket.bufferedAmount <= SOCKET_BUFFER_BYTES) return undefined;
    return new Promise((resolve) => (written = resolve));
  }

  /** Sends the error message, then closes with `code`. */
  private fail(code: number, problem: PinbaseError): void {
    if (this.closed) return;
    const { type: _type, ...document } = problemDocument(problem.code, problem.detail);
    void this.send(JSON.stringify({ type: 'error', ...document }));
    closeSocket(this.socket, code, problem.code);
    this.stop();
  }

  private onClose(): void {
    this.stop();
  }

  /** Nothing more is sent: the feed (if running) stops reading, the stream slot is released. */
  private stop(): void {
    this.closed = true;
    clearTimeout(this.authTimer);
    this.admission.slot.release();
    this.feed?.end({ kind: 'client' });
  }
}

/** The close code of an error that ends a running feed: the partition moved, or a failure on the worker. */
function closeCodeOf(problem: PinbaseError): number {
  switch (problem.code) {
    case 'partition_lost':
    case 'partition_busy':
    case 'misdirected_request':
      return FEED_CLOSE.partitionMoved;
    case 'too_many_streams':
    case 'overloaded':
      return FEED_CLOSE.tryAgainLater;
    default:
      return FEED_CLOSE.internalError;
  }
}

/** The token of an auth message, or undefined when `data` is not one. */
function authToken(data: RawData): string | undefined {
  // Text messages arrive as one Buffer (binaryType nodebuffer).
  if (!Buffer.isBuffer(data)) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null) return undefined;
  const { type, token } = message as Partial<FeedAuthMessage>;
  return type === 'auth' && typeof token === 'string' && token !== '' ? token : undefined;
}
