import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChangesPage } from '../../../services/partition/object-reads.js';
import { openSse } from '../../support/sse-client.js';
import { TEST_LIMITS } from '../../support/test-store.js';
import { body, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const U = '/api/users/pager';
const MiB = 1024 * 1024;
/** Four of these fit the default 4 MiB page budget; a fifth does not. */
const BIG = 1_000_000;

let fx: HttpFixture;
afterEach(async () => {
  await fx?.close();
});

/** An object whose stored JSON is exactly `bytes` long. */
function sized(bytes: number, tag: string): Record<string, string> {
  const overhead = JSON.stringify({ tag, pad: '' }).length;
  return { tag, pad: 'p'.repeat(bytes - overhead) };
}

async function put(path: string, data: unknown): Promise<void> {
  const response = await fx.app.inject(jsonRequest('PUT', `${U}/${path}`, data));
  expect(response.statusCode, response.body).toBeLessThan(300);
}

async function get<T>(url: string): Promise<{ data: T; bytes: number }> {
  const response = await fx.app.inject({ method: 'GET', url: `${U}/${url}` });
  expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
  return { data: body<T>(response), bytes: response.rawPayload.length };
}

interface ListPage {
  items: { id: string; data: { tag: string } }[];
  next: string | null;
}
interface HistoryPage {
  versions: { rev: number; data: { tag: string } | null }[];
  next: number | null;
}
interface FeedPage {
  changes: { seq: number; id: string; data?: { tag: string } | null }[];
  lastSeq: number;
  hasMore: boolean;
}

describe('pages of large objects with the default 4 MiB budget', () => {
  it('ends a listing page at the byte budget, not at ?limit=1000, and pages on with `next`', async () => {
    fx = await startHttpFixture();
    for (let i = 0; i < 10; i++) await put(`big/o${i}`, sized(BIG, `o${i}`));
    const sizes: number[] = [];
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 20; page++) {
      const { data, bytes } = await get<ListPage>(`big?limit=1000${cursor}`);
      sizes.push(data.items.length);
      expect(bytes).toBeLessThan(4 * MiB + 4096);
      seen.push(...data.items.map((item) => item.data.tag));
      if (data.next === null) break;
      cursor = `&cursor=${data.next}`;
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `o${i}`));
  });

  it('ends a history page at the byte budget and pages on with `next`', async () => {
    fx = await startHttpFixture();
    for (let v = 0; v < 10; v++) await put('big/doc', sized(BIG, `v${v}`));
    const tags: string[] = [];
    const sizes: number[] = [];
    let before = '';
    for (let page = 0; page < 20; page++) {
      const { data, bytes } = await get<HistoryPage>(`big/doc/_history?limit=1000${before}`);
      expect(bytes).toBeLessThan(4 * MiB + 4096);
      sizes.push(data.versions.length);
      tags.push(...data.versions.map((version) => version.data!.tag));
      if (data.next === null) break;
      before = `&before=${data.next}`;
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(tags).toEqual(Array.from({ length: 10 }, (_, i) => `v${9 - i}`));
  });

  it('reads a live stream\'s backlog in pages of at most 256 KiB of data (one commit when larger), whatever the page budget', async () => {
    fx = await startHttpFixture();
    for (let i = 0; i < 8; i++) await put(`c/s${i}`, sized(100_000, `s${i}`));
    await put('c/big', sized(BIG, 'big'));
    const pageBytes: number[] = [];
    const read = fx.store.read.bind(fx.store);
    vi.spyOn(fx.store, 'read').mockImplementation(async (userId, reader) => {
      const result = await read(userId, reader);
      const changes = (result as Partial<ChangesPage> | undefined)?.changes;
      if (Array.isArray(changes)) pageBytes.push(changes.reduce((sum, change) => sum + (change.body?.length ?? 0), 0));
      return result;
    });
    const url = await fx.app.listen({ host: '127.0.0.1', port: 0 });
    const stream = await openSse(`${url}${U}/_changes?since=0&includeData=true`);
    const events = await stream.waitFor(9, 10_000);
    expect(events.map((event) => event.id)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    stream.close();
    const pages = pageBytes.filter((bytes) => bytes > 0);
    expect(pages.length).toBeGreaterThanOrEqual(4);
    for (const bytes of pages) expect(bytes === BIG || bytes <= 256 * 1024, `a page of ${bytes} bytes`).toBe(true);
  });

  it('ends a change-feed page with data at the byte budget, with hasMore, at ?limit=10000', async () => {
    fx = await startHttpFixture();
    for (let i = 0; i < 10; i++) await put(`big/o${i}`, sized(BIG, `o${i}`));
    const sizes: number[] = [];
    const tags: string[] = [];
    let since = 0;
    for (let page = 0; page < 20; page++) {
      const { data, bytes } = await get<FeedPage>(`_changes?since=${since}&limit=10000&includeData=true`);
      expect(bytes).toBeLessThan(4 * MiB + 4096);
      sizes.push(data.changes.length);
      tags.push(...data.changes.map((change) => change.data!.tag));
      since = data.lastSeq;
      if (!data.hasMore) break;
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(tags).toEqual(Array.from({ length: 10 }, (_, i) => `o${i}`));
  });
});

describe('pages with a small budget', () => {
  const BUDGET = 10_000;
  const start = () => startHttpFixture({ store: { limits: { ...TEST_LIMITS, maxPageBytes: BUDGET } } });

  it('always returns at least one object, however large', async () => {
    fx = await start();
    await put('c/huge', sized(3 * BUDGET, 'huge'));
    await put('c/small', sized(100, 'small'));
    const first = await get<ListPage>('c?limit=100');
    expect(first.data.items.map((item) => item.id)).toEqual(['huge']);
    expect(first.data.next).not.toBeNull();
    const second = await get<ListPage>(`c?limit=100&cursor=${first.data.next}`);
    expect(second.data).toMatchObject({ items: [{ id: 'small' }], next: null });
  });

  it('pages a snapshot listing (?at=) by the budget too', async () => {
    fx = await start();
    for (let i = 0; i < 5; i++) await put(`c/o${i}`, sized(4000, `o${i}`));
    const at = 5;
    await put('c/o0', sized(100, 'later'));
    const ids: string[][] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const { data } = await get<ListPage>(`c?at=${at}&limit=100${cursor}`);
      ids.push(data.items.map((item) => `${item.id}:${item.data.tag}`));
      if (data.next === null) break;
      cursor = `&cursor=${data.next}`;
    }
    expect(ids).toEqual([['o0:o0', 'o1:o1'], ['o2:o2', 'o3:o3'], ['o4:o4']]);
  });

  it('ends a snapshot listing page on its scan budget, even empty, and resumes with `next`', async () => {
    fx = await start();
    await put('c/zzz', { old: true });
    const at = 1;
    // 5000 objects created after the snapshot, all sorting before the one it holds.
    for (let t = 0; t < 5; t++) {
      const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'put', collection: 'c', id: `a${t}-${String(i).padStart(4, '0')}`, data: { i } }));
      expect((await fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops }))).statusCode).toBe(200);
    }
    const pages: ListPage[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const { data } = await get<ListPage>(`c?at=${at}&limit=10${cursor}`);
      pages.push(data);
      if (data.next === null) break;
      cursor = `&cursor=${data.next}`;
    }
    expect(pages[0]).toMatchObject({ items: [], next: expect.any(String) });
    expect(pages.flatMap((page) => page.items.map((item) => item.id))).toEqual(['zzz']);
    expect(pages.length).toBeGreaterThanOrEqual(3);
  });

  it('never splits a commit across change-feed pages, and gives a commit larger than the budget a page of its own', async () => {
    fx = await start();
    await put('c/a', sized(4000, 'a'));
    const ops = ['b', 'c', 'd'].map((id) => ({ op: 'put', collection: 'c', id, data: sized(4000, id) }));
    expect((await fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops }))).statusCode).toBe(200);
    await put('c/e', sized(4000, 'e'));
    await put('c/f', sized(4000, 'f'));
    const pages: string[][] = [];
    let since = 0;
    for (let page = 0; page < 10; page++) {
      const { data } = await get<FeedPage>(`_changes?since=${since}&includeData=true`);
      pages.push(data.changes.map((change) => `${change.seq}:${change.id}`));
      since = data.lastSeq;
      if (!data.hasMore) break;
    }
    expect(pages).toEqual([['1:a'], ['2:b', '2:c', '2:d'], ['3:e', '4:f']]);
  });

  it('streams commits larger than a page as SSE events, one per commit, in order', async () => {
    fx = await start();
    const url = await fx.app.listen({ host: '127.0.0.1', port: 0 });
    const stream = await openSse(`${url}${U}/_changes?since=0&includeData=true`);
    for (let i = 0; i < 6; i++) await put(`c/o${i}`, sized(6000, `o${i}`));
    const ops = ['x', 'y'].map((id) => ({ op: 'put', collection: 'c', id, data: sized(6000, id) }));
    expect((await fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops }))).statusCode).toBe(200);
    const events = await stream.waitFor(7, 10_000);
    const commits = events.map((event) => {
      const data = JSON.parse(event.data) as { seq: number; changes: { id: string; data: { tag: string } }[] };
      return `${event.id}:${data.changes.map((change) => change.data.tag).join('+')}`;
    });
    expect(commits).toEqual(['1:o0', '2:o1', '3:o2', '4:o3', '5:o4', '6:o5', '7:x+y']);
    stream.close();
  });
});
