import type { FastifyRequest } from 'fastify';
import { inTransactionOp, parseJsonPatch } from '../../partition/json-patch.js';
import { TRANSACTION_BODY_STRUCTURE } from '../../partition/json-structure.js';
import type { TxOperation } from '../../partition/write-request.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { idempotencyClaim } from '../idempotency-key.js';
import { errorResponses, transactionBody, userParams, writeHeaders } from '../schemas.js';
import { transactionResult } from '../response-schemas.js';
import { sendWriteOutcome } from '../write-reply.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

/** POST /_tx: optimistic, all-or-nothing transactions over MVCC snapshots. */
export function transactionRoutes(app: ApiInstance, ctx: RouteContext): void {
  app.post(
    `${USER_BASE}/_tx`,
    {
      config: { bodyErrorCode: 'invalid_transaction', bodyStructure: TRANSACTION_BODY_STRUCTURE },
      // Before the schema: a malformed JSON Patch is 400 invalid_patch naming its transaction op and operation.
      preValidation: async (request: FastifyRequest) => {
        const { ops } = request.body as { ops?: unknown };
        if (Array.isArray(ops)) ops.forEach(checkJsonPatch);
      },
      schema: {
        summary: 'Commit a transaction: a read set to validate and operations to apply, all or nothing',
        description:
          'Every read-set entry must still have the rev the client read (0: absent), and every `ifRev` must hold; ' +
          'otherwise nothing is applied and the answer is 409 `transaction_conflict` listing every conflict. ' +
          'A `patch` op takes a JSON Merge Patch (an object) or a JSON Patch (an array of RFC 6902 operations); a JSON ' +
          'Patch that fails fails the transaction (409 `patch_test_failed` or `patch_conflict`, 400 `invalid_patch`), ' +
          'its problem naming the transaction op (`txOp`) and the operation inside the patch (`op`).',
        tags: ['transactions'],
        params: userParams,
        headers: writeHeaders,
        body: transactionBody,
        response: { 200: transactionResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const { reads = [] } = request.body;
      // The JSON Patches were checked before the schema: typing them here cannot fail.
      const ops = request.body.ops.map((op): TxOperation => {
        if (op.op !== 'patch') return op;
        return { ...op, patch: Array.isArray(op.patch) ? parseJsonPatch(op.patch) : op.patch };
      });
      const outcome = await ctx.store.write(userId, { op: 'tx', reads, ops }, idempotencyClaim(request));
      return sendWriteOutcome(reply, userId, outcome);
    },
  );
}

/** Checks the JSON Patch of transaction op `index` (a patch op with an array; any other op passes). */
function checkJsonPatch(op: unknown, index: number): void {
  const patch = typeof op === 'object' && op !== null && (op as { op?: unknown }).op === 'patch' ? (op as { patch?: unknown }).patch : undefined;
  if (!Array.isArray(patch)) return;
  try {
    parseJsonPatch(patch);
  } catch (error) {
    throw error instanceof PinbaseError ? inTransactionOp(error, index) : error;
  }
}
