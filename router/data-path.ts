/**
 * The data path: admission of `/api/users/<id>/...` requests (path and Host
 * checks, owner lookup, back-pressure) before a ProxyExchange takes each one
 * over (body limit, forwarding, retries). Back-pressure never queues:
 * - a request holds a request slot until its response ends: past the
 *   per-worker limit 503 `overloaded`, past the per-user limit 429
 *   `too_many_requests`;
 * - a stream (a request for text/event-stream) holds no request slot but a
 *   stream slot, until it ends: past the per-worker stream cap 503
 *   `overloaded`, past the per-user or per-client-address cap 429
 *   `too_many_streams`;
 * all with Retry-After, before anything is sent to a worker. The counts are
 * this router process's; each map holds only keys with something open, so
 * its size is bounded by what is open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HintSigner } from '../services/auth/hint-signature.js';
import type { ErrorCode } from '../services/problem/error-table.js';
import { hostHeaderProblem } from './host-header.js';
import { ProxyExchange, type ExchangeHost } from './proxy-exchange.js';
import { replyProblem } from './problem-reply.js';
import { USER_PATH_PREFIX, userIdOf } from './request-target.js';
import type { RouterErrorKind, RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import type { RouterControl } from './router-state.js';
import type { RouteTable, WorkerRoute, WorkerRoutes } from './route-table.js';
import { SeenUsers } from './seen-users.js';
import type { ProcessCounters, ProcessStats } from './status-report.js';

export class DataPath implements ExchangeHost {
  table: RouteTable;
  readonly hintSigner: HintSigner | undefined;
  private readonly seenUsers: SeenUsers;
  private readonly userInFlight = new Counts();
  private readonly userStreams = new Counts();
  private readonly clientStreams = new Counts();
  private readonly unsubscribe: () => void;

  constructor(
    readonly options: RouterOptions,
    private readonly routes: WorkerRoutes,
    readonly control: RouterControl,
    readonly metrics: RouterMetrics,
  ) {
    this.seenUsers = new SeenUsers(options.trackedUsers);
    this.hintSigner = options.auth.clusterSecret === undefined ? undefined : new HintSigner(options.auth.clusterSecret);
    this.table = routes.tableFor(control.state);
    this.unsubscribe = control.subscribe((state) => {
      this.table = routes.tableFor(state);
    });
    metrics.inFlightReader = () => this.table.routes.map((route) => [route.id, route.inFlight]);
    metrics.streamsReader = () => this.table.routes.map((route) => [route.id, route.streams]);
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
      else this.admit(new ProxyExchange(this, req, res, '', route), req, res);
      return true;
    }
    return false;
  }

  /** This process's counters, for /_router/status. */
  stats(): ProcessStats {
    return { ...this.counters(), users: this.seenUsers.list() };
  }

  /** This process's cumulative per-worker counters, for the stats history (stats-history.ts). */
  counters(): ProcessCounters {
    const workers = [...this.routes.all()].map((route) => ({
      id: route.id,
      inFlight: route.inFlight,
      streams: route.streams,
      requests: route.requests,
      responses: [...route.responsesByClass],
      latency: [...route.latency.counts],
    }));
    return { pid: process.pid, workers };
  }

  /** Requests being answered now, streams not counted. */
  inFlight(): number {
    let total = 0;
    for (const route of this.routes.all()) total += route.inFlight;
    return total;
  }

  release(exchange: ProxyExchange): void {
    if (exchange.isStream) {
      this.releaseStreamSlot(exchange.userId, exchange.clientKey);
    } else if (exchange.userId !== '') {
      this.userInFlight.decrement(exchange.userId);
    }
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
    if (this.admit(new ProxyExchange(this, req, res, userId, route), req, res)) this.seenUsers.add(userId);
  }

  /** Starts the exchange if its Host is valid and it is within its limits; answers the refusal otherwise. */
  private admit(exchange: ProxyExchange, req: IncomingMessage, res: ServerResponse): boolean {
    const hostProblem = hostHeaderProblem(exchange.hostCount, req);
    if (hostProblem !== undefined) {
      this.refuse(res, 'invalid_header', 'invalid_header', hostProblem);
      return false;
    }
    if (!(exchange.isStream ? this.admitStream(exchange, res) : this.admitRequest(exchange, res))) return false;
    exchange.start();
    return true;
  }

  private admitRequest(exchange: ProxyExchange, res: ServerResponse): boolean {
    const route = exchange.worker;
    if (route.inFlight >= this.options.maxInFlightPerWorker) {
      this.refuse(res, 'overloaded', 'overloaded', `worker ${route.id} has ${route.inFlight} requests in flight`);
      return false;
    }
    const userId = exchange.userId;
    if (userId === '') return true;
    const count = this.userInFlight.get(userId);
    if (count >= this.options.maxInFlightPerUser) {
      this.refuse(res, 'too_many_requests', 'too_many_requests', `user ${userId} has ${count} requests in flight`);
      return false;
    }
    this.userInFlight.increment(userId);
    return true;
  }

  private admitStream(exchange: ProxyExchange, res: ServerResponse): boolean {
    const refusal = this.takeStreamSlot(exchange.worker, exchange.userId, exchange.clientKey);
    if (refusal === undefined) return true;
    this.refuse(res, refusal.code, refusal.code, refusal.detail);
    return false;
  }

  /**
   * Takes a stream slot for a stream of `userId` ('' for none) from the
   * client `client` (clientKey) to `route`: per user and per client here;
   * the per-worker count is the caller's (`route.streams`, counted while it
   * is open upstream). Returns the refusal when a cap is reached (nothing is
   * taken then); otherwise the caller gives the slot back once with
   * releaseStreamSlot(). SSE exchanges and WebSocket upgrades share it.
   */
  takeStreamSlot(route: WorkerRoute, userId: string, client: string): StreamRefusal | undefined {
    const { maxStreamsPerWorker, maxStreamsPerUser, maxStreamsPerClient } = this.options;
    if (route.streams >= maxStreamsPerWorker) {
      return { code: 'overloaded', detail: `worker ${route.id} has ${route.streams} open streams` };
    }
    const userCount = userId === '' ? 0 : this.userStreams.get(userId);
    if (userCount >= maxStreamsPerUser) {
      return { code: 'too_many_streams', detail: `user ${userId} has ${userCount} open streams (at most ${maxStreamsPerUser})` };
    }
    const clientCount = this.clientStreams.get(client);
    if (clientCount >= maxStreamsPerClient) {
      return { code: 'too_many_streams', detail: `this client address has ${clientCount} open streams (at most ${maxStreamsPerClient})` };
    }
    if (userId !== '') this.userStreams.increment(userId);
    this.clientStreams.increment(client);
    return undefined;
  }

  /** Gives back a slot takeStreamSlot() gave (once per slot). */
  releaseStreamSlot(userId: string, client: string): void {
    if (userId !== '') this.userStreams.decrement(userId);
    this.clientStreams.decrement(client);
  }

  private refuse(res: ServerResponse, kind: RouterErrorKind, code: ErrorCode, detail: string): void {
    this.metrics.errors.inc({ kind });
    replyProblem(res, code, detail, false, this.options.corsOrigins);
  }
}

/** Why a stream was refused: 503 overloaded (the worker's cap) or 429 too_many_streams (the user's or the client's). */
export interface StreamRefusal {
  readonly code: Extract<ErrorCode, 'overloaded' | 'too_many_streams'>;
  readonly detail: string;
}

/** Open things per key; a key is dropped when its count returns to 0, so the map holds only what is open. */
class Counts {
  private readonly counts = new Map<string, number>();

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  increment(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  decrement(key: string): void {
    const count = this.counts.get(key) ?? 0;
    if (count <= 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
  }
}
