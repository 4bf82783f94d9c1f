import type { FastifyInstance } from 'fastify';
import type { JsonObject } from '../../partition/write-request.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { idempotencyClaim } from '../idempotency-key.js';
import {
  collectionParams,
  documentBody,
  historyQuery,
  listQuery,
  objectParams,
  problemResponse,
  writeHeaders,
} from '../schemas.js';
import { sendWriteOutcome } from '../write-reply.js';
import { USER_BASE, type CollectionParams, type ObjectParams, type RouteContext } from './route-context.js';

const errors = { '4xx': problemResponse, '5xx': problemResponse };

/** Listing and creating in a collection; the version history of one object. */
export function collectionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get(
    `${USER_BASE}/:collection`,
    {
      schema: {
        summary: 'List a collection in id order, paginated by an opaque cursor',
        tags: ['collections'],
        params: collectionParams,
        querystring: listQuery,
        response: errors,
      },
    },
    async (request, reply) => {
      const { userId, collection } = request.params as CollectionParams;
      const query = request.query as { at?: number; limit: number; cursor?: string };
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (cursor?.at !== undefined && query.at !== undefined && cursor.at !== query.at) {
        throw new PinbaseError('invalid_cursor', 'the cursor belongs to another snapshot than `at`');
      }
      const at = cursor?.at ?? query.at;
      const { rows, seq } = await ctx.store.read(userId, (view) => {
        if (at !== undefined) view.assertSnapshot(at);
        return { rows: view.list(collection, { after: cursor?.after ?? '', limit: query.limit + 1, at }), seq: at ?? view.seq };
      });
      const more = rows.length > query.limit;
      const page = more ? rows.slice(0, query.limit) : rows;
      const last = page[page.length - 1];
      const next = more && last ? encodeCursor(at === undefined ? { after: last.id } : { after: last.id, at }) : null;
      const items = page.map((row) => `{"id":${JSON.stringify(row.id)},"rev":${row.rev},"data":${row.body}}`);
      reply.header('x-pinbase-seq', String(seq));
      return reply
        .type('application/json; charset=utf-8')
        .send(`{"items":[${items.join(',')}],"next":${JSON.stringify(next)}}`);
    },
  );

  app.post(
    `${USER_BASE}/:collection`,
    {
      schema: {
        summary: 'Create an object with a server-generated, time-sortable id',
        tags: ['collections'],
        params: collectionParams,
        headers: writeHeaders,
        body: documentBody,
        response: errors,
      },
    },
    async (request, reply) => {
      const { userId, collection } = request.params as CollectionParams;
      const outcome = await ctx.store.write(
        userId,
        { op: 'create', collection, document: request.body as JsonObject },
        idempotencyClaim(request),
      );
      return sendWriteOutcome(reply, userId, outcome);
    },
  );

  app.get(
    `${USER_BASE}/:collection/:id/_history`,
    {
      schema: {
        summary: 'The versions of one object, newest first (within the retention window)',
        tags: ['objects'],
        params: objectParams,
        querystring: historyQuery,
        response: errors,
      },
    },
    async (request, reply) => {
      const { userId, collection, id } = request.params as ObjectParams;
      const query = request.query as { limit: number; before?: number };
      const { versions, seq } = await ctx.store.read(userId, (view) => ({
        versions: view.history(collection, id, { before: query.before, limit: query.limit + 1 }),
        seq: view.seq,
      }));
      reply.header('x-pinbase-seq', String(seq));
      if (versions.length === 0 && query.before === undefined) {
        throw new PinbaseError('object_not_found', `${collection}/${id} has no versions`);
      }
      const more = versions.length > query.limit;
      const page = more ? versions.slice(0, query.limit) : versions;
      const entries = page.map(
        (v) =>
          `{"rev":${v.rev},"deleted":${v.deleted},"committedAt":"${new Date(v.committedAt).toISOString()}","data":${v.body ?? 'null'}}`,
      );
      const next = more ? page[page.length - 1]!.rev : null;
      return reply.type('application/json; charset=utf-8').send(`{"versions":[${entries.join(',')}],"next":${next}}`);
    },
  );
}
