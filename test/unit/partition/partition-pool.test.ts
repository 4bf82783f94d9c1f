import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionStore } from '../../../services/partition/partition-store.js';
import { partitionPath } from '../../../services/partition/user-id.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { openTestStore, RecordedEvents } from '../../support/test-store.js';

const doc = { op: 'put', collection: 'c', id: 'x', document: { v: 1 }, precondition: {} } as const;

describe('partition pool', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let events: RecordedEvents;
  let store: PartitionStore | undefined;
  beforeEach(() => {
    dir = makeTempDir();
    events = new RecordedEvents();
  });
  afterEach(async () => {
    await store?.close();
    dir.remove();
  });

  it('keeps at most maxOpen partitions open, closing the least recently used and releasing its lease', async () => {
    store = openTestStore(dir.path, { events, maxOpen: 3 });
    for (const user of ['a', 'b', 'c']) await store.write(user, doc);
    await store.read('a', () => undefined);
    await store.write('d', doc);
    await sleep(20);
    expect(store.pool.openPartitions().map((p) => p.userId).sort()).toEqual(['a', 'c', 'd']);
    expect(events.closes).toEqual([{ userId: 'b', reason: 'evicted' }]);
    expect(existsSync(`${partitionPath(dir.path, 'b')}.lock`)).toBe(false);
    expect(existsSync(`${partitionPath(dir.path, 'a')}.lock`)).toBe(true);
  });

  it('opens a partition once for concurrent first requests', async () => {
    store = openTestStore(dir.path, { events });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store!.write('u', { ...doc, id: `x${i}` })));
    expect(events.leases.filter((e) => e.event === 'acquired')).toHaveLength(1);
  });

  it('closes partitions that stay idle and releases their leases', async () => {
    store = openTestStore(dir.path, { events, idleCloseMs: 100 });
    await store.write('u', doc);
    await sleep(400);
    expect(store.pool.openCount).toBe(0);
    expect(events.closes).toContainEqual({ userId: 'u', reason: 'idle' });
    expect(existsSync(`${partitionPath(dir.path, 'u')}.lock`)).toBe(false);
  });

  it('answers overloaded (503, retryable) when every slot is in use by in-flight requests', async () => {
    store = openTestStore(dir.path, { events, maxOpen: 1 });
    const first = await store.pool.acquire('a');
    await expect(store.pool.acquire('b')).rejects.toMatchObject({ code: 'overloaded', status: 503, retryable: true });
    store.pool.release(first);
    await expect(store.write('b', doc)).resolves.toMatchObject({ replayed: false });
  });

  it('does not close a partition under an in-flight request', async () => {
    store = openTestStore(dir.path, { events });
    const partition = await store.pool.acquire('u');
    const closing = store.release('u');
    await sleep(30);
    expect(partition.state).toBe('closing');
    expect(events.closes).toEqual([]);
    store.pool.release(partition);
    await closing;
    expect(events.closes).toEqual([{ userId: 'u', reason: 'released' }]);
  });

  it('refuses new partitions after closeAll and releases every lease', async () => {
    store = openTestStore(dir.path, { events });
    await store.write('a', doc);
    await store.write('b', doc);
    await store.close();
    for (const user of ['a', 'b']) expect(existsSync(`${partitionPath(dir.path, user)}.lock`)).toBe(false);
    await expect(store.write('c', doc)).rejects.toMatchObject({ code: 'shutting_down' });
    store = undefined;
  });

  it('makes a second worker on the same data wait for the lease, then answer partition_busy', async () => {
    store = openTestStore(dir.path, { events });
    await store.write('u', doc);
    const other = openTestStore(dir.path, { workerId: 'w-other', lease: { staleMs: 2000, updateMs: 1000, waitMs: 200 } });
    await expect(other.read('u', () => undefined)).rejects.toMatchObject({ code: 'partition_busy', status: 503 });
    await store.release('u');
    await expect(other.read('u', (view) => view.seq)).resolves.toBe(1);
    await other.close();
  });

  it('closes the file when its lease is lost while it is being opened, so that it can be opened again', async () => {
    const lease = { staleMs: 2000, updateMs: 1000, waitMs: 4000 };
    const first = openTestStore(dir.path, { lease });
    await first.write('u', doc);
    await first.close();
    const file = partitionPath(dir.path, 'u');
    // The previous owner still has the file open (SQLite's exclusive lock).
    const previousOwner = new Database(file, { timeout: 0 });
    previousOwner.pragma('locking_mode = EXCLUSIVE');
    previousOwner.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('held', 1)").run();
    store = openTestStore(dir.path, { events, lease });
    const opening = store.write('u', doc).then(() => 'ok', (error: { code?: string }) => error.code);
    await sleep(1200);
    // Meanwhile another worker takes the lease over (replacing the lock directory, then the owner record).
    rmSync(`${file}.lock`, { recursive: true });
    mkdirSync(`${file}.lock`);
    writeFileSync(`${file}.owner`, JSON.stringify({ epoch: 99, worker: 'w-other', nonce: 'n', pid: 1, host: 'h', acquiredAt: '' }).padEnd(512, ' '));
    await sleep(1300);
    previousOwner.close();
    expect(await opening).toBe('partition_lost');
    rmSync(`${file}.lock`, { recursive: true });
    const other = new Database(file, { timeout: 0 });
    other.pragma('locking_mode = EXCLUSIVE');
    expect(() => other.prepare('SELECT count(*) FROM meta').get()).not.toThrow();
    other.close();
  });
});
