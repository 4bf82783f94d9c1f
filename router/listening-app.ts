/**
 * The router's listening server: one node:http server whose requests go to
 * the data path first (which never goes through fastify); what it declines
 * reaches a fastify app with the router's own endpoints:
 *   GET  /_router/status                 cluster status (JSON; lists users: guarded)
 *   GET  /_router/users?after=&limit=    the tenants on storage and their owners (guarded; tenant-list.ts)
 *   POST /_router/workers/:id/drain      treat a worker as down for routing (idempotent;
 *                                        the last routable worker only with ?force=true)
 *   POST /_router/workers/:id/undrain    give a drained worker its users back (idempotent)
 *   GET  /_router/stats?window=5m         per-worker rates, latency and load history (guarded; stats-history.ts)
 *   GET  /_router/                       the dashboard (HTML)
 *   GET  /metrics                        Prometheus (no user ids)
 *   GET  /healthz, /readyz               the router's own health
 * Upgrade requests go to upgrade-path.ts (WebSocket change feeds; anything else is refused).
 * Who may call the guarded ones: admin-access.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { installProblemHandlers, sendProblem, toPinbaseError } from '../services/http/problem-reply.js';
import { PinbaseError } from '../services/problem/pinbase-error.js';
import { ADMIN_CHALLENGE, adminRefusal, type AdminAccessPolicy } from './admin-access.js';
import { ConnectionGate, connectionRefusal, type ConnectionLimits } from './connection-gate.js';
import { countHostHeaders, hostHeaderProblem } from './host-header.js';
import { DASHBOARD_HEADERS, DASHBOARD_HTML } from './dashboard-page.js';
import { replyClientError, replyProblem, replyRawProblem } from './problem-reply.js';
import type { MetricsText } from './router-metrics.js';
import { isRoutable, type DrainOutcome, type RouterControl } from './router-state.js';
import { parseStatsWindow, type StatsReport } from './stats-history.js';
import type { RouterStatus } from './status-report.js';
import { routedTenantPage } from './tenant-list.js';
import { USER_ID_PATTERN } from '../services/ids/id-patterns.js';
import { MAX_PAGE } from '../services/partition/tenant-directory.js';

/** What the admin endpoints need that differs between a router of one process and one of several. */
export interface AdminBackend {
  /** The cluster status, every router process's counters included. */
  status(): Promise<RouterStatus>;
  /** Drains or undrains a worker (the last routable one only with `force`). Idempotent. */
  setDrained(workerId: string, drained: boolean, force: boolean): Promise<DrainOutcome>;
  /** Every router process's metrics. */
  metrics(): Promise<MetricsText>;
  /** The per-worker history of the last `windowMs` (stats-history.ts). */
  history(windowMs: number): Promise<StatsReport>;
}

export interface ListeningAppParts {
  /** Forwards a request if it belongs to the data path; returns false for anything else. */
  readonly dataPath: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Answers every upgrade request: proxies a WebSocket to the owner or refuses with a problem (upgrade-path.ts). */
  readonly upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  readonly admin: AdminBackend;
  /** The control state this process routes with, for /readyz. */
  readonly control: Pick<RouterControl, 'state'>;
  /** The admin token (none: guarded endpoints take same-origin requests only) and where the router listens. */
  readonly access: AdminAccessPolicy;
  /** Connection caps and the time limits on clients. */
  readonly clients: ClientLimits;
}

export interface ClientLimits extends ConnectionLimits {
  /** A whole request (headers and body) must arrive within it; 408 beyond. */
  readonly requestTimeoutMs: number;
  /** A request's headers must arrive within it; 408 beyond. */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after it. */
  readonly keepAliveTimeoutMs: number;
}

/** How often Node checks the request and headers timeouts (its default, 30 s, would let them run 30 s late). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/**
 * The node:http server: requests go to `handle`, whatever Node does not
 * hand to a request handler becomes a problem too. Node's own answers are
 * replaced: a missing Host (its bare 400) is checked by the router; an
 * `Expect` other than 100-continue (its bare 417) is ignored, the request
 * served; CONNECT (it would close the connection without a word) is 400; a
 * request it cannot parse or that times out is answered by clientErrorHandler.
 */
function createListeningServer(
  limits: ClientLimits,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  upgrade: ListeningAppParts['upgrade'],
): Server {
  const server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
      requireHostHeader: false,
    },
    handle,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.on('checkExpectation', handle);
  // Without this listener Node would answer an upgrade request as a plain one.
  server.on('upgrade', upgrade);
  server.on('connect', (_req: IncomingMessage, socket: Socket) => replyRawProblem(socket, 'invalid_request', 'CONNECT is not supported: this is not a forward proxy'));
  new ConnectionGate(limits).install(server);
  return server;
}

/**
 * Builds the fastify app that owns the router's listening node:http server
 * (not listening yet): requests go to `dataPath` first, and what it declines
 * reaches the admin endpoints.
 */
export function buildListeningApp(parts: ListeningAppParts): FastifyInstance<Server> {
  const { dataPath, upgrade, admin: backend, control, access, clients } = parts;
  const app = Fastify({
    logger: false,
    // Served until the server closes; a plain-JSON 503 would not be a problem document.
    return503OnClosing: false,
    // Errors fastify's router raises before any hook runs (bad percent-encoding, over-long parameter).
    frameworkErrors: (error, request, reply) => void sendProblem(reply, toPinbaseError(error, request), request.url),
    serverFactory: (handler) =>
      createListeningServer(clients, (req, res) => {
        const refusal = connectionRefusal(req.socket);
        if (refusal !== undefined) replyProblem(res, refusal.code, refusal.detail, true);
        else if (!dataPath(req, res)) handler(req, res);
      }, upgrade),
    clientErrorHandler: (error, socket) => replyClientError(socket, error),
  });

  installProblemHandlers(app);

  app.addHook('onRequest', async (request, reply) => {
    const hostProblem = hostHeaderProblem(countHostHeaders(request.raw.rawHeaders), request.raw);
    if (hostProblem !== undefined) return sendProblem(reply, new PinbaseError('invalid_header', hostProblem), request.url);
    const path = request.url.split('?', 1)[0]!;
    const refusal = adminRefusal({ method: request.method, path, headers: request.headers }, access);
    if (refusal === undefined) return;
    if (refusal.code === 'unauthorized') reply.header('www-authenticate', ADMIN_CHALLENGE);
    return sendProblem(reply, refusal, request.url);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const state = control.state;
    const routableWorkers = state.workers.filter(isRoutable).length;
    if (routableWorkers === 0) return sendProblem(reply, new PinbaseError('no_worker_available', 'no worker is up'), request.url);
    return { status: 'ready', topologyVersion: state.version, routableWorkers };
  });
  app.get('/_router/status', async (_request, reply) => reply.header('cache-control', 'no-store').send(await backend.status()));
  app.get<{ Querystring: Record<string, string | undefined> }>('/_router/users', async (request, reply) => {
    const { after, limit } = request.query;
    if (after !== undefined && !USER_ID_PATTERN.test(after)) {
      return sendProblem(reply, new PinbaseError('invalid_request', `after must be a user id (${USER_ID_PATTERN.source})`), request.url);
    }
    const size = limit === undefined ? 100 : /^\d{1,4}$/.test(limit) ? Number(limit) : 0;
    if (size < 1 || size > MAX_PAGE) return sendProblem(reply, new PinbaseError('invalid_request', `limit must be an integer from 1 to ${MAX_PAGE}`), request.url);
    const page = await routedTenantPage(control.state, access.adminToken, { after, limit: size });
    return reply.header('cache-control', 'no-store').send(page);
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/_router/stats', async (request, reply) => {
    const windowMs = parseStatsWindow(request.query.window);
    if (windowMs === undefined) {
      return sendProblem(reply, new PinbaseError('invalid_request', 'window must be a duration with its unit from 1s to 10m (e.g. 90s, 5m)'), request.url);
    }
    return reply.header('cache-control', 'no-store').send(await backend.history(windowMs));
  });
  app.get('/_router', async (_request, reply) => reply.redirect('/_router/'));
  app.get('/_router/', async (_request, reply) => reply.headers(DASHBOARD_HEADERS).send(DASHBOARD_HTML));
  for (const action of ['drain', 'undrain'] as const) {
    app.post<{ Params: { id: string }; Querystring: { force?: string } }>(`/_router/workers/:id/${action}`, async (request, reply) => {
      const id = request.params.id;
      const outcome = await backend.setDrained(id, action === 'drain', request.query.force === 'true');
      if (outcome === 'unknown_worker') return sendProblem(reply, new PinbaseError('worker_not_found', `no worker "${id}" in the topology`), request.url);
      if (outcome === 'last_worker') {
        const detail = `worker ${id} is the last routable worker: draining it refuses every user's requests; ask again with ?force=true to do it anyway`;
        return sendProblem(reply, new PinbaseError('last_worker', detail), request.url);
      }
      const status = await backend.status();
      return status.workers.find((w) => w.id === id);
    });
  }
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await backend.metrics();
    return reply.type(contentType).send(text);
  });
  return app;
}
