/**
 * The forwarding module: one ProxyExchange per admitted client request. It
 * owns the request from admission on: it filters its headers, reads its
 * body into memory (bounded by the body limit, so a refused connection or a
 * 421 can re-send it) or refuses it with 413, and is the undici dispatch
 * handler of each attempt (the callback API undici runs natively, so no
 * per-request adapter or header parsing is added).
 *
 * Retry policy, where the request may have reached a worker only if the
 * method or an Idempotency-Key makes re-sending safe:
 * - connection refused / connect timeout (nothing was sent): the worker is
 *   reported down and the request goes to the user's next-ranked worker;
 * - connection broke after sending: re-sent only if idempotent, else 502;
 *   after a second break on the same worker, to the next-ranked one;
 * - 421 from a worker: re-resolved and re-sent once (the worker refused it
 *   before doing anything); a second 421 means the worker already has a
 *   newer topology than this router's file: 503 topology_changing (nothing
 *   was applied; Retry-After), never the 421 itself; the status line
 *   decides, so a 421 whose body breaks off is still a 421;
 * - headers timeout: 504, never re-sent (the worker may still be working).
 * Once an attempt may have reached a worker, a later refusal (a worker's
 * 503/429/421, or no worker left) is not passed on as such: those codes mean
 * "nothing was applied", which is no longer known. The client gets
 * 502 upstream_failed (outcome unknown) instead; a retry with the same
 * Idempotency-Key tells.
 * Bodies that the router would not get to re-send anyway are streamed
 * instead of buffered (streamed-body.ts): a body over
 * STREAM_BODY_ABOVE_BYTES (known from Content-Length, or once a chunked one
 * has grown past it), and every tenant import (`POST
 * /api/users/<id>/_import`, up to maxImportBytes, with importTimeoutMs for
 * the worker's answer). Back-pressure is kept: the client is read only as
 * fast as the worker takes it. The limit is counted as the body streams
 * (413 beyond: the upstream request is aborted, so the worker applies
 * nothing). A streamed request keeps the retries that need nothing of its
 * body back: a refused connection (nothing was sent, nothing read beyond
 * the held prefix) goes to the next-ranked worker; once the worker has
 * taken bytes the router no longer holds, there is no re-send: a 421 is
 * 503 topology_changing (nothing was applied; the topology is re-read for
 * the client's retry), a broken connection 502 upstream_failed.
 * Responses (SSE included) are streamed with back-pressure, never buffered.
 * A request that asks for an event stream (Accept: text/event-stream) is a
 * stream: it counts against the stream caps, not the request slots, from
 * admission until its response ends (no idle timeout); any other request
 * holds a request slot until its response ends, an unexpected event stream
 * included. Nothing escapes the accounting once its headers are sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { DOWN_HEADER, HINT_HEADER, type HintSigner } from '../services/auth/hint-signature.js';
import type { ErrorCode } from '../services/problem/error-table.js';
import { clientKey } from './client-address.js';
import { clientResponseHeaders, upstreamRequestHeaders, type RequestFacts, type ResponseFacts } from './forward-headers.js';
import { replyProblem } from './problem-reply.js';
import { isImportTarget } from './request-target.js';
import type { RetryReason, RouterErrorKind, RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import type { RouterControl } from './router-state.js';
import type { RouteTable, WorkerRoute } from './route-table.js';
import { StreamedBody } from './streamed-body.js';

/** What an exchange needs from the data path that created it. */
export interface ExchangeHost {
  /** The route table in use now. */
  readonly table: RouteTable;
  readonly options: Pick<RouterOptions, 'bodyLimitBytes' | 'bodyTimeoutMs' | 'maxAttempts' | 'maxImportBytes' | 'importTimeoutMs' | 'corsOrigins'>;
  /**
   * Passive health reports, and the topology re-read after a 421 (it
   * resolves when the table reflects the file).
   */
  readonly control: Pick<RouterControl, 'reportRefused' | 'reportBroken' | 'refreshTopology'>;
  readonly metrics: Pick<RouterMetrics, 'errors' | 'retries'>;
  /** Signs X-Pinbase-Down for the workers (undefined without a cluster secret: the hint goes unsigned). */
  readonly hintSigner: HintSigner | undefined;
  /** Called once per started exchange when it is over: its per-user (and per-client, for a stream) count ends. */
  release(exchange: ProxyExchange): void;
}

/**
 * A body longer than this is streamed to the worker rather than read whole
 * first: the router then holds at most this much of one request's body
 * (plus socket buffers), and small bodies keep every retry.
 */
export const STREAM_BODY_ABOVE_BYTES = 64 * 1024;
/** How much of an oversize body the router reads and drops before answering 413, as a multiple of the limit. */
const OVERSIZE_DRAIN_FACTOR = 4;
/** How long the router waits for the rest of an oversize body before answering 413 anyway. */
const OVERSIZE_DRAIN_MS = 2000;

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Methods that change nothing: a broken attempt of one cannot have applied anything. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Answers whose contract is "nothing was applied". */
const REFUSALS = new Set([421, 429, 503]);
const NOTHING_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const POOL_GONE = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

/**
 * What the header filters note about one message. The filters run
 * synchronously and the exchange copies what it keeps at once, so one of
 * each serves every exchange (no object per request).
 */
const requestFacts: RequestFacts = { contentLength: -1, chunked: false, hasIdempotencyKey: false, wantsEventStream: false, hosts: 0 };
const responseFacts: ResponseFacts = { isEventStream: false };

export class ProxyExchange implements Dispatcher.DispatchHandler {
  /** The headers to send upstream (hop-by-hop and client X-Pinbase-* dropped). */
  private readonly headers: string[];
  /** Content-Length, or -1 when absent. */
  private readonly contentLength: number;
  /** Transfer-Encoding was sent: a body of unknown length follows. */
  private readonly chunked: boolean;
  private readonly hasIdempotencyKey: boolean;
  /** The client asked for text/event-stream: a stream (no idle timeout upstream; counted as a stream). */
  readonly isStream: boolean;
  /** How many Host headers the request has. */
  readonly hostCount: number;
  /** A stream's client, as the per-client stream cap counts it ('' for a request that is not a stream). */
  readonly clientKey: string;
  /** The request body once read (null: none, or not yet whole). */
  private body: Buffer | null = null;
  /** A tenant import: its body always streams, under maxImportBytes and importTimeoutMs. */
  private readonly isImport: boolean;
  /** The body, when it streams to the worker (see the module comment) instead of being read first. */
  private streamed: StreamedBody | undefined;
  private attempts = 0;
  private excluded: WorkerRoute[] | undefined;
  private misdirectedRetried = false;
  /** An earlier attempt of this request broke after it was sent: it may have been applied. */
  private maybeApplied = false;
  /** The worker whose connection broke under the previous attempt, if it did. */
  private brokenRoute: WorkerRoute | undefined;
  /**
   * Why the current attempt's response is read and dropped instead of
   * forwarded, and what to do once it has been read:
   * - `misdirected`: a first 421; re-resolve and re-send;
   * - `outcome_unknown`: refused after an earlier attempt may have been
   *   applied; answer 502 upstream_failed;
   * - `topology_behind`: a second 421; answer 503 topology_changing.
   * Belongs to one attempt: cleared when the next one is sent.
   */
  private discard: DiscardReason | undefined;
  private released = false;
  private clientGone = false;
  private startedAt = 0;
  private abortUpstream: ((error?: Error) => void) | undefined;

  /**
   * Takes charge of an admitted request for `userId` ('' for a worker-local
   * path that is not a user's: no per-user limit) on `route`, its owner now.
   * Nothing is read or sent before start().
   */
  constructor(
    private readonly host: ExchangeHost,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    readonly userId: string,
    private route: WorkerRoute,
  ) {
    this.headers = upstreamRequestHeaders(req.rawHeaders, req.socket.remoteAddress ?? '', requestFacts);
    this.contentLength = requestFacts.contentLength;
    this.chunked = requestFacts.chunked;
    this.hasIdempotencyKey = requestFacts.hasIdempotencyKey;
    this.isStream = requestFacts.wantsEventStream;
    this.hostCount = requestFacts.hosts;
    this.clientKey = this.isStream ? clientKey(req.socket.remoteAddress) : '';
    this.isImport = userId !== '' && req.method === 'POST' && isImportTarget(req.url!, userId.length);
  }

  /** The worker the request is for now. */
  get worker(): WorkerRoute {
    return this.route;
  }

  /**
   * Reads the request body, if any, and sends the request; a body over the
   * limit is answered 413 instead (and nothing is sent). A body over
   * STREAM_BODY_ABOVE_BYTES, and an import's, is streamed instead of read
   * first. Called once, after admission; from then on the exchange calls
   * `host.release()` once.
   */
  start(): void {
    (this.res as ExchangeResponse)[EXCHANGE] = this;
    this.res.on('close', onResponseClose);
    const limit = this.bodyLimit;
    if (this.contentLength > limit) {
      this.refuseOversizeBody(0);
      return;
    }
    if (this.contentLength <= 0 && !this.chunked) {
      this.send();
      return;
    }
    if (this.isImport || this.contentLength > STREAM_BODY_ABOVE_BYTES) {
      this.streamBody([], 0);
      return;
    }
    const req = this.req;
    // With a Content-Length the last byte is known: send at once rather than
    // one stream 'end' event later.
    const length = !this.chunked && Number.isSafeInteger(this.contentLength) ? this.contentLength : -1;
    let size = 0;
    let parts: Buffer[] | undefined;
    let reading = true;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit || size > STREAM_BODY_ABOVE_BYTES) {
        reading = false;
        req.off('data', onData);
        const prefix = parts ?? (this.body === null ? [] : [this.body]);
        this.body = null;
        parts = undefined;
        if (size > limit) {
          this.refuseOversizeBody(size);
        } else {
          // A chunked body grew past the threshold: stream it from here, what was read first included.
          req.pause();
          prefix.push(chunk);
          this.streamBody(prefix, size);
        }
        return;
      }
      if (this.body === null) this.body = chunk;
      else (parts ??= [this.body]).push(chunk);
      if (size === length) this.sendBody(parts, size);
    };
    req.on('data', onData);
    if (length < 0) {
      req.once('end', () => {
        if (reading) this.sendBody(parts, size);
      });
    }
  }

  /** The body limit of this request: an import's, or any other's. */
  private get bodyLimit(): number {
    return this.isImport ? this.host.options.maxImportBytes : this.host.options.bodyLimitBytes;
  }

  /**
   * Sends the request with its body streamed from the client after
   * `prefix` (`size` bytes, already read). Memory: the prefix (at most
   * STREAM_BODY_ABOVE_BYTES) and the chunks in flight in the two sockets'
   * buffers, whatever the body's size. Such a request is never re-sent
   * after a 421: the worker has taken part of the body.
   */
  private streamBody(prefix: Buffer[], size: number): void {
    this.streamed = new StreamedBody(this.req, prefix, size, this.bodyLimit);
    this.misdirectedRetried = true;
    this.send();
  }

  /** Sends the request once its body was read: in `body` if it came in one piece, else in `parts`. */
  private sendBody(parts: Buffer[] | undefined, size: number): void {
    if (parts !== undefined) this.body = Buffer.concat(parts, size);
    else this.body ??= Buffer.alloc(0);
    this.send();
  }

  /** Answers 413 to a body over the limit (body_too_large, or import_too_large for an import); see failAfterBody. */
  private refuseOversizeBody(alreadyRead: number): void {
    const limit = this.bodyLimit;
    const code = this.isImport ? 'import_too_large' : 'body_too_large';
    const detail = this.isImport ? `imports are limited to ${limit} bytes` : `the body limit is ${limit} bytes`;
    this.failAfterBody(code, detail, 'body_too_large', alreadyRead);
  }

  /**
   * Answers with the router's own problem once the client has sent its
   * body, reading and dropping what it still sends (up to
   * OVERSIZE_DRAIN_FACTOR × the body limit in all, or OVERSIZE_DRAIN_MS).
   * Answering while the client is still sending, then closing, would leave
   * unread bytes behind, and the kernel would reset the connection: the
   * client would see a broken pipe instead of the answer (RFC 9112 §9.6).
   * If the body was read to its end the connection stays open; otherwise it
   * is closed after the answer.
   */
  private failAfterBody(code: ErrorCode, detail: string, kind: RouterErrorKind, alreadyRead: number): void {
    this.afterBody(alreadyRead, (complete) => this.fail(code, detail, kind, !complete));
  }

  /**
   * Reads and drops the rest of the client's body (up to
   * OVERSIZE_DRAIN_FACTOR × the body limit in all, counting `alreadyRead`,
   * or OVERSIZE_DRAIN_MS), then calls `then` once, with whether the body was
   * read to its end.
   */
  private afterBody(alreadyRead: number, then: (complete: boolean) => void): void {
    const req = this.req;
    if (req.complete) {
      req.resume();
      then(true);
      return;
    }
    const limit = this.bodyLimit;
    let read = alreadyRead;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      then(req.complete);
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > limit * OVERSIZE_DRAIN_FACTOR) finish();
    };
    const timer = setTimeout(finish, OVERSIZE_DRAIN_MS);
    req.on('data', onData);
    req.once('end', finish);
    req.once('close', finish);
    req.resume();
  }

  /**
   * The response closed. If the exchange had not finished it, the client
   * went away (`finished` false) or the server answered for the exchange (a
   * request timeout, `finished` true): stop the upstream request and release.
   */
  responseClosed(finished: boolean): void {
    if (this.released) return;
    this.clientGone = true;
    // A client that ends its connection in the middle of its body gets a 400
    // from the server (clientErrorHandler), so its response looks finished;
    // only a 408 is the server answering for a client that is still there.
    if (!finished || (!this.req.complete && this.res.statusCode !== 408)) this.countError('client_aborted');
    this.abortUpstream?.();
    this.release();
  }

  /** Whether a request that may have reached a worker may be sent again: idempotent, and its whole body still held. */
  private get mayResend(): boolean {
    return (this.hasIdempotencyKey || IDEMPOTENT_METHODS.has(this.req.method!)) && (this.streamed === undefined || this.streamed.resendable);
  }

  /**
   * Sends the request to the current route, with the down list (signed,
   * with a new nonce per attempt, when the router has a cluster secret)
   * when some worker is down: no extra work otherwise.
   */
  private send(): void {
    if (this.clientGone) return;
    const route = this.route;
    const down = this.excluded === undefined ? this.host.table.downHeader : this.host.table.downHeaderExcluding(this.excluded);
    if (this.isStream) route.streams++;
    else route.inFlight++;
    this.attempts++;
    this.abortUpstream = undefined;
    this.discard = undefined;
    this.startedAt = performance.now();
    route.pool.dispatch(
      {
        path: this.req.url!,
        method: this.req.method!,
        headers: down === undefined ? this.headers : this.withDownList(down),
        body: this.streamed === undefined ? this.body : this.streamed.open(),
        bodyTimeout: this.isStream ? 0 : this.host.options.bodyTimeoutMs,
        // An import's upload counts in the wait for its answer (undici starts that clock when it sends).
        ...(this.isImport ? { headersTimeout: this.host.options.importTimeoutMs } : {}),
      },
      this,
    );
  }

  private withDownList(down: string): string[] {
    const signer = this.host.hintSigner;
    if (signer === undefined) return [...this.headers, DOWN_HEADER, down];
    return [...this.headers, DOWN_HEADER, down, HINT_HEADER, signer.sign(this.req.method!, this.req.url!, down)];
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    const route = this.route;
    route.latency.observe((performance.now() - this.startedAt) / 1000);
    if (statusCode === 421 && !this.misdirectedRetried) {
      this.discard = 'misdirected';
      return true;
    }
    if (this.maybeApplied && REFUSALS.has(statusCode)) {
      this.discard = 'outcome_unknown';
      return true;
    }
    if (statusCode === 421) {
      this.discard = 'topology_behind';
      return true;
    }
    route.requests++;
    route.responsesByClass[(statusCode / 100) | 0]!++;
    const res = this.res;
    res.sendDate = false;
    const headers = clientResponseHeaders(rawHeaders, responseFacts);
    res.writeHead(statusCode, headers);
    if (responseFacts.isEventStream) res.flushHeaders();
    this.resumeUpstream = resume;
    return true;
  }

  private resumeUpstream: () => void = noop;
  private readonly onDrain = (): void => this.resumeUpstream();

  onData(chunk: Buffer): boolean {
    if (this.discard !== undefined) return true;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.onDrain);
    return false;
  }

  onComplete(): void {
    this.settleAttempt();
    if (this.discard === undefined) {
      this.res.end();
      // The worker answered before the streamed body ended (an early 401 or 413): the rest is dropped, so that
      // the connection can serve the client's next request; if it does not end in time, the connection is closed.
      if (this.streamed !== undefined && !this.req.complete) this.afterBody(this.streamed.bytes, closeUnlessComplete.bind(this.req));
      this.release();
      return;
    }
    this.endDiscarded(this.discard);
  }

  /** The dropped response of the current attempt ended (whole, or broken off: its status already said all). */
  private endDiscarded(reason: DiscardReason): void {
    switch (reason) {
      case 'outcome_unknown':
        this.failUnknown(`worker ${this.route.id} refused the retry`);
        return;
      case 'topology_behind':
        if (this.streamed !== undefined) {
          // A streamed body is not re-sent; the topology is re-read so that the client's retry goes right.
          this.host.control.refreshTopology().catch(noop);
          this.failAfterBody(
            'topology_changing',
            `worker ${this.route.id} does not own this user under a newer topology than this router had read, and a streamed body is not re-sent; nothing was applied, retry`,
            'misdirected',
            this.streamed.bytes,
          );
          return;
        }
        this.fail(
          'topology_changing',
          `worker ${this.route.id} does not own this user under a newer topology than this router has read yet; nothing was applied`,
          'misdirected',
        );
        return;
      case 'misdirected': {
        this.misdirectedRetried = true;
        this.countError('misdirected');
        const retry = () => this.retry('misdirected', this.host.table.owner(this.userId));
        this.host.control.refreshTopology().then(retry, retry);
        return;
      }
    }
  }

  onError(error: Error): void {
    this.settleAttempt();
    if (this.clientGone) return;
    if (this.discard !== undefined) {
      // The status line was a refusal ("nothing was applied"); only its body
      // broke off. Act on the refusal, not on a broken write.
      this.countError('connection');
      this.host.control.reportBroken(this.route.id);
      this.endDiscarded(this.discard);
      return;
    }
    if (this.res.headersSent) {
      this.countError('connection');
      this.res.destroy();
      this.release();
      return;
    }
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const streamed = this.streamed;
    if (streamed !== undefined) {
      if (streamed.clientFailed) {
        // The client broke off its body: the upstream request is aborted with it.
        this.responseClosed(false);
        return;
      }
      if (streamed.overLimit) {
        this.refuseOversizeBody(streamed.bytes);
        return;
      }
      if (!streamed.resendable) {
        this.streamedFailed(code, error, streamed);
        return;
      }
    }
    if (NOTHING_SENT.has(code)) this.refused(code);
    else if (POOL_GONE.has(code)) this.retry('refused', this.host.table.owner(this.userId));
    else if (code === 'UND_ERR_INVALID_ARG') this.fail('invalid_header', error.message, 'invalid_header');
    else if (code === 'UND_ERR_HEADERS_TIMEOUT') this.fail('upstream_timeout', `worker ${this.route.id} did not answer in time`, 'timeout');
    else this.broken(code || error.message);
  }

  /**
   * A streamed request failed before its answer after the worker took
   * bytes the router no longer holds: never re-sent, answered once the
   * client has sent its body (see failAfterBody).
   */
  private streamedFailed(code: string, error: Error, streamed: StreamedBody): void {
    const what = this.isImport ? 'the import' : 'the request';
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      this.failAfterBody('upstream_timeout', `worker ${this.route.id} did not answer ${what} in time`, 'timeout', streamed.bytes);
      return;
    }
    this.host.control.reportBroken(this.route.id);
    this.failAfterBody(
      'upstream_failed',
      `${what} to worker ${this.route.id} broke off while its body was streamed (${code || error.message}); it may or may not have been applied, and a streamed body is not re-sent: retry it`,
      'connection',
      streamed.bytes,
    );
  }

  /** Nothing was sent: the worker is down for this request and reported; try the next-ranked one. */
  private refused(code: string): void {
    const route = this.route;
    this.countError('refused');
    this.host.control.reportRefused(route.id, `connection refused (${code})`);
    (this.excluded ??= []).push(route);
    const next = this.host.table.ownerExcluding(this.userId, this.excluded);
    this.retry('refused', next);
  }

  /**
   * The connection broke after the request may have been sent. The first
   * retry goes to the same worker (the break may have been one stale
   * keep-alive connection); a second break there excludes it for this
   * request, as a dead worker's pooled connections would otherwise use up
   * every attempt before the probes mark it down.
   */
  private broken(code: string): void {
    this.countError('connection');
    this.host.control.reportBroken(this.route.id);
    if (!this.mayResend) {
      this.fail('upstream_failed', `the connection to worker ${this.route.id} failed (${code}); the request may or may not have been applied`);
      return;
    }
    if (!READ_METHODS.has(this.req.method!)) this.maybeApplied = true;
    if (this.brokenRoute === this.route) (this.excluded ??= []).push(this.route);
    this.brokenRoute = this.route;
    this.retry('connection', this.excluded === undefined ? this.host.table.owner(this.userId) : this.host.table.ownerExcluding(this.userId, this.excluded));
  }

  private retry(reason: RetryReason, next: WorkerRoute | undefined): void {
    if (next === undefined) {
      if (this.maybeApplied) this.failUnknown('no live worker is left to retry it', 'no_worker');
      else this.fail('no_worker_available', 'no live worker can serve this user now', 'no_worker');
      return;
    }
    if (this.attempts >= this.host.options.maxAttempts) {
      if (reason === 'connection' || this.maybeApplied) this.failUnknown('retries exhausted');
      else this.fail('no_worker_available', 'no worker accepted the request; retries exhausted', 'no_worker');
      return;
    }
    this.host.metrics.retries.inc({ reason });
    this.route = next;
    this.send();
  }

  /**
   * Answers with the router's own problem; `kind` is counted unless the
   * cause already was; `close` drops the connection after the answer.
   */
  private fail(code: ErrorCode, detail: string, kind?: RouterErrorKind, close = false): void {
    if (kind !== undefined) this.countError(kind);
    replyProblem(this.res, code, detail, close, this.host.options.corsOrigins);
    this.release();
  }

  private countError(kind: RouterErrorKind): void {
    this.host.metrics.errors.inc({ kind });
  }

  /** A write that may have been applied by an earlier attempt could not be confirmed. */
  private failUnknown(why: string, kind?: RouterErrorKind): void {
    this.fail(
      'upstream_failed',
      `an earlier attempt reached a worker and its connection broke, so the write may or may not have been applied; ${why}. Retry with the same Idempotency-Key to learn the outcome.`,
      kind,
    );
  }

  /** Ends this attempt's claim on its worker's in-flight (or stream) count (once per attempt). */
  private settleAttempt(): void {
    if (this.startedAt === 0) return;
    this.startedAt = 0;
    if (this.isStream) this.route.streams--;
    else this.route.inFlight--;
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.host.release(this);
  }
}

type DiscardReason = 'misdirected' | 'outcome_unknown' | 'topology_behind';

function noop(): void {}

function closeUnlessComplete(this: IncomingMessage, complete: boolean): void {
  if (!complete) this.socket.destroySoon();
}

const EXCHANGE = Symbol('pinbase.exchange');
type ExchangeResponse = ServerResponse & { [EXCHANGE]?: ProxyExchange };

/** One shared 'close' listener (no closure per request): the exchange hangs off the response. */
function onResponseClose(this: ExchangeResponse): void {
  this[EXCHANGE]?.responseClosed(this.writableFinished);
}
