/**
 * The data path: admission of `/api/users/<id>/...` requests (path checks,
 * owner lookup, back-pressure, body limit) before ProxyExchange forwards
 * them. Back-pressure never queues: past the per-worker limit the answer is
 * 503 `overloaded`, past the per-user limit 429 `too_many_requests`, both
 * with Retry-After. Request bodies are read into memory (bounded by the body
 * limit) so a refused connection or a 421 can re-send them; responses
 * stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../services/problem/error-table.js';
import { ProxyExchange, type ExchangeHost } from './proxy-exchange.js';
import { replyProblem } from './problem-reply.js';
import { USER_PATH_PREFIX, userIdOf } from './request-target.js';
import type { RetryReason, RouterErrorKind, RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import type { RouterControl } from './router-state.js';
import type { RouteTable, WorkerRoute, WorkerRoutes } from './route-table.js';
import { SeenUsers } from './seen-users.js';
import type { ProcessStats } from './status-report.js';

/** How much of an oversize body the router reads and drops before answering 413, as a multiple of the limit. */
const OVERSIZE_DRAIN_FACTOR = 4;
/** How long the router waits for the rest of an oversize body before answering 413 anyway. */
const OVERSIZE_DRAIN_MS = 2000;

/**
 * Answers 413 to a request whose body is over `limit`, after reading and
 * dropping what the client still sends (up to OVERSIZE_DRAIN_FACTOR × the
 * limit in all, or OVERSIZE_DRAIN_MS). Answering while the client is still
 * sending, then closing, would leave unread bytes behind, and the kernel
 * would reset the connection: the client would see a broken pipe instead of
 * the 413 (RFC 9112 §9.6). If the body was read to its end the connection
 * stays open; otherwise it is closed after the answer.
 */
function refuseOversizeBody(req: IncomingMessage, exchange: ProxyExchange, limit: number, alreadyRead: number): void {
  let read = alreadyRead;
  let answered = false;
  const answer = () => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    req.off('data', onData);
    exchange.refuse('body_too_large', `the body limit is ${limit} bytes`, 'body_too_large', !req.complete);
  };
  const onData = (chunk: Buffer) => {
    read += chunk.length;
    if (read > limit * OVERSIZE_DRAIN_FACTOR) answer();
  };
  const timer = setTimeout(answer, OVERSIZE_DRAIN_MS);
  req.on('data', onData);
  req.once('end', answer);
  req.once('close', answer);
  req.resume();
}

export class DataPath implements ExchangeHost {
  table: RouteTable;
  readonly maxAttempts: number;
  readonly bodyTimeoutMs: number;
  readonly seenUsers: SeenUsers;
  private readonly userInFlight = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly options: RouterOptions,
    private readonly routes: WorkerRoutes,
    private readonly control: RouterControl,
    private readonly metrics: RouterMetrics,
  ) {
    this.maxAttempts = options.maxAttempts;
    this.bodyTimeoutMs = options.bodyTimeoutMs;
    this.seenUsers = new SeenUsers(options.trackedUsers);
    this.table = routes.tableFor(control.state);
    this.unsubscribe = control.subscribe((state) => {
      this.table = routes.tableFor(state);
    });
    metrics.inFlightReader = () => this.table.routes.map((route) => [route.id, route.inFlight]);
    metrics.responsesReader = () => [...routes.all()].map((route) => [route.id, route.responsesByClass]);
  }

  /** Forwards the request if it belongs to the data path; returns false for anything else (admin paths). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    if (url.startsWith(USER_PATH_PREFIX)) {
      this.forwardUserRequest(req, res, url);
      return true;
    }
    if (url === '/docs' || url.startsWith('/docs/') || url.startsWith('/docs?')) {
      const route = this.table.anyRoutable();
      if (route === undefined) this.refuse(res, 'no_worker', 'no_worker_available', 'no live worker');
      else this.start(new ProxyExchange(this, req, res, '', route), req);
      return true;
    }
    return false;
  }

  /** This process's counters, for /_router/status. */
  stats(): ProcessStats {
    const workers = [...this.routes.all()].map((route) => ({ id: route.id, inFlight: route.inFlight, requests: route.requests }));
    return { pid: process.pid, workers, users: this.seenUsers.list() };
  }

  /** Requests being answered now, SSE streams not counted. */
  inFlight(): number {
    let total = 0;
    for (const route of this.routes.all()) total += route.inFlight;
    return total;
  }

  releaseUser(userId: string): void {
    const count = this.userInFlight.get(userId) ?? 0;
    if (count <= 1) this.userInFlight.delete(userId);
    else this.userInFlight.set(userId, count - 1);
  }

  reportRefused(route: WorkerRoute, reason: string): void {
    this.control.reportRefused(route.id, `connection refused (${reason})`);
  }

  reportBroken(route: WorkerRoute): void {
    this.control.reportBroken(route.id);
  }

  refreshTopology(): Promise<void> {
    return this.control.refreshTopology();
  }

  countError(kind: RouterErrorKind): void {
    this.metrics.errors.inc({ kind });
  }

  countRetry(reason: RetryReason): void {
    this.metrics.retries.inc({ reason });
  }

  close(): void {
    this.unsubscribe();
  }

  private forwardUserRequest(req: IncomingMessage, res: ServerResponse, url: string): void {
    const userId = userIdOf(url);
    if (typeof userId !== 'string') {
      this.refuse(res, userId.code === 'invalid_user_id' ? 'invalid_user_id' : 'invalid_path', userId.code, userId.detail);
      return;
    }
    const route = this.table.owner(userId);
    if (route === undefined) {
      this.refuse(res, 'no_worker', 'no_worker_available', 'no live worker can serve this user now');
      return;
    }
    if (route.inFlight >= this.options.maxInFlightPerWorker) {
      this.refuse(res, 'overloaded', 'overloaded', `worker ${route.id} has ${route.inFlight} requests in flight`);
      return;
    }
    const count = this.userInFlight.get(userId) ?? 0;
    if (count >= this.options.maxInFlightPerUser) {
      this.refuse(res, 'too_many_requests', 'too_many_requests', `user ${userId} has ${count} requests in flight`);
      return;
    }
    this.userInFlight.set(userId, count + 1);
    this.seenUsers.add(userId);
    this.start(new ProxyExchange(this, req, res, userId, route), req);
  }

  private start(exchange: ProxyExchange, req: IncomingMessage): void {
    const limit = this.options.bodyLimitBytes;
    if (exchange.contentLength > limit) {
      refuseOversizeBody(req, exchange, limit, 0);
      return;
    }
    if (exchange.contentLength <= 0 && !exchange.chunked) {
      exchange.send();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const expected = !exchange.chunked && Number.isSafeInteger(exchange.contentLength) ? exchange.contentLength : -1;
    const complete = () => {
      exchange.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      exchange.send();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        // With a Content-Length the last byte is known: forward at once
        // rather than one stream 'end' event later.
        if (size === expected) complete();
        return;
      }
      req.off('data', onData);
      chunks.length = 0;
      refuseOversizeBody(req, exchange, limit, size);
    };
    req.on('data', onData);
    if (expected < 0) {
      req.once('end', () => {
        if (size <= limit) complete();
      });
    }
  }

  private refuse(res: ServerResponse, kind: RouterErrorKind, code: ErrorCode, detail: string): void {
    this.metrics.errors.inc({ kind });
    replyProblem(res, code, detail);
  }
}
