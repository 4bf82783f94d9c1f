import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_REVERT_OBJECTS } from '../../../services/partition/revert-write.js';
import { body, expectProblem, jsonRequest, latestSeq, listTree, startHttpFixture, type HttpFixture } from './http-harness.js';

const USER = 'rollback';
const U = `/api/users/${USER}`;
let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

function revert(payload: unknown, headers: Record<string, string> = {}) {
  return fx.app.inject(jsonRequest('POST', `${U}/_revert`, payload, headers));
}
async function put(path: string, data: unknown): Promise<number> {
  const response = await fx.app.inject(jsonRequest('PUT', `${U}/${path}`, data));
  expect(response.statusCode).toBeLessThan(300);
  return body<{ rev: number }>(response).rev;
}
async function remove(path: string): Promise<void> {
  expect((await fx.app.inject({ method: 'DELETE', url: `${U}/${path}` })).statusCode).toBe(200);
}
/** Every live object of `collection`, id → data. */
async function contents(collection: string, at?: number): Promise<Record<string, unknown>> {
  const response = await fx.app.inject({ method: 'GET', url: `${U}/${collection}?limit=1000${at === undefined ? '' : `&at=${at}`}` });
  expect(response.statusCode).toBe(200);
  const page = body<{ items: { id: string; data: unknown }[] }>(response);
  return Object.fromEntries(page.items.map((item) => [item.id, item.data]));
}

describe('POST /_revert', () => {
  it('restores every object to its state at `to` in one new commit: changed, deleted since, created since', async () => {
    await put('notes/kept', { v: 1 }); // 1
    await put('notes/edited', { v: 1 }); // 2
    await put('notes/dropped', { v: 1 }); // 3
    await put('tags/t', { v: 1 }); // 4
    await put('notes/edited', { v: 2 }); // 5
    await remove('notes/dropped'); // 6
    await put('notes/added', { v: 1 }); // 7
    await put('tags/t', { v: 2 }); // 8
    await put('notes/back', { v: 1 }); // 9: created and deleted after `to`: nothing to do
    await remove('notes/back'); // 10

    const response = await revert({ to: 4 });
    expect(response.statusCode).toBe(200);
    expect(body(response)).toEqual({ seq: 11, reverted: 4 });
    expect(response.headers['x-pinbase-seq']).toBe('11');
    expect(await contents('notes')).toEqual({ kept: { v: 1 }, edited: { v: 1 }, dropped: { v: 1 } });
    expect(await contents('tags')).toEqual({ t: { v: 1 } });
    // The revert is one commit in the change feed, like any other.
    const feed = body<{ changes: { seq: number; id: string; deleted: boolean }[] }>(
      await fx.app.inject({ method: 'GET', url: `${U}/_changes?since=10` }),
    );
    expect(feed.changes.map((c) => [c.seq, c.id, c.deleted]).sort()).toEqual([
      [11, 'added', true],
      [11, 'dropped', false],
      [11, 'edited', false],
      [11, 't', false],
    ]);
    // History stays: the state before the revert is still readable.
    expect(await contents('notes', 10)).toEqual({ kept: { v: 1 }, edited: { v: 2 }, added: { v: 1 } });
  });

  it('is itself revertible: reverting to the commit before it restores what it undid', async () => {
    await put('notes/a', { v: 1 });
    await put('notes/b', { v: 1 });
    await put('notes/a', { v: 2 });
    await remove('notes/b');
    await put('notes/c', { v: 1 }); // 5
    const before = await contents('notes');
    expect(body(await revert({ to: 2 }))).toEqual({ seq: 6, reverted: 3 });
    expect(await contents('notes')).toEqual({ a: { v: 1 }, b: { v: 1 } });
    expect(body(await revert({ to: 5 }))).toEqual({ seq: 7, reverted: 3 });
    expect(await contents('notes')).toEqual(before);
  });

  it('with a collection, leaves every other collection as it is', async () => {
    await put('notes/a', { v: 1 });
    await put('tags/t', { v: 1 }); // 2
    await put('notes/a', { v: 2 });
    await put('tags/t', { v: 2 });
    expect(body(await revert({ to: 2, collection: 'notes' }))).toEqual({ seq: 5, reverted: 1 });
    expect(await contents('notes')).toEqual({ a: { v: 1 } });
    expect(await contents('tags')).toEqual({ t: { v: 2 } });
  });

  it('commits nothing when nothing differs, and answers the latest seq with reverted 0', async () => {
    await put('notes/a', { v: 1 });
    await put('notes/a', { v: 2 });
    await put('notes/a', { v: 1 }); // the same body as at 1 under another version
    const response = await revert({ to: 1 });
    expect(body(response)).toEqual({ seq: 3, reverted: 0 });
    expect(response.headers['x-pinbase-seq']).toBe('3');
    expect(await latestSeq(fx.app, USER)).toBe(3);
  });

  it('answers a user with no file with seq 0 and reverted 0, and creates no file', async () => {
    expect(body(await revert({ to: 0 }))).toEqual({ seq: 0, reverted: 0 });
    expectProblem(await revert({ to: 1 }), 'snapshot_in_future', 400);
    expect(listTree(fx.dataDir)).toEqual([]);
  });

  it('answers 400 snapshot_in_future beyond the last commit and 410 snapshot_pruned before the horizon, changing nothing', async () => {
    await put('notes/a', { v: 1 });
    await put('notes/a', { v: 2 });
    await put('notes/a', { v: 3 });
    expectProblem(await revert({ to: 4 }), 'snapshot_in_future', 400);
    expect(await fx.store.prune(Date.now() + 8 * 86_400_000)).toBe(1);
    expectProblem(await revert({ to: 2 }), 'snapshot_pruned', 410);
    expect(await contents('notes')).toEqual({ a: { v: 3 } });
    expect(await latestSeq(fx.app, USER)).toBe(3);
  });

  it('rejects a malformed body with 400 invalid_body', async () => {
    for (const payload of [{}, { to: -1 }, { to: 'x' }, { to: 1, collection: '_x' }, { to: 1, extra: true }]) {
      expectProblem(await revert(payload), 'invalid_body', 400);
    }
  });

  it('replays the stored answer for a repeated Idempotency-Key instead of reverting again', async () => {
    await put('notes/a', { v: 1 });
    await put('notes/a', { v: 2 });
    const first = await revert({ to: 1 }, { 'idempotency-key': 'revert-1' });
    expect(body(first)).toEqual({ seq: 3, reverted: 1 });
    await put('notes/a', { v: 3 });
    const again = await revert({ to: 1 }, { 'idempotency-key': 'revert-1' });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(body(again)).toEqual({ seq: 3, reverted: 1 });
    expect(await contents('notes')).toEqual({ a: { v: 3 } });
  });

  it(`answers 413 transaction_too_large beyond ${MAX_REVERT_OBJECTS} objects changed, and applies nothing`, async () => {
    await put('bulk/seed', { v: 0 }); // 1
    // Objects created after seq 1 straight into the file (a real partition; HTTP would take minutes).
    const partition = await fx.store.pool.acquire(USER);
    try {
      await partition.maintain((sql) => {
        sql
          .get(
            `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
             INSERT INTO versions (rev, collection, id, prev, deleted, committed_at, body, live, ixgen)
             SELECT 2, 'bulk', 'o' || i, NULL, 0, 0, '{}', 1, 0 FROM n`,
          )
          .run(MAX_REVERT_OBJECTS + 1);
        sql.get("INSERT INTO objects (collection, id, vid, rev, deleted) SELECT collection, id, vid, rev, 0 FROM versions WHERE rev = 2").run();
      });
      partition.seq = 2;
    } finally {
      fx.store.pool.release(partition);
    }
    const problem = expectProblem(await revert({ to: 1 }), 'transaction_too_large', 413);
    expect(problem.detail).toMatch(/revert by collection/);
    expect(await latestSeq(fx.app, USER)).toBe(2);
    expect(body(await revert({ to: 1, collection: 'other' }))).toEqual({ seq: 2, reverted: 0 });
  });
});
