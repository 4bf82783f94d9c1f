/**
 * `--processes N`: the primary of a multi-process router. It owns the
 * control plane (topology file, health probes, drained set: one
 * LocalControl) and sends every new RouterState to its N processes, which
 * serve the data path on one shared port (node:cluster) and so route
 * identically. It answers their admin calls by gathering every process's
 * counters and metrics. A process that dies is re-forked after a pause.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { PrimarySide, ProcessSide } from './ipc-messages.js';
import { IpcPeer } from './ipc-peer.js';
import { LocalControl } from './local-control.js';
import { RouterMetrics, type MetricsText } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import { StatsHistory, StatsSampler, type StatsReport } from './stats-history.js';
import { buildStatus, type RouterStatus } from './status-report.js';

type ProcessPeer = IpcPeer<PrimarySide, ProcessSide>;

/** How long the primary waits for each process's counters or metrics before leaving it out. */
const GATHER_TIMEOUT_MS = 3000;

export interface ClusterSetup {
  readonly processes: number;
  /** The script each process runs, and its arguments (default: this process's own). */
  readonly exec?: string;
  readonly args?: readonly string[];
}

export class RouterClusterPrimary {
  private readonly peers = new Map<Worker, ProcessPeer>();
  private readonly metrics = new RouterMetrics();
  private readonly control: LocalControl;
  private readonly sampler: StatsSampler;
  private closing = false;
  private readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private listening = 0;
  private boundPort = 0;

  private constructor(
    private readonly options: RouterOptions,
    private readonly setup: ClusterSetup,
    private readonly log: Logger,
  ) {
    this.control = new LocalControl(options, log, this.metrics);
    this.sampler = new StatsSampler(new StatsHistory(), async () => ({
      state: this.control.state,
      processes: await this.gather((peer) => peer.call('counters', undefined, GATHER_TIMEOUT_MS)),
      load: (id) => this.control.workerLoad(id),
    }));
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /** Probes every worker once, forks the processes and resolves once all of them listen. */
  static async start(options: RouterOptions, setup: ClusterSetup, log: Logger): Promise<RouterClusterPrimary> {
    const primary = new RouterClusterPrimary(options, setup, log);
    await primary.control.ready();
    primary.control.subscribe((state) => {
      for (const peer of primary.peers.values()) peer.emit('state', state);
    });
    cluster.setupPrimary({ ...(setup.exec === undefined ? {} : { exec: setup.exec }), ...(setup.args === undefined ? {} : { args: [...setup.args] }) });
    for (let i = 0; i < setup.processes; i++) primary.fork();
    await primary.ready;
    return primary;
  }

  /** The port the processes share (the one asked for, or the one the system picked for port 0). */
  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://${this.options.host}:${this.boundPort}`;
  }

  /** Re-reads the topology file (SIGHUP). */
  reload(): void {
    this.control.reload();
  }

  async status(): Promise<RouterStatus> {
    return buildStatus(this.control.state, await this.gather((peer) => peer.call('stats', undefined, GATHER_TIMEOUT_MS)));
  }

  /** The per-worker history of the last `windowMs` (stats-history.ts). */
  history(windowMs: number): StatsReport {
    return this.sampler.history.report(this.control.state, windowMs);
  }

  /** Stops every process gracefully (each finishes its requests in flight), then the control plane. */
  async close(): Promise<void> {
    this.closing = true;
    const exits = [...this.peers.keys()].map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
          this.peers.get(worker)?.emit('shutdown');
          setTimeout(() => worker.process.kill('SIGKILL'), 15_000).unref();
        }),
    );
    await Promise.all(exits);
    this.sampler.close();
    this.control.close();
  }

  private fork(): void {
    const worker = cluster.fork({ PINBASE_ROUTER_PROCESS: '1' });
    const peer: ProcessPeer = new IpcPeer((message) => worker.send(message), {
      calls: {
        setDrained: ({ id, drained, force }) => this.control.setDrained(id, drained, force),
        status: () => this.status(),
        history: ({ windowMs }) => this.history(windowMs),
        metrics: () => this.aggregatedMetrics(),
        refreshTopology: () => this.control.refreshTopology(),
      },
      events: {
        hello: () => peer.emit('state', this.control.state),
        listening: ({ port }) => {
          this.boundPort = port;
          if (++this.listening >= this.setup.processes) this.resolveReady();
        },
        refused: ({ id, reason }) => this.control.reportRefused(id, reason),
        broken: ({ id }) => this.control.reportBroken(id),
      },
    });
    this.peers.set(worker, peer);
    worker.on('message', (message) => peer.receive(message));
    worker.once('exit', (code, signal) => {
      peer.close('router process exited');
      this.peers.delete(worker);
      if (this.closing) return;
      this.log.error({ pid: worker.process.pid, code, signal }, `router process ${worker.process.pid} exited (${signal ?? code}); starting another in 1 s`);
      setTimeout(() => {
        if (!this.closing) this.fork();
      }, 1000).unref();
    });
  }

  /** Every process's answer to `ask`; a process that fails or does not answer is left out. */
  private async gather<T>(ask: (peer: ProcessPeer) => Promise<T>): Promise<T[]> {
    const answers = await Promise.allSettled([...this.peers.values()].map(ask));
    return answers.flatMap((answer) => (answer.status === 'fulfilled' ? [answer.value] : []));
  }

  private async aggregatedMetrics(): Promise<MetricsText> {
    const own = await this.metrics.registry.getMetricsAsJSON();
    const processes = await this.gather((peer) => peer.call('metrics', undefined, GATHER_TIMEOUT_MS));
    const registry = AggregatorRegistry.aggregate([own, ...processes]);
    return { contentType: registry.contentType, text: await registry.metrics() };
  }
}
