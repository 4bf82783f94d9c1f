/**
 * One router process: the listening server whose data path forwards to the
 * workers and whose other paths are the admin endpoints (listening-app.ts).
 * `startRouter` runs the whole router in this process; cluster-primary.ts
 * and cluster-process.ts run it as several.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import { isLoopbackHost } from '../services/auth/auth-options.js';
import { DataPath } from './data-path.js';
import { buildListeningApp, type AdminBackend } from './listening-app.js';
import { LocalControl } from './local-control.js';
import { RouterMetrics } from './router-metrics.js';
import type { RouterOptions } from './router-options.js';
import type { RouterControl } from './router-state.js';
import { WorkerRoutes } from './route-table.js';
import { StatsHistory, StatsSampler } from './stats-history.js';
import { buildStatus } from './status-report.js';
import { UpgradePath } from './upgrade-path.js';

export interface RouterServer {
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  readonly dataPath: DataPath;
  /**
   * Stops accepting, lets requests in flight finish for up to `graceMs`
   * (SSE streams and proxied WebSockets are cut then), and closes the upstream pools.
   */
  close(graceMs?: number): Promise<void>;
}

export interface RouterServerParts {
  readonly options: RouterOptions;
  readonly control: RouterControl;
  readonly metrics: RouterMetrics;
  readonly admin: (dataPath: DataPath) => AdminBackend;
}

/** Listens with the given control plane and admin backend. */
export async function serveRouter(parts: RouterServerParts): Promise<RouterServer> {
  const { options, control, metrics } = parts;
  const routes = new WorkerRoutes(options, metrics);
  const dataPath = new DataPath(options, routes, control, metrics);
  const upgradePath = new UpgradePath(dataPath, control);
  const app = buildListeningApp({
    dataPath: (req, res) => dataPath.handle(req, res),
    upgrade: (req, socket, head) => upgradePath.handle(req, socket, head),
    admin: parts.admin(dataPath),
    control,
    access: { adminToken: options.auth.adminToken, listensOnLoopback: isLoopbackHost(options.host) },
    clients: {
      maxConnections: options.maxConnections,
      maxConnectionsPerClient: options.maxConnectionsPerClient,
      requestTimeoutMs: options.clientRequestTimeoutMs,
      headersTimeoutMs: options.clientHeadersTimeoutMs,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    },
  });
  await app.listen({ host: options.host, port: options.port });
  const port = (app.server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = async (graceMs = 10_000): Promise<void> => {
    const closed = app.close();
    const deadline = Date.now() + graceMs;
    while (dataPath.inFlight() > 0 && Date.now() < deadline) await sleep(20);
    app.server.closeAllConnections();
    // Upgraded sockets are no longer the server's: they are closed here.
    upgradePath.close();
    await closed;
    dataPath.close();
    await routes.close();
  };
  return {
    port,
    url: `http://${options.host}:${port}`,
    dataPath,
    close: (graceMs) => (closing ??= close(graceMs)),
  };
}

export interface SingleRouter extends RouterServer {
  readonly control: LocalControl;
}

/**
 * The router in this one process. Throws TopologyError (one line) if the
 * topology file is unusable. Resolves once every worker was probed once and
 * the server listens.
 */
export async function startRouter(options: RouterOptions, log: Logger): Promise<SingleRouter> {
  const metrics = new RouterMetrics();
  const control = new LocalControl(options, log, metrics);
  let sampler: StatsSampler | undefined;
  try {
    await control.ready();
    const admin = (dataPath: DataPath): AdminBackend => {
      sampler = new StatsSampler(new StatsHistory(), () => ({ state: control.state, processes: [dataPath.counters()], load: (id) => control.workerLoad(id) }));
      return localAdmin(control, dataPath, metrics, sampler.history);
    };
    const server = await serveRouter({ options, control, metrics, admin });
    return {
      ...server,
      control,
      close: async (graceMs) => {
        sampler?.close();
        await server.close(graceMs);
        control.close();
      },
    };
  } catch (error) {
    sampler?.close();
    control.close();
    throw error;
  }
}

function localAdmin(control: LocalControl, dataPath: DataPath, metrics: RouterMetrics, history: StatsHistory): AdminBackend {
  return {
    status: async () => buildStatus(control.state, [dataPath.stats()]),
    history: async (windowMs) => history.report(control.state, windowMs),
    setDrained: (id, drained, force) => control.setDrained(id, drained, force),
    metrics: async () => ({ contentType: metrics.registry.contentType, text: await metrics.registry.metrics() }),
  };
}
