import { PinbaseError } from '../../problem/pinbase-error.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { idempotencyClaim } from '../idempotency-key.js';
import { collectionParams, documentBody, errorResponses, listQuery, writeHeaders } from '../schemas.js';
import { objectPage, writeResponse } from '../response-schemas.js';
import { sendWriteOutcome } from '../write-reply.js';
import { answerQuery } from './collection-query.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

/** Listing and creating in a collection. */
export function collectionRoutes(app: ApiInstance, ctx: RouteContext): void {
  app.get(
    `${USER_BASE}/:collection`,
    {
      schema: {
        summary: 'List or query a collection, paginated by an opaque cursor',
        description:
          'Without filter, order and fields: the live objects in id order. With them: a query (see the README). ' +
          'A query answers with X-Pinbase-Index: the index SQLite used, or none for a scan.',
        tags: ['collections'],
        params: collectionParams,
        querystring: listQuery,
        response: { 200: objectPage, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection } = request.params;
      const { query } = request;
      if (query.filter !== undefined || query.order !== undefined || query.fields !== undefined) {
        return answerQuery(ctx, userId, collection, query, reply);
      }
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (cursor?.at !== undefined && query.at !== undefined && cursor.at !== query.at) {
        throw new PinbaseError('invalid_cursor', 'the cursor belongs to another snapshot than `at`');
      }
      const at = cursor?.at ?? query.at;
      // A page ends at `limit` objects or at the store's page byte budget, whichever comes first.
      const { page, seq } = await ctx.store.read(userId, (view) => {
        if (at !== undefined) view.assertSnapshot(at);
        return { page: view.list(collection, { after: cursor?.after ?? '', limit: query.limit, at }), seq: at ?? view.seq };
      });
      // A snapshot page may end on its scan budget before its last item, or with none: it resumes after `page.after`.
      const resume = page.after ?? page.items[page.items.length - 1]?.id;
      const next = page.more && resume !== undefined ? encodeCursor(at === undefined ? { after: resume } : { after: resume, at }) : null;
      const items = page.items.map((row) => `{"id":${JSON.stringify(row.id)},"rev":${row.rev},"data":${row.body}}`);
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
        response: { 201: writeResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { userId, collection } = request.params;
      const outcome = await ctx.store.write(
        userId,
        { op: 'create', collection, document: request.body },
        idempotencyClaim(request),
      );
      return sendWriteOutcome(reply, userId, outcome);
    },
  );
}
