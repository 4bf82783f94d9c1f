/**
 * The messages between the primary of a multi-process router and each of
 * its processes (node:cluster IPC, through ipc-peer.ts), written once for
 * both sides: the primary is an `IpcPeer<PrimarySide, ProcessSide>`, each
 * process an `IpcPeer<ProcessSide, PrimarySide>`.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { IpcCall } from './ipc-peer.js';
import type { MetricsText } from './router-metrics.js';
import type { DrainOutcome, RouterState } from './router-state.js';
import type { StatsReport } from './stats-history.js';
import type { ProcessCounters, ProcessStats, RouterStatus } from './status-report.js';

/** What the primary answers and emits. */
export interface PrimarySide {
  readonly calls: {
    /** Drains (or undrains) a worker for every process (the last routable one only with `force`). Idempotent. */
    readonly setDrained: IpcCall<{ readonly id: string; readonly drained: boolean; readonly force: boolean }, DrainOutcome>;
    /** `/_router/status`: the control state joined with every process's counters. */
    readonly status: IpcCall<void, RouterStatus>;
    /** `/_router/stats`: the primary's per-worker history over the last `windowMs`. */
    readonly history: IpcCall<{ readonly windowMs: number }, StatsReport>;
    /** `/metrics`: the primary's metrics and every process's, aggregated. */
    readonly metrics: IpcCall<void, MetricsText>;
    /** Re-reads the topology file now (a worker answered 421); at most every 100 ms. */
    readonly refreshTopology: IpcCall<void, void>;
  };
  readonly events: {
    /** A new control state (and the first one, after `hello`): route with it. */
    readonly state: RouterState;
    /** Stop accepting, finish the requests in flight, exit. */
    readonly shutdown: void;
  };
}

/** What each router process answers and emits. */
export interface ProcessSide {
  readonly calls: {
    /** This process's data-path counters. */
    readonly stats: IpcCall<void, ProcessStats>;
    /** This process's cumulative per-worker counters, for the primary's stats history (no users: cheap). */
    readonly counters: IpcCall<void, ProcessCounters>;
    /** This process's metrics, for the primary to aggregate. */
    readonly metrics: IpcCall<void, MetricObjectWithValues<MetricValue<string>>[]>;
  };
  readonly events: {
    /** The process started and waits for its first state. */
    readonly hello: void;
    /** The process listens on `port` (the one the system picked for port 0). */
    readonly listening: { readonly port: number };
    /** Passive health: a connection to worker `id` was refused. */
    readonly refused: { readonly id: string; readonly reason: string };
    /** Passive health: a connection to worker `id` broke; probe it now. */
    readonly broken: { readonly id: string };
  };
}
