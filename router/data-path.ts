/**
 * The data path: admission of `/api/users/<id>/...` requests (path checks,
 * owner lookup, back-pressure) before a ProxyExchange takes each one over
 * (body limit, forwarding, retries). Back-pressure never queues: past the
 * per-worker limit the answer is 503 `overloaded`, past the per-user limit
 * 429 `too_many_requests`, both with Retry-After.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HintSigner } from '../services/auth/hint-signature.js';
import type { ErrorCode } from '../services/problem/error-table.js';
import { ProxyExchange, type ExchangeHost } from './proxy-exchange.js';
import { replyProblem } from './problem-reply.js';
import { USER_PATH_PREFIX, userIdOf } from './request-target.js';
import type { RouterErrorKind, RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import type { RouterControl } from './router-state.js';
import type { RouteTable, WorkerRoutes } from './route-table.js';
import { SeenUsers } from './seen-users.js';
import type { ProcessStats } from './status-report.js';

export class DataPath implements ExchangeHost {
  table: RouteTable;
  readonly hintSigner: HintSigner | undefined;
  private readonly seenUsers: SeenUsers;
  private readonly userInFlight = new Map<string, number>();
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
      else new ProxyExchange(this, req, res, '', route).start();
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
    new ProxyExchange(this, req, res, userId, route).start();
  }

  private refuse(res: ServerResponse, kind: RouterErrorKind, code: ErrorCode, detail: string): void {
    this.metrics.errors.inc({ kind });
    replyProblem(res, code, detail);
  }
}
