/**
 * The router's control plane in one process: the live topology file, the
 * health monitor and the drained set, combined into one RouterState. In a
 * multi-process router it runs in the primary only (cluster-primary.ts).
 */
import type { Logger } from 'pino';
import { TopologySource } from '../services/topology/topology-source.js';
import type { Topology } from '../services/topology/topology.js';
import { HealthMonitor, type WorkerHealth, type WorkerLoad } from './health-monitor.js';
import type { RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import { isRoutable, type DrainOutcome, type RouterControl, type RouterState, type WorkerState } from './router-state.js';

export class LocalControl implements RouterControl {
  private readonly source: TopologySource;
  private readonly health: HealthMonitor;
  private readonly drained = new Set<string>();
  private readonly listeners = new Set<(state: RouterState) => void>();
  /** Removed worker id → when it leaves X-Pinbase-Down (epoch ms). */
  private readonly retired = new Map<string, number>();
  private retireTimer: NodeJS.Timeout | undefined;
  private lastRefresh = 0;
  private readonly topologyPollMs: number;

  /** Reads the topology file (throws TopologyError, one line, if it is unusable) and starts probing. */
  constructor(
    options: RouterOptions,
    private readonly log: Logger,
    private readonly metrics: RouterMetrics | undefined,
  ) {
    this.topologyPollMs = options.topologyPollMs;
    this.source = new TopologySource(options.topologyPath, {
      pollIntervalMs: options.topologyPollMs,
      onChange: (next, previous) => this.topologyChanged(next, previous),
      onReject: (line) => this.log.error(line),
    });
    this.health = new HealthMonitor(
      { intervalMs: options.probeIntervalMs, timeoutMs: options.probeTimeoutMs, fall: options.fall, rise: options.rise },
      (health) => this.healthChanged(health),
    );
    this.health.setWorkers(this.source.current.workers, this.source.current.version);
    metrics?.setControlState(this.compute());
  }

  /** Computed on each read, so the probes' latest details (topologyVersion) show. */
  get state(): RouterState {
    return this.compute();
  }

  /**
   * Resolves once every worker's first probe round has ended (up, or `fall`
   * failed probes; HealthMonitor.firstRound): before that a worker is "not
   * probed yet", and routing would send its users to their next-ranked worker.
   */
  async ready(): Promise<void> {
    // The probes' timers do not keep the process alive (unref): while nothing
    // else does yet (no server listens before this resolves), this one does,
    // or a router whose workers refuse connections would exit with code 0.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      await this.health.firstRound();
    } finally {
      clearInterval(keepAlive);
    }
  }

  subscribe(listener: (state: RouterState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the topology file (SIGHUP). A bad file is logged and ignored. */
  reload(): void {
    this.source.reload();
  }

  /** Re-reads the topology file, at most every 100 ms however many 421s ask for it. */
  async refreshTopology(): Promise<void> {
    const now = Date.now();
    if (now - this.lastRefresh < 100) return;
    this.lastRefresh = now;
    this.source.reload();
  }

  /** What the worker's last good /readyz answer said about its load (open partitions, live streams). */
  workerLoad(workerId: string): WorkerLoad | undefined {
    return this.health.get(workerId)?.load;
  }

  reportRefused(workerId: string, reason: string): void {
    this.health.markDown(workerId, reason);
  }

  reportBroken(workerId: string): void {
    this.health.probeNow(workerId);
  }

  /**
   * Marks the worker drained (true) or not. Idempotent. Draining the last
   * routable worker (every user would be refused) needs `force`.
   */
  async setDrained(workerId: string, drained: boolean, force = false): Promise<DrainOutcome> {
    if (!this.source.current.workers.some((w) => w.id === workerId)) return 'unknown_worker';
    if (drained && !force && this.isLastRoutable(workerId)) return 'last_worker';
    if (this.drained.has(workerId) !== drained) {
      if (drained) this.drained.add(workerId);
      else this.drained.delete(workerId);
      this.log.info({ worker: workerId, drained }, drained ? `worker ${workerId} drained` : `worker ${workerId} undrained`);
      this.publish();
    }
    return 'done';
  }

  /** Whether `workerId` is routable and no other worker is. */
  private isLastRoutable(workerId: string): boolean {
    const routable = this.compute().workers.filter(isRoutable);
    return routable.length === 1 && routable[0]!.id === workerId;
  }

  close(): void {
    clearTimeout(this.retireTimer);
    this.source.close();
    this.health.close();
    this.listeners.clear();
  }

  private topologyChanged(next: Topology, previous: Topology): void {
    const ids = next.workers.map((w) => w.id).join(',');
    this.log.info({ version: next.version, previousVersion: previous.version, workers: ids }, `topology version ${next.version} applied: ${ids}`);
    for (const id of this.drained) if (!next.workers.some((w) => w.id === id)) this.drained.delete(id);
    this.retire(previous, next);
    this.health.setWorkers(next.workers, next.version);
    this.publish();
  }

  private healthChanged(health: WorkerHealth): void {
    const line = health.up ? `worker ${health.id} is up` : `worker ${health.id} is down: ${health.reason ?? 'unknown'}`;
    if (health.up) this.log.info({ worker: health.id, up: true }, line);
    else this.log.warn({ worker: health.id, up: false, reason: health.reason }, line);
    this.metrics?.healthTransitions.inc({ worker: health.id, to: health.up ? 'up' : 'down' });
    this.publish();
  }

  /**
   * Keeps removed workers in X-Pinbase-Down long enough for every worker to
   * have re-read the topology file (they poll it; SIGHUP is immediate).
   */
  private retire(previous: Topology, next: Topology): void {
    const until = Date.now() + Math.max(10_000, 10 * this.topologyPollMs);
    for (const worker of previous.workers) if (!next.workers.some((w) => w.id === worker.id)) this.retired.set(worker.id, until);
    for (const worker of next.workers) this.retired.delete(worker.id);
    clearTimeout(this.retireTimer);
    if (this.retired.size === 0) return;
    this.retireTimer = setTimeout(() => {
      const now = Date.now();
      for (const [id, expires] of this.retired) if (expires <= now) this.retired.delete(id);
      this.publish();
    }, until - Date.now()).unref();
  }

  private publish(): void {
    const state = this.compute();
    this.metrics?.setControlState(state);
    for (const listener of this.listeners) listener(state);
  }

  private compute(): RouterState {
    const topology = this.source.current;
    const workers = topology.workers.map((entry): WorkerState => {
      const health = this.health.get(entry.id);
      return {
        id: entry.id,
        url: entry.url,
        up: health?.up ?? false,
        drained: this.drained.has(entry.id),
        since: health?.since ?? Date.now(),
        reason: health?.reason,
        topologyVersion: health?.topologyVersion,
      };
    });
    return { version: topology.version, workers, retired: [...this.retired.keys()] };
  }
}
