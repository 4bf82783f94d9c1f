import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Change } from '../../partition/object-reads.js';
import { accessTokenQueryProperty } from '../../auth/request-auth.js';
import { PinbaseError } from '../../problem/pinbase-error.js';
import { problemDocument } from '../../problem/problem-document.js';
import { toPinbaseError } from '../problem-reply.js';
import type { RequestSlots } from '../request-slots.js';
import { changesQuery, errorResponses, userParams } from '../schemas.js';
import { changeResponses } from '../response-schemas.js';
import type { StreamSlots } from '../stream-slots.js';
import { USER_BASE, type ApiInstance, type RouteContext } from './route-context.js';

/** Changes a live stream reads per page. */
const PAGE = 500;
/**
 * Bytes of document bodies a live stream reads per page (at least one whole
 * commit): what a stream whose client does not read holds while it waits
 * for the socket to drain, so --max-streams of them stay within memory.
 */
const STREAM_PAGE_BYTES = 256 * 1024;

/** How live streams are counted: a stream leaves its request slot for a stream slot. */
export interface LiveStreamSlots {
  streams: StreamSlots;
  requestSlots: RequestSlots;
}

/**
 * GET /_changes: the change feed. As JSON, one page of changes after
 * `since`; with `Accept: text/event-stream`, a live SSE stream: one event
 * per commit (`id:` is its seq), resumable with Last-Event-ID.
 */
export function changeRoutes(app: ApiInstance, ctx: RouteContext, slots: LiveStreamSlots): void {
  app.get(
    `${USER_BASE}/_changes`,
    {
      schema: {
        summary: 'The change feed (JSON page, or a live SSE stream with Accept: text/event-stream)',
        tags: ['changes'],
        params: userParams,
        querystring: { ...changesQuery, properties: { ...changesQuery.properties, ...accessTokenQueryProperty } },
        headers: { type: 'object', properties: { 'last-event-id': { type: 'string', pattern: '^[0-9]{1,16}$' } } },
        response: { 200: changeResponses, ...errorResponses },
      },
      // EventSource cannot send an Authorization header (services/auth/request-auth.ts).
      config: { acceptsQueryToken: true },
    },
    async (request, reply) => {
      const { userId } = request.params;
      const { query } = request;
      const lastEventId = request.headers['last-event-id'];
      const since = typeof lastEventId === 'string' ? Number(lastEventId) : query.since;
      const live = request.headers.accept?.includes('text/event-stream') === true;
      const page = await ctx.store.read(userId, (view) => {
        if (since !== undefined && since > view.seq) {
          throw new PinbaseError('invalid_since', `since ${since} is beyond the latest commit ${view.seq}`);
        }
        const from = since ?? (live ? view.seq : 0);
        return { from, seq: view.seq, changes: live ? [] : view.changes(from, query.limit, query.includeData) };
      });
      reply.header('x-pinbase-seq', String(page.seq));
      if (live) {
        // Throws overloaded / too_many_streams (with Retry-After) before any byte of the stream is sent.
        const release = slots.streams.acquire(userId);
        slots.requestSlots.leave(request);
        return streamChanges(ctx, request, reply, userId, page.from, query.includeData, release);
      }
      const lastSeq = page.changes.length > 0 ? page.changes[page.changes.length - 1]!.seq : page.from;
      const rows = page.changes.map(formatChange);
      return reply
        .type('application/json; charset=utf-8')
        .send(`{"changes":[${rows.join(',')}],"lastSeq":${lastSeq},"hasMore":${lastSeq < page.seq}}`);
    },
  );
}

function formatChange(change: Change): string {
  const data = change.body === undefined ? '' : `,"data":${change.body ?? 'null'}`;
  return `{"seq":${change.seq},"collection":${JSON.stringify(change.collection)},"id":${JSON.stringify(change.id)},"deleted":${change.deleted}${data}}`;
}

/** SSE events, one per commit, with its seq; `changes` holds whole commits (readChanges never splits one). */
function* formatEvents(changes: Change[]): Generator<{ seq: number; text: string }> {
  for (let i = 0; i < changes.length; ) {
    const seq = changes[i]!.seq;
    const rows: string[] = [];
    for (; i < changes.length && changes[i]!.seq === seq; i++) rows.push(formatChange(changes[i]!));
    yield { seq, text: `id: ${seq}\nevent: change\ndata: {"seq":${seq},"changes":[${rows.join(',')}]}\n\n` };
  }
}

/**
 * Streams the user's commits after `from` until the client leaves, the user
 * is handed over or the worker stops. Memory per stream is bounded: one page
 * of changes (PAGE and the store's page byte budget) at a time, written an
 * event at a time, waiting for the socket to drain whenever it is full.
 */
async function streamChanges(
  ctx: RouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  from: number,
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
  let position = from;
  const abort = new AbortController();
  let pumping = false;
  let again = false;
  let ended = false;

  const end = (problem?: PinbaseError) => {
    if (ended) return;
    ended = true;
    releaseSlot();
    abort.abort();
    clearInterval(heartbeat);
    unsubscribe();
    if (problem) raw.write(`event: error\ndata: ${JSON.stringify(problemDocument(problem.code, problem.detail))}\n\n`);
    raw.end();
  };

  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        for (;;) {
          const changes = await ctx.store.read(userId, (view) => view.changes(position, PAGE, includeData, STREAM_PAGE_BYTES));
          if (ended || changes.length === 0) break;
          for (const event of formatEvents(changes)) {
            if (ended) return;
            position = event.seq;
            if (!raw.write(event.text)) await once(raw, 'drain', { signal: abort.signal });
          }
        }
      } while (again && !ended);
    } catch (error) {
      end(toPinbaseError(error, request));
    } finally {
      pumping = false;
    }
  };

  // The store ends the stream when the user is handed over or the worker stops.
  const unsubscribe = ctx.store.subscribe(userId, { onCommit: () => void pump(), onClose: () => end() });
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), ctx.heartbeatMs);
  heartbeat.unref();
  raw.on('close', () => end());
  // The client may have left while the stream was being set up.
  if (raw.destroyed) return end();
  await pump();
}
