/**
 * The router's own endpoints, served by fastify on the router's port next to
 * the data path (which never goes through fastify):
 *   GET  /_router/status                 cluster status (JSON)
 *   POST /_router/workers/:id/drain      treat a worker as down for routing (idempotent)
 *   POST /_router/workers/:id/undrain    give a drained worker its users back (idempotent)
 *   GET  /_router/                       the dashboard (HTML)
 *   GET  /metrics                        Prometheus
 *   GET  /healthz, /readyz               the router's own health
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { isAuthorized } from '../services/admin/admin-token.js';
import { installProblemHandlers, sendProblem } from '../services/http/problem-reply.js';
import { PinbaseError } from '../services/problem/pinbase-error.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { replyClientError } from './problem-reply.js';
import type { RouterStatus } from './status-report.js';

/** What the admin endpoints need, whether the router runs as one process or several. */
export interface AdminBackend {
  status(): Promise<RouterStatus>;
  /** Resolves false when no worker has that id. Idempotent. */
  setDrained(workerId: string, drained: boolean): Promise<boolean>;
  metrics(): Promise<{ contentType: string; text: string }>;
  /** Topology version and routable worker count, for /readyz. */
  readiness(): { topologyVersion: number; routableWorkers: number };
}

/**
 * Builds the fastify app around a node:http server whose requests go to
 * `dataPath` first; what it declines (returns false for) reaches fastify.
 */
export function buildAdminApp(
  backend: AdminBackend,
  dataPath: (req: IncomingMessage, res: ServerResponse) => boolean,
  adminToken: string | undefined,
): FastifyInstance<Server> {
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
    const { topologyVersion, routableWorkers } = backend.readiness();
    if (routableWorkers === 0) return sendProblem(reply, new PinbaseError('no_worker_available', 'no worker is up'), request.url);
    return { status: 'ready', topologyVersion, routableWorkers };
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
