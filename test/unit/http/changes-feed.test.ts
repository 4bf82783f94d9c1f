import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSse } from '../../support/sse-client.js';
import { body, expectProblem, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const U = '/api/users/feeder';
let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

interface FeedPage {
  changes: { seq: number; collection: string; id: string; deleted: boolean; data?: unknown }[];
  lastSeq: number;
  hasMore: boolean;
}

async function page(query: string): Promise<FeedPage> {
  const response = await fx.app.inject({ method: 'GET', url: `${U}/_changes?${query}` });
  expect(response.statusCode).toBe(200);
  return body<FeedPage>(response);
}

/** seq 1: a; seq 2: tx of b, c, d; seq 3: e; seq 4: a again; seq 5: delete of e. */
async function writeHistory(): Promise<void> {
  const ok = (status: number) => expect(status).toBeLessThan(300);
  ok((await fx.app.inject(jsonRequest('PUT', `${U}/items/a`, { v: 1 }))).statusCode);
  const ops = ['b', 'c', 'd'].map((id) => ({ op: 'put', collection: 'items', id, data: { id } }));
  ok((await fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops }))).statusCode);
  ok((await fx.app.inject(jsonRequest('PUT', `${U}/items/e`, { v: 1 }))).statusCode);
  ok((await fx.app.inject(jsonRequest('PUT', `${U}/items/a`, { v: 2 }))).statusCode);
  ok((await fx.app.inject({ method: 'DELETE', url: `${U}/items/e` })).statusCode);
}

describe('GET /_changes', () => {
  it('lists the latest change of each object in commit order, deletions included', async () => {
    await writeHistory();
    const response = await fx.app.inject({ method: 'GET', url: `${U}/_changes?since=0` });
    expect(response.headers['x-pinbase-seq']).toBe('5');
    expect(body<FeedPage>(response)).toEqual({
      changes: [
        { seq: 2, collection: 'items', id: 'b', deleted: false },
        { seq: 2, collection: 'items', id: 'c', deleted: false },
        { seq: 2, collection: 'items', id: 'd', deleted: false },
        { seq: 4, collection: 'items', id: 'a', deleted: false },
        { seq: 5, collection: 'items', id: 'e', deleted: true },
      ],
      lastSeq: 5,
      hasMore: false,
    });
  });

  it('includes each object\'s current data with includeData=true (null for a deletion)', async () => {
    await writeHistory();
    const feed = await page('since=3&includeData=true');
    expect(feed.changes).toEqual([
      { seq: 4, collection: 'items', id: 'a', deleted: false, data: { v: 2 } },
      { seq: 5, collection: 'items', id: 'e', deleted: true, data: null },
    ]);
  });

  it('pages with since/limit/hasMore and never splits a transaction\'s changes across pages', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/items/a`, { v: 1 }));
    const ops = ['b', 'c', 'd'].map((id) => ({ op: 'put', collection: 'items', id, data: { id } }));
    await fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops }));
    await fx.app.inject(jsonRequest('PUT', `${U}/items/e`, { v: 1 }));

    const pages: FeedPage[] = [];
    let since = 0;
    for (let i = 0; i < 10; i++) {
      const next = await page(`since=${since}&limit=2`);
      pages.push(next);
      since = next.lastSeq;
      if (!next.hasMore) break;
    }
    expect(pages.map((p) => p.changes.map((c) => `${c.seq}:${c.id}`))).toEqual([['1:a'], ['2:b', '2:c', '2:d'], ['3:e']]);
    expect(pages.map((p) => [p.lastSeq, p.hasMore])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
  });

  it('answers an empty page with lastSeq = since when nothing is newer', async () => {
    await writeHistory();
    expect(await page('since=5')).toEqual({ changes: [], lastSeq: 5, hasMore: false });
  });

  it('rejects a since beyond the latest commit with invalid_since', async () => {
    await writeHistory();
    expectProblem(await fx.app.inject({ method: 'GET', url: `${U}/_changes?since=6` }), 'invalid_since', 400);
  });
});

describe('GET /_changes with Accept: text/event-stream', () => {
  const live = { method: 'GET', url: `${U}/_changes`, headers: { accept: 'text/event-stream' } } as const;

  it('ends the live stream when the store releases the user (handover)', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/items/a`, { v: 1 }));
    const stream = fx.app.inject(live);
    await vi.waitFor(() => expect(fx.store.subscriberCount).toBe(1));
    await fx.store.release('feeder');
    const response = await stream;
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(response.body).toBe('retry: 1000\n\n');
    expect(fx.store.subscriberCount).toBe(0);
  });

  it('ends the live stream of a user whose partition is not open here when it is released', async () => {
    const stream = fx.app.inject(live);
    await vi.waitFor(() => expect(fx.store.subscriberCount).toBe(1));
    expect(fx.store.pool.isOpen('feeder')).toBe(false);
    await fx.store.release('feeder');
    expect((await stream).body).toBe('retry: 1000\n\n');
  });

  it('keeps the live stream open across an idle close of the partition and streams the next commit', async () => {
    await fx.close();
    fx = await startHttpFixture({ store: { idleCloseMs: 50 } });
    const url = await fx.app.listen({ host: '127.0.0.1', port: 0 });
    await fx.app.inject(jsonRequest('PUT', `${U}/items/a`, { v: 1 }));
    const stream = await openSse(`${url}${U}/_changes`);
    await vi.waitFor(() => expect(fx.store.pool.isOpen('feeder')).toBe(false), { timeout: 5000, interval: 50 });
    expect(fx.store.subscriberCount).toBe(1);
    const put = await fx.app.inject(jsonRequest('PUT', `${U}/items/b`, { v: 2 }));
    const events = await stream.waitFor(1);
    expect(events.map((e) => e.id)).toEqual([put.headers['x-pinbase-seq']]);
    await fx.store.release('feeder');
    await stream.ended;
  });
});
