import type { FastifyReply } from 'fastify';
import type { WriteOutcome } from '../partition/write-request.js';
import { entityTag } from './conditional-headers.js';

/**
 * Sends the answer to a write. The body and status are a pure function of
 * the stored WriteResult, so an idempotent replay answers byte for byte what
 * the first request got (plus `Idempotent-Replayed: true`).
 */
export function sendWriteOutcome(reply: FastifyReply, userId: string, outcome: WriteOutcome): FastifyReply {
  const { result, replayed } = outcome;
  if (replayed) reply.header('idempotent-replayed', 'true');
  reply.header('x-pinbase-seq', String(result.seq));
  if (result.kind === 'tx') {
    return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify({ seq: result.seq, results: result.results }));
  }
  if (result.kind === 'revert') {
    return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify({ seq: result.seq, reverted: result.reverted }));
  }
  reply.header('etag', entityTag(result.rev));
  const body: Record<string, unknown> = { collection: result.collection, id: result.id, rev: result.rev };
  if (result.outcome === 'deleted') body.deleted = true;
  if (result.outcome === 'created') {
    reply.header('location', `/api/users/${userId}/${result.collection}/${encodeURIComponent(result.id)}`);
  }
  return reply
    .code(result.outcome === 'created' ? 201 : 200)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(body));
}
