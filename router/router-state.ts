/**
 * The router's control state: the topology in use and each worker's health
 * and drain flag. It is plain data so the primary of a multi-process router
 * can send it to every process, which then route identically.
 */
export interface WorkerState {
  readonly id: string;
  readonly url: string;
  readonly up: boolean;
  /** Drained by an operator: treated as down for routing, still probed. */
  readonly drained: boolean;
  /** Epoch ms of the last health transition. */
  readonly since: number;
  readonly reason: string | undefined;
  readonly topologyVersion: number | undefined;
}

export interface RouterState {
  readonly version: number;
  /** In topology-file order. */
  readonly workers: readonly WorkerState[];
  /**
   * Workers removed by a recent topology change. They stay in X-Pinbase-Down
   * for a while, so a worker still on the previous topology does not pick a
   * removed worker as the owner (and answer 421).
   */
  readonly retired: readonly string[];
}

/** Routable: up and not drained. The users of any other worker go to their next-ranked routable worker. */
export function isRoutable(worker: WorkerState): boolean {
  return worker.up && !worker.drained;
}

/**
 * What a drain or undrain request did: `done` (the worker is now in the
 * state asked for; idempotent), `unknown_worker` (no worker has that id), or
 * `last_worker` (draining it would leave no routable worker, and `force` was
 * not given; nothing changed).
 */
export type DrainOutcome = 'done' | 'unknown_worker' | 'last_worker';

/**
 * What the router's control plane offers the data path and /readyz,
 * whether it runs in this process or in the primary of a cluster.
 */
export interface RouterControl {
  readonly state: RouterState;
  /** Called with every new state; returns a function that unsubscribes. */
  subscribe(listener: (state: RouterState) => void): () => void;
  /** Passive health: a connection to the worker was refused. */
  reportRefused(workerId: string, reason: string): void;
  /** Passive health: a connection to the worker broke; probe it now. */
  reportBroken(workerId: string): void;
  /** Re-reads the topology file now (a worker answered 421: it may know a newer one). */
  refreshTopology(): Promise<void>;
}
