import { TRANSACTION_BODY_STRUCTURE } from '../../partition/json-structure.js';
import { idempotencyClaim } from '../idempotency-key.js';
import { errorResponses, transactionBody, userParams, writeHeaders } from '../schemas.js';
import { sendWriteOutcome } from '../write-reply.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

/** POST /_tx: optimistic, all-or-nothing transactions over MVCC snapshots. */
export function transactionRoutes(app: ApiInstance, ctx: RouteContext): void {
  app.post(
    `${USER_BASE}/_tx`,
    {
      config: { bodyErrorCode: 'invalid_transaction', bodyStructure: TRANSACTION_BODY_STRUCTURE },
      schema: {
        summary: 'Commit a transaction: a read set to validate and operations to apply, all or nothing',
        description:
          'Every read-set entry must still have the rev the client read (0: absent), and every `ifRev` must hold; ' +
          'otherwise nothing is applied and the answer is 409 `transaction_conflict` listing every conflict.',
        tags: ['transactions'],
        params: userParams,
        headers: writeHeaders,
        body: transactionBody,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const { reads = [], ops } = request.body;
      const outcome = await ctx.store.write(userId, { op: 'tx', reads, ops }, idempotencyClaim(request));
      return sendWriteOutcome(reply, userId, outcome);
    },
  );
}
