/**
 * One process of a multi-process router (see cluster-primary.ts): it serves
 * the data path and admin API on the shared port, routing with the state the
 * primary sends, and asks the primary for anything cluster-wide.
 */
import type { Logger } from 'pino';
import type { AdminBackend } from './admin-app.js';
import type { DataPath } from './data-path.js';
import { IpcPeer } from './ipc-peer.js';
import { RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import { serveRouter, type RouterServer } from './router-server.js';
import { isRoutable, type RouterControl, type RouterState } from './router-state.js';
import type { RouterStatus } from './status-report.js';

/** The control plane as a replica of the primary's. */
class RemoteControl implements RouterControl {
  state!: RouterState;
  private readonly listeners = new Set<(state: RouterState) => void>();

  constructor(private readonly peer: IpcPeer) {}

  apply(state: RouterState): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  subscribe(listener: (state: RouterState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  reportRefused(workerId: string, reason: string): void {
    this.peer.emit('refused', { id: workerId, reason });
  }

  reportBroken(workerId: string): void {
    this.peer.emit('broken', { id: workerId });
  }

  async refreshTopology(): Promise<void> {
    await this.peer.call('refreshTopology', undefined, 1000);
  }

  async setDrained(workerId: string, drained: boolean): Promise<RouterState | undefined> {
    const known = await this.peer.call<boolean>('setDrained', { id: workerId, drained });
    return known ? this.state : undefined;
  }
}

/** Runs this process's share of the router; resolves once it listens. */
export async function runRouterProcess(options: RouterOptions, log: Logger): Promise<RouterServer> {
  const metrics = new RouterMetrics();
  let dataPath: DataPath | undefined;
  const running: { server?: RouterServer } = {};
  let resolveFirstState!: () => void;
  const firstState = new Promise<void>((resolve) => (resolveFirstState = resolve));
  const peer: IpcPeer = new IpcPeer((message) => process.send!(message), {
    state: (state) => {
      control.apply(state as RouterState);
      resolveFirstState();
    },
    stats: () => dataPath?.stats() ?? { pid: process.pid, workers: [], users: [] },
    metrics: () => metrics.registry.getMetricsAsJSON(),
    shutdown: () => {
      void (running.server?.close() ?? Promise.resolve()).then(() => process.exit(0));
    },
  });
  const control = new RemoteControl(peer);
  process.on('message', (message) => peer.receive(message));
  process.once('disconnect', () => {
    log.error('the router primary went away; exiting');
    process.exit(1);
  });
  peer.emit('hello');
  await firstState;
  const admin = (path: DataPath): AdminBackend => {
    dataPath = path;
    return {
      status: () => peer.call<RouterStatus>('status'),
      setDrained: (id, drained) => peer.call<boolean>('setDrained', { id, drained }),
      metrics: () => peer.call<{ contentType: string; text: string }>('metrics'),
      readiness: () => ({ topologyVersion: control.state.version, routableWorkers: control.state.workers.filter(isRoutable).length }),
    };
  };
  const server = await serveRouter({ options, control, metrics, admin });
  running.server = server;
  peer.emit('listening', { port: server.port });
  return server;
}
