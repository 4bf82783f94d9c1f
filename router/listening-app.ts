/**
 * The router's listening server: one node:http server whose requests go to
 * the data path first (which never goes through fastify); what it declines
 * reaches a fastify app with the router's own endpoints:
 *   GET  /_router/status                 cluster status (JSON)
 *   POST /_router/workers/:id/drain      treat a worker as down for routing (idempotent)
 *   POST /_router/workers/:id/undrain    give a drained worker its users back (idempotent)
 *   GET  /_router/                       the dashboard (HTML)
 *   GET  /metrics                        Prometheus
 *   GET  /healthz, /readyz               the router's own health
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { isAuthorized } from '../services/auth/admin-token.js';
import { installProblemHandlers, sendProblem } from '../services/http/problem-reply.js';
import { PinbaseError } from '../services/problem/pinbase-error.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { replyClientError } from './problem-reply.js';
import type { MetricsText } from './router-metrics.js';
import { isRoutable, type RouterControl } from './router-state.js';
import type { RouterStatus } from './status-report.js';

/** What the admin endpoints need that differs between a router of one process and one of several. */
export interface AdminBackend {
  /** The cluster status, every router process's counters included. */
  status(): Promise<RouterStatus>;
  /** Resolves false when no worker has that id. Idempotent. */
  setDrained(workerId: string, drained: boolean): Promise<boolean>;
  /** Every router process's metrics. */
  metrics(): Promise<MetricsText>;
}

export interface ListeningAppParts {
  /** Forwards a request if it belongs to the data path; returns false for anything else. */
  readonly dataPath: (req: IncomingMessage, res: ServerResponse) => boolean;
  readonly admin: AdminBackend;
  /** The control state this process routes with, for /readyz. */
  readonly control: Pick<RouterControl, 'state'>;
  /** The bearer token the POST endpoints require (none: they are open). */
  readonly adminToken: string | undefined;
}

/**
 * Builds the fastify app that owns the router's listening node:http server
 * (not listening yet): requests go to `dataPath` first, and what it declines
 * reaches the admin endpoints.
 */
export function buildListeningApp(parts: ListeningAppParts): FastifyInstance<Server> {
  const { dataPath, admin: backend, control, adminToken } = parts;
  const app = Fastify({
    logger: false,
    serverFactory: (handler) =>
      createServer((req, res) => {
        if (!dataPath(req, res)) handler(req, res);
      }),
    clientErrorHandler: (error, socket) => replyClientError(socket, error),
  });

  installProblemHandlers(app);

  app.addHook('onRequest', async (request, reply) => {
    if (request.method === 'POST' && !isAuthorized(request.headers.authorization, adminToken)) {
      const detail = 'this admin endpoint needs the cluster admin token (Authorization: Bearer ...)';
      return sendProblem(reply, new PinbaseError('unauthorized', detail), request.url);
    }
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const state = control.state;
    const routableWorkers = state.workers.filter(isRoutable).length;
    if (routableWorkers === 0) return sendProblem(reply, new PinbaseError('no_worker_available', 'no worker is up'), request.url);
    return { status: 'ready', topologyVersion: state.version, routableWorkers };
  });
  app.get('/_router/status', async (_request, reply) => reply.header('cache-control', 'no-store').send(await backend.status()));
  app.get('/_router', async (_request, reply) => reply.redirect('/_router/'));
  app.get('/_router/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));
  for (const action of ['drain', 'undrain'] as const) {
    app.post<{ Params: { id: string } }>(`/_router/workers/:id/${action}`, async (request, reply) => {
      const known = await backend.setDrained(request.params.id, action === 'drain');
      if (!known) return sendProblem(reply, new PinbaseError('worker_not_found', `no worker "${request.params.id}" in the topology`), request.url);
      const status = await backend.status();
      return status.workers.find((w) => w.id === request.params.id);
    });
  }
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await backend.metrics();
    return reply.type(contentType).send(text);
  });
  return app;
}
