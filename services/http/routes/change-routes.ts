import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { accessTokenQueryProperty } from '../../auth/request-auth.js';
import { problemDocument } from '../../problem/problem-document.js';
import { toPinbaseError } from '../problem-reply.js';
import type { RequestSlots } from '../request-slots.js';
import { changesQuery, errorResponses, userParams } from '../schemas.js';
import { changeResponses } from '../response-schemas.js';
import type { StreamSlots } from '../stream-slots.js';
import type { ChangesPosition } from '../../partition/object-reads.js';
import { ChangeFeed, changesPosition, formatChange, pageCursor, type FeedFraming, type FeedResume } from './change-feed.js';
import { admitSocketFeed, serveSocketFeed, type SocketFeedContext } from './change-socket.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

/** How live streams are counted: a stream leaves its request slot for a stream slot. */
export interface LiveStreamSlots {
  streams: StreamSlots;
  requestSlots: RequestSlots;
}

/**
 * GET /_changes: the change feed. As JSON, one page of changes after
 * `since`; with `Accept: text/event-stream`, a live SSE stream: one event
 * per commit (`id:` is its seq), resumable with Last-Event-ID; with
 * `Upgrade: websocket`, the same live feed on a WebSocket (change-socket.ts,
 * change-socket-protocol.ts).
 */
export function changeRoutes(app: ApiInstance, ctx: SocketFeedContext): void {
  const { slots } = ctx;
  app.route({
    method: 'GET',
    url: `${USER_BASE}/_changes`,
    schema: {
      summary:
        'The change feed (JSON page; a live SSE stream with Accept: text/event-stream; a live WebSocket feed with Upgrade: websocket)',
      description:
        'What every framing lists: the current version of each object changed after `since`, grouped by the commit that wrote it, ' +
        'in seq order. An object changed several times appears once, at its last seq, so a commit whose objects were all changed ' +
        'again later does not appear, and one appears with only its objects not changed since. A live client that keeps up gets ' +
        'each commit as it is made; one that is behind, or resumes, gets the latest version of each object. ' +
        'With `Upgrade: websocket`: authenticate with the Authorization header or, without one, with `{"type":"auth","token":"<jwt>"}` ' +
        'as the first message within 5 s (never ?access_token=). The server sends `{"type":"ready","seq":N}`, then ' +
        '`{"type":"change","seq":N,"changes":[...]}` per commit after `since`. Close codes: 4421 the partition moved ' +
        '(reconnect through the router, resume with since = the last seq seen), 1001 worker shutting down (reconnect), ' +
        '4400 bad message, 4401 bad token, 4403 token for another user, 4408 no auth message in time.',
      tags: ['changes'],
      params: userParams,
      querystring: { ...changesQuery, properties: { ...changesQuery.properties, ...accessTokenQueryProperty } },
      headers: {
        type: 'object',
        properties: {
          'last-event-id': { type: 'string', pattern: '^[A-Za-z0-9_-]{1,2048}$', description: 'An SSE id: a seq, or the cursor of a part of a large commit' },
        },
      },
      response: { 200: changeResponses, ...errorResponses },
    },
    // EventSource cannot send an Authorization header (services/auth/request-auth.ts); WebSockets: change-socket.ts.
    config: { acceptsQueryToken: true, acceptsWebSocket: true },
    preHandler: async (request, reply) => {
      const { params, query } = request;
      await admitSocketFeed(ctx, request, reply, { userId: params.userId, since: query.since, cursor: query.cursor, includeData: query.includeData });
    },
    wsHandler: (socket, request) => {
      const { params, query } = request;
      serveSocketFeed(ctx, socket, request, { userId: params.userId, since: query.since, cursor: query.cursor, includeData: query.includeData });
    },
    handler: async (request, reply) => {
      const { userId } = request.params;
      const { query } = request;
      const live = request.headers.accept?.includes('text/event-stream') === true;
      const { since, cursor } = resumeOf(query, request.headers['last-event-id']);
      const page = await ctx.store.read(userId, (view) => {
        const from = changesPosition(view.seq, since, cursor, live ? view.seq : 0);
        return { from, seq: view.seq, changes: live ? undefined : view.changes(from, query.limit, query.includeData) };
      });
      reply.header('x-pinbase-seq', String(page.seq));
      if (page.changes === undefined) {
        // Throws overloaded / too_many_streams (with Retry-After) before any byte of the stream is sent.
        const release = slots.streams.acquire(userId);
        slots.requestSlots.leave(request);
        return streamChanges(ctx, request, reply, userId, page.from, query.includeData, release);
      }
      const { changes } = page.changes;
      const next = pageCursor(page.changes);
      // A page that ends inside a commit holds that commit alone (a part of it): the last whole one is before it.
      const lastSeq = next !== undefined ? changes[0]!.seq - 1 : changes.length > 0 ? changes[changes.length - 1]!.seq : page.from.seq;
      const rows = changes.map(formatChange);
      return reply
        .type('application/json; charset=utf-8')
        .send(
          `{"changes":[${rows.join(',')}],"lastSeq":${lastSeq},"hasMore":${next !== undefined || lastSeq < page.seq}` +
            `${next === undefined ? '' : `,"cursor":"${next}"`}}`,
        );
    },
  });
}

/** Where a request resumes: its since or cursor, or an SSE Last-Event-ID (a seq, or a part's cursor) instead. */
function resumeOf(query: { since?: number | undefined; cursor?: string | undefined }, lastEventId: string | undefined): FeedResume {
  if (lastEventId === undefined) return { since: query.since, cursor: query.cursor };
  return /^[0-9]{1,16}$/.test(lastEventId) ? { since: Number(lastEventId), cursor: undefined } : { since: undefined, cursor: lastEventId };
}

/**
 * SSE framing: one event per commit (`id:` is its seq; for a part of a
 * large commit but its last, `partial` and its cursor, which is also the
 * id), a comment line as heartbeat, an `error` event before an end caused
 * by one.
 */
function sseFraming(raw: FastifyReply['raw']): FeedFraming {
  return {
    commit(seq, rows, cursor) {
      const part = cursor === undefined ? '' : `,"partial":true,"cursor":"${cursor}"`;
      const text = `id: ${cursor ?? seq}\nevent: change\ndata: {"seq":${seq},"changes":[${rows.join(',')}]${part}}\n\n`;
      return raw.write(text) ? undefined : once(raw, 'drain').then(() => undefined);
    },
    heartbeat() {
      raw.write(': keep-alive\n\n');
    },
    finish(end) {
      if (end.kind === 'error') raw.write(`event: error\ndata: ${JSON.stringify(problemDocument(end.error.code, end.error.detail))}\n\n`);
      raw.end();
    },
  };
}

/**
 * Streams the user's commits after `from` as SSE until the client leaves,
 * the user is handed over or the worker stops (ChangeFeed: memory per stream
 * is one page of changes, waiting for the socket to drain whenever it is full).
 */
async function streamChanges(
  ctx: RouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  from: ChangesPosition,
  includeData: boolean,
  releaseSlot: () => void,
): Promise<void> {
  reply.raw.once('close', releaseSlot);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 1000\n\n');
  // The store ends the stream when the user is handed over or the worker stops.
  const feed = new ChangeFeed(
    {
      store: ctx.store,
      heartbeatMs: ctx.heartbeatMs,
      userId,
      from,
      includeData,
      toProblem: (error) => toPinbaseError(error, request),
      onEnd: releaseSlot,
    },
    sseFraming(raw),
  );
  const clientLeft = () => {
    feed.end({ kind: 'client' });
    raw.end();
  };
  raw.on('close', clientLeft);
  // The client may have left while the stream was being set up.
  if (raw.destroyed) return clientLeft();
  await feed.start();
}
