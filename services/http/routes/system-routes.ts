import { isAuthorized } from '../../auth/admin-token.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { userParams } from '../schemas.js';
import type { ApiInstance } from './route-context.js';

export interface SystemContext {
  /** Why the worker is not ready, or undefined when it serves. */
  notReadyReason(): string | undefined;
  status(): Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Hand the user's partition over: end its streams, close it, release the lease. */
  releasePartition(userId: string): Promise<void>;
  /** Required on POST /_worker/...; undefined leaves those endpoints open. */
  adminToken: string | undefined;
}

/** Liveness, readiness, metrics, and the worker's own admin endpoints under /_worker. */
export function systemRoutes(app: ApiInstance, ctx: SystemContext): void {
  const hidden = { schema: { hide: true } };
  app.get('/healthz', hidden, async (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', hidden, async () => {
    const reason = ctx.notReadyReason();
    if (reason !== undefined) throw new PinbaseError('shutting_down', reason);
    return { status: 'ready', ...ctx.status() };
  });

  app.get('/metrics', hidden, async (_request, reply) => {
    const { contentType, body } = await ctx.metrics();
    return reply.type(contentType).send(body);
  });

  app.get('/_worker/status', hidden, async () => ctx.status());

  app.post(
    '/_worker/partitions/:userId/release',
    {
      schema: { hide: true, params: userParams },
      onRequest: async (request) => {
        if (!isAuthorized(request.headers.authorization, ctx.adminToken)) {
          throw new PinbaseError('unauthorized', 'handover requests need the cluster admin token');
        }
      },
    },
    async (request) => {
      const { userId } = request.params;
      await ctx.releasePartition(userId);
      return { released: true, userId };
    },
  );
}
