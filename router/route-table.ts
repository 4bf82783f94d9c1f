/**
 * The data path's view of the control state: for each worker a WorkerRoute
 * (its keep-alive undici pool, counters and metric children), and a
 * RouteTable that answers "which worker gets this user now" with the shared
 * rendezvous Placement over the routable workers.
 *
 * Routes outlive tables: a worker keeps its pool and counters across
 * topology and health changes; a worker removed from the topology has its
 * pool closed gracefully (requests in flight on it finish first).
 */
import { Pool } from 'undici';
import type { WorkerLatency } from './latency-histogram.js';
import { Placement } from '../services/topology/placement.js';
import type { RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import { isRoutable, type RouterState } from './router-state.js';

export class WorkerRoute {
  /** Requests sent to this worker and not yet answered in full (streams not included). */
  inFlight = 0;
  /** Event streams (requests that asked for text/event-stream) sent to this worker and not yet ended. */
  streams = 0;
  /** Responses received from this worker. */
  requests = 0;
  /** Responses by status class, indexed by status / 100. */
  readonly responsesByClass = new Float64Array(6);
  readonly pool: Pool;
  readonly latency: WorkerLatency;

  constructor(
    readonly id: string,
    readonly url: string,
    options: RouterOptions,
    metrics: RouterMetrics,
  ) {
    this.pool = new Pool(url, {
      pipelining: 1,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      keepAliveMaxTimeout: 600_000,
    });
    this.latency = metrics.upstreamSeconds.forWorker(id);
  }
}

export class RouteTable {
  readonly version: number;
  readonly routes: readonly WorkerRoute[];
  /** The X-Pinbase-Down value: every worker that is down or drained; undefined when none is. */
  readonly downHeader: string | undefined;
  private readonly retired: readonly string[];
  private readonly placement: Placement;
  private readonly routable: Uint8Array;
  private readonly allRoutable: boolean;
  private readonly isRoutable = (index: number): boolean => this.routable[index] === 1;

  constructor(state: RouterState, routes: readonly WorkerRoute[]) {
    this.version = state.version;
    this.routes = routes;
    this.retired = state.retired;
    this.placement = new Placement(routes.map((r) => r.id));
    this.routable = Uint8Array.from(state.workers, (w) => (isRoutable(w) ? 1 : 0));
    this.allRoutable = this.routable.every((flag) => flag === 1);
    const down = [...state.workers.filter((w) => !isRoutable(w)).map((w) => w.id), ...state.retired];
    this.downHeader = down.length === 0 ? undefined : down.join(',');
  }

  /** The routable worker that owns `userId`, or undefined if no worker is routable. */
  owner(userId: string): WorkerRoute | undefined {
    const index = this.placement.ownerIndex(userId, this.allRoutable ? undefined : this.isRoutable);
    return index < 0 ? undefined : this.routes[index];
  }

  /** As owner(), treating the `excluded` workers (failed during this request) as down too. */
  ownerExcluding(userId: string, excluded: readonly WorkerRoute[]): WorkerRoute | undefined {
    const index = this.placement.ownerIndex(userId, (i) => this.routable[i] === 1 && !excluded.includes(this.routes[i]!));
    return index < 0 ? undefined : this.routes[index];
  }

  /** The X-Pinbase-Down value with the `excluded` workers added. */
  downHeaderExcluding(excluded: readonly WorkerRoute[]): string | undefined {
    const ids = this.routes.filter((route, i) => this.routable[i] !== 1 || excluded.includes(route)).map((r) => r.id);
    ids.push(...this.retired);
    for (const route of excluded) if (!ids.includes(route.id)) ids.push(route.id);
    return ids.length === 0 ? undefined : ids.join(',');
  }

  /** Some routable worker, for worker-local paths any worker can answer (/docs). */
  anyRoutable(): WorkerRoute | undefined {
    return this.routes.find((_, i) => this.routable[i] === 1);
  }
}

/** Keeps one WorkerRoute per (id, url) alive across control-state changes. */
export class WorkerRoutes {
  private readonly byKey = new Map<string, WorkerRoute>();

  constructor(
    private readonly options: RouterOptions,
    private readonly metrics: RouterMetrics,
  ) {}

  /** The table for `state`; closes (gracefully) the pools of workers no longer listed. */
  tableFor(state: RouterState): RouteTable {
    const keep = new Set<string>();
    const routes = state.workers.map((worker) => {
      const key = `${worker.id} ${worker.url}`;
      keep.add(key);
      let route = this.byKey.get(key);
      if (route === undefined) {
        route = new WorkerRoute(worker.id, worker.url, this.options, this.metrics);
        this.byKey.set(key, route);
      }
      return route;
    });
    for (const [key, route] of this.byKey) {
      if (keep.has(key)) continue;
      this.byKey.delete(key);
      void route.pool.close();
    }
    return new RouteTable(state, routes);
  }

  all(): Iterable<WorkerRoute> {
    return this.byKey.values();
  }

  async close(): Promise<void> {
    await Promise.all([...this.byKey.values()].map((route) => route.pool.destroy()));
    this.byKey.clear();
  }
}
