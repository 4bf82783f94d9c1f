import type { FastifyRequest } from 'fastify';
import { isAuthorized } from '../../auth/admin-token.js';
import { USER_ID_PATTERN } from '../../ids/id-patterns.js';
import { MAX_PAGE, type LastCommit, type TenantPage } from '../../partition/tenant-directory.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { healthResponse, readinessResponse } from '../response-schemas.js';
import { userParams } from '../schemas.js';
import type { ApiInstance } from './route-context.js';

export interface SystemContext {
  /** Why the worker is not ready, or undefined when it serves. */
  notReadyReason(): string | undefined;
  status(): Record<string, unknown>;
  /** More for the admin status only (/_worker/status), e.g. the storage verdict: it names paths and mounts. */
  adminStatus?(): Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Hand the user's partition over: end its streams, close it, release the lease. */
  releasePartition(userId: string): Promise<void>;
  /** The tenants on shared storage, for GET /_worker/users (tenant-directory.ts: bounded cost per page). */
  tenants?: {
    page(after: string | undefined, limit: number): Promise<TenantPage>;
    /** The last commit of those of `ids` open on this worker (POST /_worker/users/last-commits). */
    openLastCommits(ids: readonly string[]): Map<string, LastCommit>;
  };
  /** Required on every /_worker/... endpoint; undefined leaves them open (loopback or --insecure only). */
  adminToken: string | undefined;
}

/**
 * Liveness, readiness, metrics, and the worker's own admin endpoints under
 * /_worker. /healthz, /readyz, /metrics and /docs are open: they show no
 * user id and no data (counts, the worker's id, pid and topology version).
 * /_worker/... need the cluster admin token once one is configured, from
 * the Authorization header only (never a query, a form or a body), compared
 * in constant time; a user's token is never one. Requests a browser sent
 * from a web page (an Origin, or Sec-Fetch-Site other than "none") are
 * refused even without a token configured, so that a page an operator
 * visits cannot make a worker hand its users over (CSRF).
 */
export function systemRoutes(app: ApiInstance, ctx: SystemContext): void {
  const hidden = { schema: { hide: true } };
  const requireAdmin = async (request: FastifyRequest): Promise<void> => {
    if (fromWebPage(request)) throw new PinbaseError('cross_site_request', 'the worker\'s admin endpoints take no requests from web pages');
    if (!isAuthorized(request.headers.authorization, ctx.adminToken)) {
      throw new PinbaseError('unauthorized', 'the worker\'s admin endpoints need the cluster admin token (Authorization: Bearer ...)');
    }
  };
  app.get('/healthz', { schema: { hide: true, response: { 200: healthResponse } } }, async (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true, response: { 200: readinessResponse } } }, async () => {
    const reason = ctx.notReadyReason();
    if (reason !== undefined) throw new PinbaseError('shutting_down', reason);
    return { status: 'ready', ...ctx.status() };
  });

  app.get('/metrics', hidden, async (_request, reply) => {
    const { contentType, body } = await ctx.metrics();
    return reply.type(contentType).send(body);
  });

  app.get('/_worker/status', { ...hidden, onRequest: requireAdmin }, async () => ({ ...ctx.status(), ...ctx.adminStatus?.() }));

  app.get(
    '/_worker/users',
    {
      schema: {
        hide: true,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: { type: 'string', pattern: USER_ID_PATTERN.source },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
          },
        } as const,
      },
      onRequest: requireAdmin,
    },
    async (request, reply) => {
      if (ctx.tenants === undefined) throw new PinbaseError('route_not_found', 'this worker has no tenant list');
      const { after, limit } = request.query;
      return reply.header('cache-control', 'no-store').send(await ctx.tenants.page(after, limit));
    },
  );

  // The router asks this for the tenants of a page the listing worker could not read (open elsewhere):
  // at most MAX_PAGE ids, each a map lookup among this worker's open partitions and one indexed row.
  app.post(
    '/_worker/users/last-commits',
    {
      schema: {
        hide: true,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['ids'],
          properties: { ids: { type: 'array', maxItems: MAX_PAGE, items: { type: 'string', pattern: USER_ID_PATTERN.source } } },
        } as const,
      },
      onRequest: requireAdmin,
    },
    async (request, reply) => {
      if (ctx.tenants === undefined) throw new PinbaseError('route_not_found', 'this worker has no tenant list');
      const found = ctx.tenants.openLastCommits(request.body.ids);
      return reply.header('cache-control', 'no-store').send({ users: [...found].map(([id, last]) => ({ id, ...last })) });
    },
  );

  app.post(
    '/_worker/partitions/:userId/release',
    {
      schema: { hide: true, params: userParams },
      onRequest: requireAdmin,
    },
    async (request) => {
      const { userId } = request.params;
      await ctx.releasePartition(userId);
      return { released: true, userId };
    },
  );
}

/** Whether a browser sent this request on behalf of a web page (as opposed to curl, a worker, or the address bar). */
function fromWebPage(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  return request.headers.origin !== undefined || (site !== undefined && site !== 'none');
}
