/**
 * One process of a multi-process router (see cluster-primary.ts): it serves
 * the data path and admin API on the shared port, routing with the state the
 * primary sends, and asks the primary for anything cluster-wide.
 */
import type { Logger } from 'pino';
import type { DataPath } from './data-path.js';
import type { PrimarySide, ProcessSide } from './ipc-messages.js';
import { IpcPeer } from './ipc-peer.js';
import type { AdminBackend } from './listening-app.js';
import { RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import { serveRouter, type RouterServer } from './router-server.js';
import type { RouterControl, RouterState } from './router-state.js';

type PrimaryPeer = IpcPeer<ProcessSide, PrimarySide>;

/** The control plane as a replica of the primary's. */
class RemoteControl implements RouterControl {
  state!: RouterState;
  private readonly listeners = new Set<(state: RouterState) => void>();

  constructor(private readonly peer: PrimaryPeer) {}

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
}

/** Runs this process's share of the router; resolves once it listens. */
export async function runRouterProcess(options: RouterOptions, log: Logger): Promise<RouterServer> {
  const metrics = new RouterMetrics();
  let dataPath: DataPath | undefined;
  const running: { server?: RouterServer } = {};
  let resolveFirstState!: () => void;
  const firstState = new Promise<void>((resolve) => (resolveFirstState = resolve));
  const peer: PrimaryPeer = new IpcPeer((message) => process.send!(message), {
    calls: {
      stats: () => dataPath?.stats() ?? { pid: process.pid, workers: [], users: [] },
      counters: () => dataPath?.counters() ?? { pid: process.pid, workers: [] },
      metrics: () => metrics.registry.getMetricsAsJSON(),
    },
    events: {
      state: (state) => {
        control.apply(state);
        resolveFirstState();
      },
      shutdown: () => {
        void (running.server?.close() ?? Promise.resolve()).then(() => process.exit(0));
      },
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
      status: () => peer.call('status'),
      history: (windowMs) => peer.call('history', { windowMs }),
      setDrained: (id, drained, force) => peer.call('setDrained', { id, drained, force }),
      metrics: () => peer.call('metrics'),
    };
  };
  const server = await serveRouter({ options, control, metrics, admin });
  running.server = server;
  peer.emit('listening', { port: server.port });
  return server;
}
