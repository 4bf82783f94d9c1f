import { setTimeout as sleep } from 'node:timers/promises';
import { statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readOwnerRecord } from '../../../services/partition/lease.js';
import { MAX_BATCH_WRITES, RECHECK_LEASE_AFTER_MS } from '../../../services/partition/partition.js';
import type { PartitionStore } from '../../../services/partition/partition-store.js';
import { partitionPath } from '../../../services/partition/user-id.js';
import type { WriteRequest } from '../../../services/partition/write-request.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { openTestStore, RecordedEvents, TEST_LIMITS } from '../../support/test-store.js';

const put = (id: string, document: Record<string, unknown>, ifMatch?: number[]): WriteRequest => ({
  op: 'put',
  collection: 'notes',
  id,
  document,
  precondition: ifMatch ? { ifMatch } : {},
});

describe('partition store', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let events: RecordedEvents;
  let store: PartitionStore;
  beforeEach(() => {
    dir = makeTempDir();
    events = new RecordedEvents();
    store = openTestStore(dir.path, { events });
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('commits writes that arrive together in batches of at most MAX_BATCH_WRITES, each at its own seq', async () => {
    await store.write('u1', put('warm', { v: 0 }));
    events.batches.length = 0;
    // A batch also ends once it has held the event loop for a round (ROUND_MS): the clock stands
    // still here so that only the count splits this one, whatever a GC pause on a busy machine does.
    const clock = vi.spyOn(performance, 'now').mockReturnValue(performance.now());
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.write('u1', put(`n${i}`, { i })))).finally(() =>
      clock.mockRestore(),
    );
    expect(events.batches).toEqual([MAX_BATCH_WRITES, 50 - MAX_BATCH_WRITES]);
    const seqs = results.map((r) => r.result.seq);
    expect(new Set(seqs).size).toBe(50);
    expect(Math.max(...seqs) - Math.min(...seqs)).toBe(49);
  });

  it('fails only the write whose precondition fails; its neighbours in the batch commit', async () => {
    const first = await store.write('u1', put('a', { v: 1 }));
    const outcomes = await Promise.allSettled([
      store.write('u1', put('b', { v: 1 })),
      store.write('u1', put('a', { v: 2 }, [first.result.seq + 100])),
      store.write('u1', put('c', { v: 1 })),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'precondition_failed' });
    const state = await store.read('u1', (view) => ({
      a: view.object('notes', 'a')?.body,
      b: view.object('notes', 'b')?.body,
      c: view.object('notes', 'c')?.body,
      seq: view.seq,
    }));
    expect(state).toEqual({ a: '{"v":1}', b: '{"v":1}', c: '{"v":1}', seq: first.result.seq + 2 });
  });

  it('keeps the seq sequence gapless when a write in the middle of a batch fails', async () => {
    const outcomes = await Promise.allSettled([
      store.write('u1', put('a', { v: 1 })),
      store.write('u1', { op: 'delete', collection: 'notes', id: 'missing', precondition: {} }),
      store.write('u1', put('b', { v: 1 })),
    ]);
    const seqs = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.result.seq] : []));
    expect(seqs).toEqual([1, 2]);
  });

  it('replays an idempotent write without applying it again, and stores the key in the same commit', async () => {
    const claim = { key: 'k1', requestHash: 'h1' };
    const first = await store.write('u1', put('a', { v: 1 }), claim);
    const again = await store.write('u1', put('a', { v: 1 }), claim);
    expect(again).toEqual({ result: first.result, replayed: true });
    const history = await store.read('u1', (view) => view.history('notes', 'a', { limit: 10 }).items);
    expect(history).toHaveLength(1);
    await expect(store.write('u1', put('a', { v: 2 }), { key: 'k1', requestHash: 'other' })).rejects.toMatchObject({
      code: 'idempotency_key_reused',
      status: 422,
    });
  });

  it('does not record an idempotency key for a write that failed, so it may be retried', async () => {
    const claim = { key: 'k2', requestHash: 'h2' };
    await expect(store.write('u1', put('a', { v: 1 }, [5]), claim)).rejects.toMatchObject({ code: 'precondition_failed' });
    await store.write('u1', put('a', { v: 0 }));
    const outcome = await store.write('u1', put('a', { v: 1 }, [1]), claim);
    expect(outcome.replayed).toBe(false);
  });

  it('refuses to commit once another worker took over the owner record, and closes the partition', async () => {
    await store.write('u1', put('a', { v: 1 }));
    const file = partitionPath(dir.path, 'u1');
    const record = readOwnerRecord(file)!;
    writeFileSync(`${file}.owner`, JSON.stringify({ ...record, epoch: record.epoch + 1, worker: 'w-other', nonce: 'n' }));
    await expect(store.write('u1', put('a', { v: 2 }))).rejects.toMatchObject({ code: 'partition_lost', retryable: true });
    await sleep(50);
    expect(events.closes).toContainEqual({ userId: 'u1', reason: 'broken' });
    // The lock directory is the new holder's now: left in place, no longer refreshed.
    const stamped = statSync(`${file}.lock`).mtimeMs;
    await sleep(1500);
    expect(statSync(`${file}.lock`).mtimeMs).toBe(stamped);
  });

  it('refuses to commit a batch that held the event loop while another worker took the lease over', async () => {
    await store.write('u1', put('a', { v: 1 }));
    const file = partitionPath(dir.path, 'u1');
    const record = readOwnerRecord(file)!;
    const partition = await store.pool.acquire('u1');
    const long = partition.maintain((sql) => {
      sql.get("INSERT OR REPLACE INTO meta (key, value) VALUES ('written_by_long_batch', 1)").run();
      // The lease is taken over while this batch holds the event loop (the check before it passed).
      writeFileSync(`${file}.owner`, JSON.stringify({ ...record, epoch: record.epoch + 1, worker: 'w-other', nonce: 'n' }));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RECHECK_LEASE_AFTER_MS + 50);
    });
    store.pool.release(partition);
    await expect(long).rejects.toMatchObject({ code: 'partition_lost' });
    await sleep(50);
    expect(events.closes).toContainEqual({ userId: 'u1', reason: 'broken' });
    await vi.waitFor(() => expect(store.pool.isOpen('u1')).toBe(false));
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare("SELECT value FROM meta WHERE key = 'written_by_long_batch'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it('closes an idle partition whose lease another worker took over, freeing the file for it', async () => {
    await store.write('u1', put('a', { v: 1 }));
    const file = partitionPath(dir.path, 'u1');
    const record = readOwnerRecord(file)!;
    writeFileSync(`${file}.owner`, JSON.stringify({ ...record, epoch: record.epoch + 1, worker: 'w-other', nonce: 'n' }));
    await sleep(1500);
    expect(store.pool.isOpen('u1')).toBe(false);
    expect(events.closes).toContainEqual({ userId: 'u1', reason: 'broken' });
  });

  it('copies the owner epoch into the file with the first commit, for the record', async () => {
    await store.write('u1', put('a', { v: 1 }));
    const epoch = readOwnerRecord(partitionPath(dir.path, 'u1'))!.epoch;
    const stored = await store.read('u1', (view) =>
      (view as unknown as { sql: { get(sql: string): { get(): unknown } } }).sql
        .get("SELECT value FROM meta WHERE key = 'owner_epoch'")
        .get(),
    );
    expect(stored).toEqual({ value: epoch });
  });

  it('serves snapshot reads of older versions and refuses snapshots beyond the last commit', async () => {
    await store.write('u1', put('a', { v: 1 }));
    await store.write('u1', put('a', { v: 2 }));
    await store.write('u1', { op: 'delete', collection: 'notes', id: 'a', precondition: {} });
    const seen = await store.read('u1', (view) => [1, 2, 3].map((at) => view.object('notes', 'a', at)));
    expect(seen.map((v) => v && { body: v.body, deleted: v.deleted })).toEqual([
      { body: '{"v":1}', deleted: false },
      { body: '{"v":2}', deleted: false },
      { body: null, deleted: true },
    ]);
    await expect(store.read('u1', (view) => view.assertSnapshot(4))).rejects.toMatchObject({ code: 'snapshot_in_future' });
  });

  it('survives closing and reopening: data, seq and history are in the file', async () => {
    await store.write('u1', put('a', { v: 1 }));
    await store.write('u1', put('a', { v: 2 }));
    await store.close();
    store = openTestStore(dir.path);
    const state = await store.read('u1', (view) => ({ seq: view.seq, history: view.history('notes', 'a', { limit: 5 }).items.length }));
    expect(state).toEqual({ seq: 2, history: 2 });
  });

  it('answers a full volume with retryable insufficient_storage (507), writes nothing, keeps reads working', async () => {
    await store.write('u1', put('a', { v: 1 }));
    const partition = await store.pool.acquire('u1');
    const pages = partition.db.pragma('page_count', { simple: true }) as number;
    partition.db.pragma(`max_page_count = ${pages}`);
    store.pool.release(partition);
    const big = { text: 'x'.repeat(64 * 1024) };
    const outcomes = await Promise.allSettled([store.write('u1', put('b', big)), store.write('u1', put('c', { v: 1 }))]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'insufficient_storage', status: 507, retryable: true });
    }
    const state = await store.read('u1', (view) => ({ a: view.object('notes', 'a')?.body, b: view.object('notes', 'b'), seq: view.seq }));
    expect(state).toEqual({ a: '{"v":1}', b: undefined, seq: 1 });
    partition.db.pragma('max_page_count = 1073741823');
    await expect(store.write('u1', put('b', big))).resolves.toMatchObject({ result: { seq: 2 } });
  });

  it('with a commit delay, gathers writes that arrive within it into one batch', async () => {
    await store.close();
    events = new RecordedEvents();
    store = openTestStore(dir.path, { events, limits: { ...TEST_LIMITS, commitDelayMs: 50 } });
    const first = store.write('u1', put('a', { v: 1 }));
    await sleep(20);
    const second = store.write('u1', put('b', { v: 1 }));
    await Promise.all([first, second]);
    expect(events.batches).toEqual([2]);
  });
});
