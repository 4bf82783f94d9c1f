/**
 * The forwarding module: one ProxyExchange per client request, which is
 * also the undici dispatch handler of each attempt (the callback API undici
 * runs natively, so no per-request adapter or header parsing is added).
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
 * Responses (SSE included) are streamed with back-pressure, never buffered;
 * an SSE response has no idle timeout and stops counting as in flight once
 * its headers arrived.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ErrorCode } from '../services/problem/error-table.js';
import { clientResponseHeaders, upstreamRequestHeaders, type RequestFacts, type ResponseFacts } from './forward-headers.js';
import { replyProblem } from './problem-reply.js';
import type { RetryReason, RouterErrorKind } from './router-metrics.js';
import type { RouteTable, WorkerRoute } from './route-table.js';

/** What an exchange needs from the data path that created it. */
export interface ExchangeHost {
  readonly table: RouteTable;
  readonly maxAttempts: number;
  readonly bodyTimeoutMs: number;
  /** Called once per exchange when it no longer counts against the user's in-flight limit. */
  releaseUser(userId: string): void;
  reportRefused(route: WorkerRoute, reason: string): void;
  reportBroken(route: WorkerRoute): void;
  /** Re-reads the topology (after a 421); resolves when the table reflects the file. */
  refreshTopology(): Promise<void>;
  countError(kind: RouterErrorKind): void;
  countRetry(reason: RetryReason): void;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** Methods that change nothing: a broken attempt of one cannot have applied anything. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Answers whose contract is "nothing was applied". */
const REFUSALS = new Set([421, 429, 503]);
const NOTHING_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const POOL_GONE = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

export class ProxyExchange implements RequestFacts, ResponseFacts, Dispatcher.DispatchHandler {
  contentLength = -1;
  chunked = false;
  hasIdempotencyKey = false;
  wantsEventStream = false;
  isEventStream = false;
  body: Buffer | null = null;
  private readonly headers: string[];
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
  private userReleased = false;
  private clientGone = false;
  private startedAt = 0;
  private abortUpstream: ((error?: Error) => void) | undefined;

  constructor(
    private readonly host: ExchangeHost,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    /** '' for a worker-local path that is not a user's (no per-user limit). */
    readonly userId: string,
    private route: WorkerRoute,
  ) {
    this.headers = upstreamRequestHeaders(req.rawHeaders, req.socket.remoteAddress ?? '', this);
    (res as ExchangeResponse)[EXCHANGE] = this;
    res.on('close', onResponseClose);
  }

  /** The client went away before its response was complete: stop the upstream request. */
  clientClosed(): void {
    this.clientGone = true;
    this.host.countError('client_aborted');
    this.abortUpstream?.();
    this.releaseUser();
  }

  get mayResend(): boolean {
    return this.hasIdempotencyKey || IDEMPOTENT_METHODS.has(this.req.method!);
  }

  /** Sends the request to the current route. */
  send(): void {
    if (this.clientGone) return;
    const route = this.route;
    const down = this.excluded === undefined ? this.host.table.downHeader : this.host.table.downHeaderExcluding(this.excluded);
    route.inFlight++;
    this.attempts++;
    this.abortUpstream = undefined;
    this.discard = undefined;
    this.startedAt = performance.now();
    route.pool.dispatch(
      {
        path: this.req.url!,
        method: this.req.method!,
        headers: down === undefined ? this.headers : [...this.headers, 'x-pinbase-down', down],
        body: this.body,
        bodyTimeout: this.wantsEventStream ? 0 : this.host.bodyTimeoutMs,
      },
      this,
    );
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
    res.writeHead(statusCode, clientResponseHeaders(rawHeaders, this));
    if (this.isEventStream) {
      res.flushHeaders();
      this.settleAttempt();
      this.releaseUser();
    }
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
      this.releaseUser();
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
        this.fail(
          'topology_changing',
          `worker ${this.route.id} does not own this user under a newer topology than this router has read yet; nothing was applied`,
          'misdirected',
        );
        return;
      case 'misdirected': {
        this.misdirectedRetried = true;
        this.host.countError('misdirected');
        const retry = () => this.retry('misdirected', this.host.table.owner(this.userId));
        this.host.refreshTopology().then(retry, retry);
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
      this.host.countError('connection');
      this.host.reportBroken(this.route);
      this.endDiscarded(this.discard);
      return;
    }
    if (this.res.headersSent) {
      this.host.countError('connection');
      this.res.destroy();
      this.releaseUser();
      return;
    }
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (NOTHING_SENT.has(code)) this.refused(code);
    else if (POOL_GONE.has(code)) this.retry('refused', this.host.table.owner(this.userId));
    else if (code === 'UND_ERR_INVALID_ARG') this.fail('invalid_header', error.message, 'invalid_header');
    else if (code === 'UND_ERR_HEADERS_TIMEOUT') this.fail('upstream_timeout', `worker ${this.route.id} did not answer in time`, 'timeout');
    else this.broken(code || error.message);
  }

  /** Nothing was sent: the worker is down for this request and reported; try the next-ranked one. */
  private refused(code: string): void {
    const route = this.route;
    this.host.countError('refused');
    this.host.reportRefused(route, code);
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
    this.host.countError('connection');
    this.host.reportBroken(this.route);
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
    if (this.attempts >= this.host.maxAttempts) {
      if (reason === 'connection' || this.maybeApplied) this.failUnknown('retries exhausted');
      else this.fail('no_worker_available', 'no worker accepted the request; retries exhausted', 'no_worker');
      return;
    }
    this.host.countRetry(reason);
    this.route = next;
    this.send();
  }

  /** Refuses the request before it was sent (e.g. its body is too large); `close` drops the connection. */
  refuse(code: ErrorCode, detail: string, kind: RouterErrorKind, close: boolean): void {
    this.host.countError(kind);
    replyProblem(this.res, code, detail, close);
    this.releaseUser();
  }

  /** Answers with the router's own problem; `kind` is counted unless the cause already was. */
  private fail(code: ErrorCode, detail: string, kind?: RouterErrorKind): void {
    if (kind !== undefined) this.host.countError(kind);
    replyProblem(this.res, code, detail);
    this.releaseUser();
  }

  /** A write that may have been applied by an earlier attempt could not be confirmed. */
  private failUnknown(why: string, kind?: RouterErrorKind): void {
    this.fail(
      'upstream_failed',
      `an earlier attempt reached a worker and its connection broke, so the write may or may not have been applied; ${why}. Retry with the same Idempotency-Key to learn the outcome.`,
      kind,
    );
  }

  /** Ends this attempt's claim on its worker's in-flight count (once per attempt). */
  private settleAttempt(): void {
    if (this.startedAt === 0) return;
    this.startedAt = 0;
    this.route.inFlight--;
  }

  private releaseUser(): void {
    if (this.userReleased) return;
    this.userReleased = true;
    if (this.userId !== '') this.host.releaseUser(this.userId);
  }
}

type DiscardReason = 'misdirected' | 'outcome_unknown' | 'topology_behind';

function noop(): void {}

const EXCHANGE = Symbol('pinbase.exchange');
type ExchangeResponse = ServerResponse & { [EXCHANGE]?: ProxyExchange };

/** One shared 'close' listener (no closure per request): the exchange hangs off the response. */
function onResponseClose(this: ExchangeResponse): void {
  if (!this.writableFinished) this[EXCHANGE]?.clientClosed();
}
