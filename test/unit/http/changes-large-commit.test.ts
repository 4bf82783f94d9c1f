/**
 * A commit larger than any page holds whole (an import: up to the user
 * quota in one commit) comes in parts on every framing of the change feed:
 * a JSON page with a cursor, SSE events and WebSocket messages with
 * `partial` and a cursor. Without them one page of `_changes` was the whole
 * import in memory (measured: a 440 MB import answered one 437 MB page and
 * the worker's RSS peaked at 2.5 GB, its event loop blocked for 17 s).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { COMMIT_PART } from '../../../services/partition/object-reads.js';
import { openSse } from '../../support/sse-client.js';
import { openFeedSocket } from '../../support/ws-client.js';
import { body, expectProblem, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const U = '/api/users/importer';
let fx: HttpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

interface FeedPage {
  changes: { seq: number; collection: string; id: string; deleted: boolean; data?: { n: number; pad: string } }[];
  lastSeq: number;
  hasMore: boolean;
  cursor?: string;
}

/** Imports `count` objects (ids o00000…, data {n, pad of `padChars`}) into the empty user: commit 1. */
async function importObjects(f: HttpFixture, count: number, padChars = 0): Promise<void> {
  const pad = 'p'.repeat(padChars);
  const lines = [JSON.stringify({ type: 'header', format: 'pinbase-export', version: 1, user: 'importer', seq: 1, history: false, prunedThrough: 0, exportedAt: '2026-12-02T00:00:00.000Z' })];
  for (let n = 0; n < count; n++) {
    const id = `o${String(n).padStart(5, '0')}`;
    lines.push(JSON.stringify({ type: 'version', collection: 'items', id, rev: 1, deleted: false, committedAt: 1, data: { n, pad } }));
  }
  lines.push(JSON.stringify({ type: 'end', count }));
  const response = await f.app.inject({ method: 'POST', url: `${U}/_import`, headers: { 'content-type': 'application/x-ndjson' }, payload: `${lines.join('\n')}\n` });
  expect(response.statusCode, response.body).toBe(200);
}

async function page(f: HttpFixture, query: string): Promise<FeedPage & { bytes: number }> {
  const response = await f.app.inject({ method: 'GET', url: `${U}/_changes?${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return { ...body<FeedPage>(response), bytes: response.rawPayload.length };
}

/** Every page from since=0, following cursors and lastSeq. */
async function allPages(f: HttpFixture, extra = ''): Promise<(FeedPage & { bytes: number })[]> {
  const pages: (FeedPage & { bytes: number })[] = [];
  let query = `since=0&limit=10000${extra}`;
  for (;;) {
    const next = await page(f, query);
    pages.push(next);
    if (!next.hasMore) return pages;
    query = next.cursor === undefined ? `since=${next.lastSeq}&limit=10000${extra}` : `cursor=${next.cursor}&limit=10000${extra}`;
    expect(pages.length).toBeLessThan(50);
  }
}

describe('a commit larger than a page, on the JSON page', () => {
  it('comes in parts of 1000 changes, a cursor on each page but the last, every object once, then the commits after it', async () => {
    fx = await startHttpFixture();
    await importObjects(fx, 2500);
    expect((await fx.app.inject(jsonRequest('PUT', `${U}/items/later`, { n: -1 }))).statusCode).toBe(201);
    const pages = await allPages(fx);
    expect(pages.map((p) => [p.changes.length, p.lastSeq, p.hasMore, p.cursor !== undefined])).toEqual([
      [COMMIT_PART.changes, 0, true, true],
      [COMMIT_PART.changes, 0, true, true],
      [501, 2, false, false],
    ]);
    const ids = pages.flatMap((p) => p.changes.map((c) => c.id));
    expect(ids).toEqual([...Array.from({ length: 2500 }, (_, n) => `o${String(n).padStart(5, '0')}`), 'later']);
    expect(pages.flatMap((p) => p.changes.map((c) => c.seq))).toEqual([...Array<number>(2500).fill(1), 2]);
  });

  it('bounds a part by 2 MiB of bodies with includeData, and sends it whole without', async () => {
    fx = await startHttpFixture();
    await importObjects(fx, 12, 400_000);
    const withData = await allPages(fx, '&includeData=true');
    expect(withData.map((p) => p.changes.length)).toEqual([5, 5, 2]);
    for (const part of withData) expect(part.bytes).toBeLessThan(COMMIT_PART.bytes + 64 * 1024);
    expect(withData.flatMap((p) => p.changes.map((c) => c.data!.n))).toEqual(Array.from({ length: 12 }, (_, n) => n));
    const without = await allPages(fx);
    expect(without.map((p) => [p.changes.length, p.cursor])).toEqual([[12, undefined]]);
  });

  it('resumes after the objects of the commit already read; an object changed since comes at its new commit', async () => {
    fx = await startHttpFixture();
    await importObjects(fx, 1500);
    const first = await page(fx, 'since=0');
    expect(first.changes.at(-1)!.id).toBe('o00999');
    // o00000 (already read) and o01200 (not yet) change again: commits 2 and 3.
    for (const id of ['o00000', 'o01200']) expect((await fx.app.inject(jsonRequest('PUT', `${U}/items/${id}`, { n: -1 }))).statusCode).toBe(200);
    const rest = await page(fx, `cursor=${first.cursor}`);
    const unread = Array.from({ length: 500 }, (_, n) => `o${String(1000 + n).padStart(5, '0')}`).filter((id) => id !== 'o01200');
    expect(rest.changes.map((c) => [c.seq, c.id])).toEqual([...unread.map((id) => [1, id]), [2, 'o00000'], [3, 'o01200']]);
    expect([rest.lastSeq, rest.hasMore, rest.cursor]).toEqual([3, false, undefined]);
  });

  it('refuses a cursor it did not make, with since, or beyond the latest commit: 400 invalid_cursor', async () => {
    fx = await startHttpFixture();
    await importObjects(fx, 1001);
    const { cursor } = await page(fx, 'since=0');
    expect(cursor).toBeDefined();
    const beyond = Buffer.from(JSON.stringify({ s: 9, c: 'items', i: 'o00001' })).toString('base64url');
    const badId = Buffer.from(JSON.stringify({ s: 1, c: 'items', i: '../x' })).toString('base64url');
    for (const query of ['cursor=nope', `cursor=${badId}`, `since=0&cursor=${cursor}`, `cursor=${beyond}`]) {
      expectProblem(await fx.app.inject({ method: 'GET', url: `${U}/_changes?${query}` }), 'invalid_cursor', 400);
    }
  });
});

describe('a commit larger than a page, live', () => {
  it('SSE: one event per part, partial with the cursor as its id but the last; Last-Event-ID of a part resumes after it', async () => {
    fx = await startHttpFixture();
    const url = await fx.app.listen({ host: '127.0.0.1', port: 0 });
    await importObjects(fx, 2100);
    const stream = await openSse(`${url}${U}/_changes?since=0`);
    const events = await stream.waitFor(3);
    stream.close();
    const parsed = events.map((e) => ({ id: e.id, ...(JSON.parse(e.data) as { seq: number; changes: unknown[]; partial?: boolean; cursor?: string }) }));
    expect(parsed.map((e) => [e.seq, e.changes.length, e.partial, e.id === e.cursor])).toEqual([
      [1, 1000, true, true],
      [1, 1000, true, true],
      [1, 100, undefined, false],
    ]);
    expect(parsed[2]!.id).toBe('1');
    const resumed = await openSse(`${url}${U}/_changes`, { 'last-event-id': parsed[0]!.cursor! });
    const again = await resumed.waitFor(2);
    resumed.close();
    expect(again.map((e) => (JSON.parse(e.data) as { changes: { id: string }[] }).changes[0]!.id)).toEqual(['o01000', 'o02000']);
  });

  it('WebSocket: one message per part, partial and cursor on each but the last; ?cursor= resumes after it', async () => {
    fx = await startHttpFixture();
    const url = await fx.app.listen({ host: '127.0.0.1', port: 0 });
    await importObjects(fx, 1200);
    const feed = openFeedSocket(`${url}${U}/_changes?since=0`);
    const messages = (await feed.waitFor(3)) as { type: string; seq: number; changes?: { id: string }[]; partial?: boolean; cursor?: string }[];
    feed.socket.close();
    expect(messages.map((m) => [m.type, m.seq, m.changes?.length, m.partial])).toEqual([
      ['ready', 1, undefined, undefined],
      ['change', 1, 1000, true],
      ['change', 1, 200, undefined],
    ]);
    const resumed = openFeedSocket(`${url}${U}/_changes?cursor=${messages[1]!.cursor}`);
    const after = (await resumed.waitFor(2)) as { changes?: { id: string }[] }[];
    resumed.socket.close();
    expect(after[1]!.changes!.map((c) => c.id)).toEqual(Array.from({ length: 200 }, (_, n) => `o${String(1000 + n).padStart(5, '0')}`));
  });
});
