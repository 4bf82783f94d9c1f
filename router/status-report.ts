/**
 * The JSON of `GET /_router/status`: the control state (topology version,
 * each worker's health and drain flag) joined with the data-path counters
 * of every router process.
 */
import { Placement } from '../services/topology/placement.js';
import { isRoutable, type RouterState } from './router-state.js';

/** One router process's cumulative counters for one worker (since the process started, or the worker joined). */
export interface WorkerCounters {
  readonly id: string;
  readonly inFlight: number;
  readonly streams: number;
  readonly requests: number;
  /** Responses by status class, indexed by status / 100 (6 slots). */
  readonly responses: readonly number[];
  /** Upstream latency observations per bucket (latency-histogram.ts LATENCY_BUCKETS, then +Inf). */
  readonly latency: readonly number[];
}

/** The data-path counters of one router process, without its users (what the stats history samples). */
export interface ProcessCounters {
  readonly pid: number;
  readonly workers: readonly WorkerCounters[];
}

/** The data-path counters of one router process, with the users it routed recently. */
export interface ProcessStats extends ProcessCounters {
  /** User ids this process routed recently (bounded). */
  readonly users: readonly string[];
}

export interface WorkerStatus {
  readonly id: string;
  readonly url: string;
  readonly health: 'up' | 'down';
  readonly drained: boolean;
  /** Receives users now: up and not drained. */
  readonly routable: boolean;
  readonly since: string;
  readonly reason?: string;
  readonly topologyVersion?: number;
  readonly inFlight: number;
  /** Event streams open now. */
  readonly streams: number;
  readonly requests: number;
  /** Recently seen users whose current owner is this worker. */
  readonly users: number;
}

export interface RouterStatus {
  readonly topologyVersion: number;
  readonly processes: number;
  readonly workers: readonly WorkerStatus[];
  readonly totals: { readonly inFlight: number; readonly streams: number; readonly requests: number; readonly users: number };
}

export function buildStatus(state: RouterState, stats: readonly ProcessStats[]): RouterStatus {
  const placement = new Placement(state.workers.map((w) => w.id));
  const routable = state.workers.map(isRoutable);
  const usersPerWorker = new Array<number>(state.workers.length).fill(0);
  const allUsers = new Set<string>();
  for (const process of stats) for (const user of process.users) allUsers.add(user);
  for (const user of allUsers) {
    const index = placement.ownerIndex(user, (i) => routable[i] === true);
    if (index >= 0) usersPerWorker[index]!++;
  }
  const workers = state.workers.map((worker, index): WorkerStatus => {
    let inFlight = 0;
    let streams = 0;
    let requests = 0;
    for (const process of stats) {
      const counters = process.workers.find((w) => w.id === worker.id);
      inFlight += counters?.inFlight ?? 0;
      streams += counters?.streams ?? 0;
      requests += counters?.requests ?? 0;
    }
    return {
      id: worker.id,
      url: worker.url,
      health: worker.up ? 'up' : 'down',
      drained: worker.drained,
      routable: routable[index] === true,
      since: new Date(worker.since).toISOString(),
      ...(worker.reason === undefined ? {} : { reason: worker.reason }),
      ...(worker.topologyVersion === undefined ? {} : { topologyVersion: worker.topologyVersion }),
      inFlight,
      streams,
      requests,
      users: usersPerWorker[index]!,
    };
  });
  return {
    topologyVersion: state.version,
    processes: stats.length,
    workers,
    totals: {
      inFlight: workers.reduce((sum, w) => sum + w.inFlight, 0),
      streams: workers.reduce((sum, w) => sum + w.streams, 0),
      requests: workers.reduce((sum, w) => sum + w.requests, 0),
      users: allUsers.size,
    },
  };
}
