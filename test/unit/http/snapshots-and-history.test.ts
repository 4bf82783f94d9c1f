import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { body, expectProblem, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const U = '/api/users/timetraveller';
let fx: HttpFixture;

/** seq 1: p/a v1; seq 2: p/b; seq 3: p/a v2; seq 4: delete p/b; seq 5: p/c. */
beforeEach(async () => {
  fx = await startHttpFixture();
  const writes = [
    jsonRequest('PUT', `${U}/p/a`, { v: 1, nested: { tag: 'first' } }),
    jsonRequest('PUT', `${U}/p/b`, { v: 1 }),
    jsonRequest('PUT', `${U}/p/a`, { v: 2, nested: { tag: 'second' } }),
    { method: 'DELETE' as const, url: `${U}/p/b` },
    jsonRequest('PUT', `${U}/p/c`, { v: 1 }),
  ];
  for (const write of writes) expect((await fx.app.inject(write)).statusCode).toBeLessThan(300);
});
afterEach(async () => {
  await fx.close();
});

function get(url: string) {
  return fx.app.inject({ method: 'GET', url: `${U}/${url}` });
}

describe('snapshot reads (?at=)', () => {
  it('sees the version current at that commit, after later writes and deletes', async () => {
    const old = await get('p/a?at=2');
    expect(old.statusCode).toBe(200);
    expect(old.headers).toMatchObject({ etag: '"1"', 'x-pinbase-seq': '2' });
    expect(body(old)).toEqual({ v: 1, nested: { tag: 'first' } });

    expect(body(await get('p/b?at=3'))).toEqual({ v: 1 });
    expectProblem(await get('p/b?at=4'), 'object_not_found', 404);
    expectProblem(await get('p/c?at=4'), 'object_not_found', 404);
    expect(body(await get('p/a?at=5'))).toEqual({ v: 2, nested: { tag: 'second' } });
  });

  it('reads inside an object by JSON pointer at a snapshot', async () => {
    const response = await get('p/a/nested/tag?at=1');
    expect(response.statusCode).toBe(200);
    expect(body(response)).toBe('first');
  });

  it('lists a collection as it was, and keeps paging that snapshot after newer writes', async () => {
    const listAt3 = body<{ items: { id: string; rev: number; data: unknown }[] }>(await get('p?at=3'));
    expect(listAt3.items).toEqual([
      { id: 'a', rev: 3, data: { v: 2, nested: { tag: 'second' } } },
      { id: 'b', rev: 2, data: { v: 1 } },
    ]);

    const first = await get('p?at=2&limit=1');
    expect(first.headers['x-pinbase-seq']).toBe('2');
    const { items, next } = body<{ items: { id: string }[]; next: string }>(first);
    expect(items.map((item) => item.id)).toEqual(['a']);
    await fx.app.inject(jsonRequest('PUT', `${U}/p/b`, { v: 'rewritten' }));
    await fx.app.inject(jsonRequest('PUT', `${U}/p/ab`, { v: 'inserted' }));
    const second = body<{ items: { id: string; data: unknown }[]; next: string | null }>(await get(`p?limit=1&cursor=${next}`));
    expect(second.items).toEqual([{ id: 'b', rev: 2, data: { v: 1 } }]);
    expect(second.next).toBeNull();
  });

  it('rejects a cursor used with a different `at` than it was issued for', async () => {
    const { next } = body<{ next: string }>(await get('p?at=3&limit=1'));
    expectProblem(await get(`p?at=2&cursor=${next}`), 'invalid_cursor', 400);
  });

  it('answers snapshot_in_future (400) with the latest seq for an `at` beyond the last commit', async () => {
    const problem = expectProblem(await get('p/a?at=6'), 'snapshot_in_future', 400);
    expect(problem.seq).toBe(5);
    expectProblem(await get('p?at=6'), 'snapshot_in_future', 400);
  });
});

describe('after the retention window is pruned', () => {
  it('answers 410 snapshot_pruned before the horizon and keeps every current version, tombstones included', async () => {
    const eightDaysLater = Date.now() + 8 * 86_400_000;
    expect(await fx.store.prune(eightDaysLater)).toBe(1);

    const problem = expectProblem(await get('p/a?at=4'), 'snapshot_pruned', 410);
    expect(problem.oldest).toBe(5);
    expect(body(await get('p/a?at=5'))).toEqual({ v: 2, nested: { tag: 'second' } });
    expect(body(await get('p/a'))).toEqual({ v: 2, nested: { tag: 'second' } });
    const history = body<{ versions: { rev: number; deleted: boolean }[] }>(await get('p/b/_history'));
    expect(history.versions).toEqual([expect.objectContaining({ rev: 4, deleted: true })]);
    const feed = body<{ changes: { id: string }[] }>(await get('_changes?since=0'));
    expect(feed.changes.map((change) => change.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('GET /:collection/:id/_history', () => {
  interface History {
    versions: { rev: number; deleted: boolean; committedAt: string; data: unknown }[];
    next: number | null;
  }

  it('lists versions newest first, including the delete tombstone', async () => {
    const history = body<History>(await get('p/b/_history'));
    expect(history.versions.map(({ rev, deleted, data }) => ({ rev, deleted, data }))).toEqual([
      { rev: 4, deleted: true, data: null },
      { rev: 2, deleted: false, data: { v: 1 } },
    ]);
    expect(history.next).toBeNull();
    for (const version of history.versions) expect(Number.isNaN(Date.parse(version.committedAt))).toBe(false);
  });

  it('paginates with limit and `next` (pass it back as `before`)', async () => {
    for (let v = 3; v <= 6; v++) await fx.app.inject(jsonRequest('PUT', `${U}/p/a`, { v }));
    const revs: number[] = [];
    let url = 'p/a/_history?limit=2';
    for (let i = 0; i < 10; i++) {
      const history = body<History>(await get(url));
      revs.push(...history.versions.map((version) => version.rev));
      if (history.next === null) break;
      url = `p/a/_history?limit=2&before=${history.next}`;
    }
    expect(revs).toEqual([9, 8, 7, 6, 3, 1]);
  });

  it('answers 404 for an object that never existed', async () => {
    expectProblem(await get('p/never/_history'), 'object_not_found', 404);
  });
});
