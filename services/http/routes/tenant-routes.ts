import { MAX_REVERT_OBJECTS } from '../../partition/revert-write.js';
import { idempotencyClaim } from '../idempotency-key.js';
import { errorResponses, revertBody, revertResponse, userParams, writeHeaders } from '../schemas.js';
import { sendWriteOutcome } from '../write-reply.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

/** Whole-tenant operations: POST /_revert (roll back to a commit) and DELETE /api/users/:userId (erase). */
export function tenantRoutes(app: ApiInstance, ctx: RouteContext): void {
  app.post(
    `${USER_BASE}/_revert`,
    {
      schema: {
        summary: 'Revert the user (or one collection) to its state at a commit, in one new commit',
        description:
          'Every object that differs from its version at `to` gets a new version with that body; one absent or deleted ' +
          'then and live now gets a tombstone; one live then and deleted now is re-created. History stays, so a revert ' +
          'is itself revertible. Nothing to change: no commit, `reverted` 0 and the latest seq. 410 `snapshot_pruned` ' +
          'before the retention horizon, 400 `snapshot_in_future` beyond the latest commit, 413 `transaction_too_large` ' +
          `beyond ${MAX_REVERT_OBJECTS} objects changed (revert by collection). Honours Idempotency-Key.`,
        tags: ['tenant'],
        params: userParams,
        headers: writeHeaders,
        body: revertBody,
        response: { 200: revertResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const { to, collection } = request.body;
      const outcome = await ctx.store.write(
        userId,
        collection === undefined ? { op: 'revert', to } : { op: 'revert', to, collection },
        idempotencyClaim(request),
      );
      return sendWriteOutcome(reply, userId, outcome);
    },
  );

  app.delete(
    USER_BASE,
    {
      schema: {
        summary: 'Erase the user (GDPR Art. 17): its file, history, idempotency records and lease',
        description:
          'Answers 204 once every file of the user is deleted from storage; afterwards the user reads as never written ' +
          '(404, empty listings, seq 0) and a write creates a new, empty user. A write acknowledged before the erase is ' +
          'erased with the rest; one arriving during it fails (503, retryable) or waits and then writes to the new user. ' +
          'Erasing a user with no data is 204 too. Needs a read-write token.',
        tags: ['tenant'],
        params: userParams,
        response: { 204: { description: 'Erased', type: 'null' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      await ctx.store.erase(request.params.userId);
      return reply.header('x-pinbase-seq', '0').code(204).send();
    },
  );
}
