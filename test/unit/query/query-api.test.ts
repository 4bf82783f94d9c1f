import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partitionPath } from '../../../services/partition/user-id.js';
import { parseQuerySpec } from '../../../services/query/query-spec.js';
import { runQuery } from '../../../services/query/run-query.js';
import { createReadyIndex } from '../../support/ready-index.js';
import { buildTestApp, type TestApp } from '../../support/test-store.js';
import { makeTempDir } from '../../support/temp-dir.js';

/** Queries through the HTTP API (inject) on a real partition: semantics, index use, cursors, snapshots, bounds. */

let dir: ReturnType<typeof makeTempDir>;
let t: TestApp;

beforeEach(async () => {
  dir = makeTempDir();
  t = await buildTestApp(dir.path);
});
afterEach(async () => {
  await t.close();
  dir.remove();
});

async function put(collection: string, id: string, data: unknown): Promise<void> {
  const reply = await t.app.inject({ method: 'PUT', url: `/api/users/u/${collection}/${id}`, payload: data as object });
  expect(reply.statusCode, reply.body).toBeLessThan(300);
}

async function remove(collection: string, id: string): Promise<void> {
  expect((await t.app.inject({ method: 'DELETE', url: `/api/users/u/${collection}/${id}` })).statusCode).toBe(200);
}

interface Answer {
  status: number;
  ids: string[];
  items: { id: string; rev: number; data: Record<string, unknown> }[];
  next: string | null;
  index: string | undefined;
  body: Record<string, unknown>;
}

type Params = Record<string, string | number | undefined>;

async function query(collection: string, params: Params, user = 'u'): Promise<Answer> {
  const search = new URLSearchParams(Object.entries(params).flatMap(([k, v]): [string, string][] => (v === undefined ? [] : [[k, String(v)]])));
  const reply = await t.app.inject({ method: 'GET', url: `/api/users/${user}/${collection}?${search.toString()}` });
  const body = reply.json<Record<string, unknown>>();
  const items = (body.items ?? []) as Answer['items'];
  return { status: reply.statusCode, ids: items.map((i) => i.id), items, next: (body.next ?? null) as string | null, index: reply.headers['x-pinbase-index'] as string | undefined, body };
}

/** Every page's ids, following `next`. */
async function allIds(collection: string, params: Params): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await query(collection, { ...params, ...(cursor ? { cursor } : {}) });
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    ids.push(...page.ids);
    if (!page.next) return ids;
    cursor = page.next;
  }
  throw new Error('too many pages');
}

async function withIndex(collection: string, name: string, paths: string[]): Promise<void> {
  const partition = await t.store.pool.acquire('u');
  try {
    await createReadyIndex(partition, collection, name, paths);
  } finally {
    t.store.pool.release(partition);
  }
}

const MIXED: [string, unknown][] = [
  ['num5', { v: 5 }],
  ['real5', { v: 5.5 }],
  ['str5', { v: '5' }],
  ['strB', { v: 'b' }],
  ['true', { v: true }],
  ['false', { v: false }],
  ['null', { v: null }],
  ['missing', {}],
  ['array', { v: [5, 'x', null] }],
  ['object', { v: { w: 1 } }],
];

describe('filter semantics (type-strict), with and without an index', () => {
  for (const indexed of [false, true]) {
    it(`matches by JSON type ${indexed ? 'through the index' : 'in a scan'}`, async () => {
      if (indexed) await withIndex('m', 'by_v', ['v']);
      for (const [id, data] of MIXED) await put('m', id, data);
      const ids = async (filter: unknown) => (await allIds('m', { filter: JSON.stringify(filter) })).sort();
      expect(await ids({ v: 5 })).toEqual(['num5']);
      expect(await ids({ v: '5' })).toEqual(['str5']);
      expect(await ids({ v: true })).toEqual(['true']);
      expect(await ids({ v: 1 })).toEqual([]);
      expect(await ids({ v: null })).toEqual(['null']);
      expect(await ids({ v: { $exists: false } })).toEqual(['missing']);
      expect(await ids({ v: { $exists: true } })).toHaveLength(9);
      expect(await ids({ v: { $ne: 5 } })).toEqual(MIXED.map(([id]) => id).filter((id) => id !== 'num5').sort());
      expect(await ids({ v: { $gt: 3 } })).toEqual(['num5', 'real5']);
      expect(await ids({ v: { $gte: '5' } })).toEqual(['str5', 'strB']);
      expect(await ids({ v: { $lt: 'c' } })).toEqual(['str5', 'strB']);
      expect(await ids({ v: { $in: [5, 'b', false] } })).toEqual(['false', 'num5', 'strB']);
      expect(await ids({ v: { $nin: [5, 'b', false] } })).toHaveLength(7);
      expect(await ids({ v: { $prefix: '' } })).toEqual(['str5', 'strB']);
      expect(await ids({ v: { $contains: 5 } })).toEqual(['array']);
      expect(await ids({ v: { $contains: null } })).toEqual(['array']);
      expect(await ids({ v: { $contains: '5' } })).toEqual([]);
      expect(await ids({ 'v.w': 1 })).toEqual(['object']);
      expect(await ids({ $or: [{ v: 5 }, { v: { $exists: false } }] })).toEqual(['missing', 'num5']);
      expect(await ids({ $not: { v: { $gt: 0 } } })).toHaveLength(8);
      expect(await ids({ $and: [{ v: { $gt: 0 } }, { v: { $lt: 5.5 } }] })).toEqual(['num5']);
    });
  }

  it('matches prefixes exactly, whatever the characters', async () => {
    await withIndex('p', 'by_name', ['name']);
    for (const [id, name] of [['a', 'ab'], ['b', 'abc'], ['c', 'ac'], ['d', 'a'], ['e', 'ab\u{1F600}'], ['f', 'ab%'], ['g', 'AB']]) await put('p', id!, { name });
    expect((await allIds('p', { filter: '{"name":{"$prefix":"ab"}}' })).sort()).toEqual(['a', 'b', 'e', 'f']);
    expect(await allIds('p', { filter: '{"name":{"$prefix":"ab%"}}' })).toEqual(['f']);
    expect(await allIds('p', { filter: JSON.stringify({ name: { $prefix: 'ab\u{1F600}' } }) })).toEqual(['e']);
  });
});

describe('order', () => {
  it('sorts mixed types as documented: missing and null, then numbers and booleans, then strings, arrays and objects as JSON text; ids break ties', async () => {
    for (const [id, data] of MIXED) await put('m', id, data);
    expect(await allIds('m', { order: 'v' })).toEqual(['missing', 'null', 'false', 'true', 'num5', 'real5', 'str5', 'array', 'strB', 'object']);
    expect(await allIds('m', { order: '-v' })).toEqual(['object', 'strB', 'array', 'str5', 'real5', 'num5', 'true', 'false', 'null', 'missing']);
  });

  it('orders by several keys, each in its own direction', async () => {
    const rows = [['a', 1, 'x'], ['b', 2, 'x'], ['c', 1, 'y'], ['d', 2, 'y'], ['e', 1, 'x']] as const;
    for (const [id, n, s] of rows) await put('o', id, { n, s });
    expect(await allIds('o', { order: '-n,s', limit: 2 })).toEqual(['b', 'd', 'a', 'e', 'c']);
    expect(await allIds('o', { order: 's,-n', limit: 1 })).toEqual(['b', 'e', 'a', 'd', 'c']);
  });
});

describe('index use, as SQLite plans it', () => {
  it('answers equality, range, prefix and order-by queries from the index and says so; others scan and say none', async () => {
    await withIndex('orders', 'by_status', ['status', 'total']);
    await withIndex('orders', 'by_created', ['createdAt']);
    for (let i = 0; i < 40; i++) await put('orders', `o${String(i).padStart(2, '0')}`, { status: i % 4 ? 'open' : 'done', total: i, createdAt: 1000 - i, note: `n${i % 3}` });
    const cases: [Record<string, string>, string, string[]][] = [
      [{ filter: '{"status":"done"}' }, 'by_status', ['o00', 'o04', 'o08', 'o12', 'o16', 'o20', 'o24', 'o28', 'o32', 'o36']],
      [{ filter: '{"status":{"$gte":"done","$lt":"done!"}}', limit: '3' }, 'by_status', ['o00', 'o04', 'o08', 'o12', 'o16', 'o20', 'o24', 'o28', 'o32', 'o36']],
      [{ filter: '{"status":{"$prefix":"do"}}' }, 'by_status', ['o00', 'o04', 'o08', 'o12', 'o16', 'o20', 'o24', 'o28', 'o32', 'o36']],
      [{ filter: '{"createdAt":{"$gt":995}}' }, 'by_created', ['o00', 'o01', 'o02', 'o03', 'o04']],
      [{ order: 'createdAt', limit: '2', filter: '{"total":{"$lt":3}}' }, 'by_created', ['o02', 'o01', 'o00']],
      [{ order: '-status,-total', filter: '{"note":"n0"}', limit: '2' }, 'by_status', ['o39', 'o33', 'o30', 'o27', 'o21', 'o18', 'o15', 'o09', 'o06', 'o03', 'o36', 'o24', 'o12', 'o00']],
      [{ filter: '{"note":"n1"}', order: 'total', limit: '20' }, 'none', ['o01', 'o04', 'o07', 'o10', 'o13', 'o16', 'o19', 'o22', 'o25', 'o28', 'o31', 'o34', 'o37']],
      [{ filter: '{"total":{"$gte":38}}' }, 'none', ['o38', 'o39']],
    ];
    for (const [params, index, expected] of cases) {
      const label = JSON.stringify(params);
      const first = await query('orders', params);
      expect(first.index, label).toBe(index);
      expect(await allIds('orders', params), label).toEqual(expected);
    }
  });

  it('never uses an index that is not ready', async () => {
    await withIndex('orders', 'by_status', ['status']);
    await put('orders', 'a', { status: 'open' });
    const partition = await t.store.pool.acquire('u');
    await partition.maintain((sql) => sql.get("UPDATE indexes SET state = 'building'").run());
    t.store.pool.release(partition);
    const answer = await query('orders', { filter: '{"status":"open"}' });
    expect(answer.index).toBe('none');
    expect(answer.ids).toEqual(['a']);
  });
});

describe('fields', () => {
  it('returns only the fields asked for, nested objects kept nested, id and rev always', async () => {
    await put('n', 'n1', { title: 'T', address: { city: 'Oslo', zip: '0150' }, tags: ['a'] });
    const answer = await query('n', { fields: 'address.city,title,missing,tags.x' });
    expect(answer.items).toEqual([{ id: 'n1', rev: 1, data: { address: { city: 'Oslo' }, title: 'T' } }]);
    expect(answer.index).toBe('none');
  });
});

describe('cursors', () => {
  it('pages without duplicating or skipping an object that stays unchanged while others are written between pages', async () => {
    for (let i = 0; i < 30; i++) await put('s', `stable${String(i).padStart(2, '0')}`, { rank: (i * 7) % 10, kind: 'stable' });
    for (let i = 0; i < 10; i++) await put('s', `moving${i}`, { rank: i, kind: 'moving' });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const answer = await query('s', { order: '-rank', limit: 4, ...(cursor ? { cursor } : {}) });
      expect(answer.status).toBe(200);
      seen.push(...answer.ids);
      // Between pages: new objects, moved ranks, deletions.
      await put('s', `new${page}`, { rank: page % 10, kind: 'new' });
      await put('s', `moving${page % 10}`, { rank: (page * 3) % 10, kind: 'moving' });
      if (page === 3) await remove('s', 'moving9');
      if (!answer.next) break;
      cursor = answer.next;
    }
    const stable = seen.filter((id) => id.startsWith('stable'));
    expect(new Set(stable).size).toBe(30);
    expect(stable).toHaveLength(30);
  });

  it('refuses a cursor with another filter, order, fields or snapshot, and a listing cursor for a query and back', async () => {
    for (let i = 0; i < 5; i++) await put('c', `c${i}`, { n: i });
    const first = await query('c', { filter: '{"n":{"$gte":0}}', order: 'n', limit: 2 });
    const cursor = first.next!;
    expect((await query('c', { filter: '{"n":{"$gte":0}}', order: 'n', limit: 2, cursor })).ids).toEqual(['c2', 'c3']);
    for (const params of [
      { filter: '{"n":{"$gte":1}}', order: 'n' },
      { filter: '{"n":{"$gte":0}}', order: '-n' },
      { filter: '{"n":{"$gte":0}}', order: 'n', fields: 'n' },
      { filter: '{"n":{"$gte":0}}', order: 'n', at: 1 },
      {},
    ]) {
      const answer = await query('c', { ...params, cursor });
      expect(answer.status, JSON.stringify(params)).toBe(400);
      expect(answer.body.code).toBe('invalid_cursor');
    }
    const listing = await query('c', { limit: 2 });
    expect((await query('c', { filter: '{}', cursor: listing.next! })).body.code).toBe('invalid_cursor');
    expect((await query('c', { filter: '{}', cursor: 'bm90IGEgY3Vyc29y' })).body.code).toBe('invalid_cursor');
  });

  it('refuses an order whose values would make a cursor longer than 2048 characters', async () => {
    await put('l', 'a', { s: 'x'.repeat(3000) });
    await put('l', 'b', { s: 'y' });
    const answer = await query('l', { order: 's', limit: 1 });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'invalid_order', detail: expect.stringMatching(/longer than 2048/) });
    expect((await query('l', { order: '-s', limit: 1 })).status).toBe(200);
  });
});

describe('snapshots', () => {
  it('answers a query at a snapshot as the same query answered then, through cursors', async () => {
    for (let i = 0; i < 12; i++) await put('h', `h${String(i).padStart(2, '0')}`, { n: i % 5, s: `s${i}`, tags: i % 2 ? ['odd'] : [] });
    const queries = [{ filter: '{"n":{"$gte":2}}' }, { order: '-n,s', limit: 3 }, { filter: '{"tags":{"$contains":"odd"}}', order: 's', fields: 'n', limit: 2 }];
    const seq = Number((await t.app.inject({ method: 'GET', url: '/api/users/u/h' })).headers['x-pinbase-seq']);
    const then = await Promise.all(queries.map(async (params) => (await query('h', params)).body));
    const thenAll = await Promise.all(queries.map((params) => allIds('h', params)));
    for (let i = 0; i < 12; i += 2) await put('h', `h${String(i).padStart(2, '0')}`, { n: 9, s: 'changed' });
    await remove('h', 'h01');
    await put('h', 'h99', { n: 4, s: 'new', tags: ['odd'] });
    for (const [i, params] of queries.entries()) {
      const now = await query('h', { ...params, at: seq });
      expect(now.index).toBe('none');
      expect({ ...now.body, next: null }).toEqual({ ...then[i], next: null });
      expect(await allIds('h', { ...params, at: seq })).toEqual(thenAll[i]);
    }
    const future = await query('h', { filter: '{}', at: seq + 100 });
    expect(future.status).toBe(400);
    expect(future.body.code).toBe('snapshot_in_future');
  });
});

it('answers 410 snapshot_pruned for a query at a snapshot the retention window has pruned', async () => {
  await put('r', 'a', { n: 1 });
  await put('r', 'a', { n: 2 });
  await put('r', 'a', { n: 3 });
  expect((await query('r', { filter: '{"n":1}', at: 1 })).ids).toEqual(['a']);
  await t.store.prune(Date.now() + 8 * 24 * 3600 * 1000);
  const answer = await query('r', { filter: '{"n":1}', at: 1 });
  expect(answer.status).toBe(410);
  expect(answer.body.code).toBe('snapshot_pruned');
});

describe('cost bounds', () => {
  it('ends a page at the examination budget with a cursor, possibly empty, and the client gets everything by following it', async () => {
    for (let i = 0; i < 25; i++) await put('b', `b${String(i).padStart(2, '0')}`, { hit: i === 23 });
    const partition = await t.store.pool.acquire('u');
    try {
      const spec = parseQuerySpec({ filter: '{"hit":true}' });
      const bounds = { maxExamined: 10, maxSorted: 100 };
      for (const at of [undefined, partition.seq]) {
        const first = runQuery(partition.sql, 'b', spec, { limit: 5, maxBytes: 1e6, at, costBounds: bounds });
        expect(first).toMatchObject({ items: [], more: true, resume: { id: 'b09' } });
        const second = runQuery(partition.sql, 'b', spec, { limit: 5, maxBytes: 1e6, at, after: first.resume, costBounds: bounds });
        expect(second).toMatchObject({ items: [], more: true, resume: { id: 'b19' } });
        const third = runQuery(partition.sql, 'b', spec, { limit: 5, maxBytes: 1e6, at, after: second.resume, costBounds: bounds });
        expect(third.items.map((item) => item.id)).toEqual(['b23']);
        expect(third.more).toBe(false);
      }
    } finally {
      t.store.pool.release(partition);
    }
  });

  it('refuses an unindexed order on a collection beyond the sort bound, naming the paths to index; an index or id order is fine', async () => {
    for (let i = 0; i < 12; i++) await put('big', `g${String(i).padStart(2, '0')}`, { n: i, m: -i });
    await withIndex('big', 'by_n', ['n']);
    const partition = await t.store.pool.acquire('u');
    try {
      const bounds = { maxExamined: 100, maxSorted: 10 };
      const run = (order: string, at?: number) => () =>
        runQuery(partition.sql, 'big', parseQuerySpec({ order, filter: '{}' }), { limit: 5, maxBytes: 1e6, at, costBounds: bounds });
      expect(run('m')).toThrow(expect.objectContaining({ code: 'query_too_expensive', detail: expect.stringMatching(/needs an index on \(m\)/) }));
      expect(run('m', partition.seq)).toThrow(expect.objectContaining({ code: 'query_too_expensive' }));
      expect(run('n')().items.map((item) => item.id)).toEqual(['g00', 'g01', 'g02', 'g03', 'g04']);
      expect(runQuery(partition.sql, 'big', parseQuerySpec({ filter: '{"m":{"$lt":-9}}' }), { limit: 5, maxBytes: 1e6, costBounds: bounds }).items).toHaveLength(2);
      // An index seek that finds few rows sorts only those (here by id): the bound counts them, not the collection.
      const seek = runQuery(partition.sql, 'big', parseQuerySpec({ filter: '{"n":{"$gte":3,"$lt":6}}', order: 'm' }), { limit: 5, maxBytes: 1e6, costBounds: bounds });
      expect(seek.items.map((item) => item.id)).toEqual(['g05', 'g04', 'g03']);
    } finally {
      t.store.pool.release(partition);
    }
  });
});

it('answers a user that was never written with an empty page and creates no file', async () => {
  const answer = await query('notes', { filter: '{"a":1}', order: '-a' }, 'nobody');
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({ items: [], next: null });
  expect(answer.index).toBe('none');
  expect(existsSync(partitionPath(dir.path, 'nobody'))).toBe(false);
});
