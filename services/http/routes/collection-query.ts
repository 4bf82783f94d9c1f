import type { FastifyReply } from 'fastify';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { parseQuerySpec, querySpecHash } from '../../query/query-spec.js';
import { decodeQueryCursor, encodeQueryCursor, MAX_CURSOR_CHARS } from '../cursor.js';
import type { RouteContext } from './route-context.js';

export interface QueryParams {
  filter?: string | undefined;
  order?: string | undefined;
  fields?: string | undefined;
  cursor?: string | undefined;
  at?: number | undefined;
  limit: number;
}

/**
 * Answers `GET /:collection` with `filter`, `order` or `fields`: one page of
 * the query, `{"items":[{"id","rev","data"}…],"next":cursor|null}` like a
 * listing, with `X-Pinbase-Index` naming the index SQLite's plan used (the
 * user's name) or `none` for a scan. A cursor is accepted only with the same
 * query (hash of filter, order and fields) and snapshot.
 */
export async function answerQuery(ctx: RouteContext, userId: string, collection: string, params: QueryParams, reply: FastifyReply): Promise<FastifyReply> {
  const spec = parseQuerySpec(params);
  const hash = querySpecHash(spec);
  const cursor = params.cursor === undefined ? undefined : decodeQueryCursor(params.cursor);
  if (cursor && cursor.query !== hash) throw new PinbaseError('invalid_cursor', 'the cursor belongs to another query (filter, order or fields)');
  if (cursor && cursor.keys.length !== spec.order.length) throw new PinbaseError('invalid_cursor', 'the cursor belongs to another query');
  if (cursor && (params.at ?? cursor.at) !== cursor.at) throw new PinbaseError('invalid_cursor', 'the cursor belongs to another snapshot than `at`');
  const at = cursor?.at ?? params.at;
  const after = cursor && { keys: cursor.keys, id: cursor.id };
  const { page, seq } = await ctx.store.read(userId, (view) => {
    if (at !== undefined) view.assertSnapshot(at);
    return { page: view.query(collection, spec, { after, limit: params.limit, at }), seq: at ?? view.seq };
  });
  let next: string | null = null;
  if (page.more && page.resume) {
    next = encodeQueryCursor({ query: hash, keys: page.resume.keys, id: page.resume.id, ...(at === undefined ? {} : { at }) }) ?? null;
    if (next === null) {
      throw new PinbaseError('invalid_order', `the order values of object ${page.resume.id} make a cursor longer than ${MAX_CURSOR_CHARS} characters; order by shorter fields`);
    }
  }
  const items = page.items.map((row) => `{"id":${JSON.stringify(row.id)},"rev":${row.rev},"data":${row.body}}`);
  reply.header('x-pinbase-seq', String(seq));
  reply.header('x-pinbase-index', page.index ?? 'none');
  return reply.type('application/json; charset=utf-8').send(`{"items":[${items.join(',')}],"next":${JSON.stringify(next)}}`);
}
