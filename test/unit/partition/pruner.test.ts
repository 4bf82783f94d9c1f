import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionStore } from '../../../services/partition/partition-store.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { openTestStore } from '../../support/test-store.js';
import { DAY_MS } from '../../../services/worker/worker-config.js';

const put = (id: string, v: number) => ({ op: 'put', collection: 'c', id, document: { v }, precondition: {} }) as const;

describe('pruner', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let store: PartitionStore;
  beforeEach(() => {
    dir = makeTempDir();
    store = openTestStore(dir.path, {
      retention: { retentionMs: 1000, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 0, maxRowsPerBatch: 1000 },
    });
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('deletes versions superseded before the retention window and keeps every current version, tombstones included', async () => {
    for (let v = 1; v <= 5; v++) await store.write('u', put('a', v));
    await store.write('u', put('b', 1));
    await store.write('u', { op: 'delete', collection: 'c', id: 'b', precondition: {} });
    expect(await store.prune(Date.now() + 5000)).toBe(1);
    const state = await store.read('u', (view) => ({
      a: view.history('c', 'a', { limit: 10 }).items.map((v) => v.rev),
      b: view.history('c', 'b', { limit: 10 }).items.map((v) => v.deleted),
      current: view.object('c', 'a')?.body,
      changes: view.changes({ seq: 0 }, 10, false).changes.map((c) => [c.id, c.deleted]),
    }));
    expect(state).toEqual({ a: [5], b: [true], current: '{"v":5}', changes: [['a', false], ['b', true]] });
  });

  it('refuses snapshots older than the pruned horizon with snapshot_pruned (410) and serves newer ones exactly', async () => {
    await store.write('u', put('a', 1));
    await store.write('u', put('a', 2));
    await store.prune(Date.now() + 5000);
    await store.write('u', put('a', 3));
    await expect(store.read('u', (view) => view.assertSnapshot(1))).rejects.toMatchObject({ code: 'snapshot_pruned', status: 410 });
    const atTwo = await store.read('u', (view) => {
      view.assertSnapshot(2);
      return view.object('c', 'a', 2)?.body;
    });
    expect(atTwo).toBe('{"v":2}');
  });

  it('keeps versions still inside the retention window', async () => {
    await store.write('u', put('a', 1));
    await store.write('u', put('a', 2));
    await store.prune(Date.now());
    const revs = await store.read('u', (view) => view.history('c', 'a', { limit: 10 }).items.map((v) => v.rev));
    expect(revs).toEqual([2, 1]);
  });

  it('forgets idempotency keys older than their TTL', async () => {
    await store.write('u', put('a', 1), { key: 'k', requestHash: 'h' });
    await store.prune(Date.now() + 2 * DAY_MS);
    const again = await store.write('u', put('a', 1), { key: 'k', requestHash: 'h' });
    expect(again.replayed).toBe(false);
  });
});
