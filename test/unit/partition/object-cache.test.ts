import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectCache } from '../../../services/partition/object-cache.js';
import type { StoredVersion } from '../../../services/partition/object-reads.js';
import type { PartitionStore } from '../../../services/partition/partition-store.js';
import type { WriteRequest } from '../../../services/partition/write-request.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { openTestStore } from '../../support/test-store.js';

const version = (rev: number, body: string | null): StoredVersion => ({ rev, deleted: body === null, body, committedAt: 1000, vid: rev });

describe('the object cache', () => {
  it('keeps versions by generation, collection and id: another generation never sees them', () => {
    const cache = new ObjectCache(1024 * 1024);
    const gen = cache.generation();
    cache.set(gen, 'notes', 'a', version(1, '{"v":1}'));
    expect(cache.get(gen, 'notes', 'a')?.body).toBe('{"v":1}');
    expect(cache.get(gen, 'notes', 'b')).toBeUndefined();
    expect(cache.get(gen, 'other', 'a')).toBeUndefined();
    const next = cache.generation();
    expect(next).not.toBe(gen);
    expect(cache.get(next, 'notes', 'a')).toBeUndefined();
    expect([cache.hits, cache.misses]).toEqual([1, 3]);
  });

  it('stays within its byte budget, dropping the least recently used first', () => {
    const body = 'x'.repeat(1000);
    const cache = new ObjectCache(64 * 3000);
    const gen = cache.generation();
    for (let i = 0; i < 100; i++) {
      cache.set(gen, 'notes', `n${i}`, version(i + 1, body));
      if (i === 50) expect(cache.get(gen, 'notes', 'n0')).toBeDefined(); // n0 is used again: kept longer
      expect(cache.size).toBeLessThanOrEqual(cache.maxBytes);
    }
    expect(cache.count).toBeGreaterThan(50);
    expect(cache.count).toBeLessThan(100);
    expect(cache.get(gen, 'notes', 'n99')).toBeDefined();
    expect(cache.get(gen, 'notes', 'n1')).toBeUndefined();
  });

  it('does not keep a body larger than 1/64 of its budget, and keeps nothing with a budget of 0', () => {
    const cache = new ObjectCache(64 * 1024);
    const gen = cache.generation();
    cache.set(gen, 'notes', 'big', version(1, 'x'.repeat(1024)));
    expect(cache.get(gen, 'notes', 'big')).toBeUndefined();
    const off = new ObjectCache(0);
    off.set(gen, 'notes', 'a', version(1, '{}'));
    expect(off.get(gen, 'notes', 'a')).toBeUndefined();
    expect(off.count).toBe(0);
  });
});

describe('reads through the object cache', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let store: PartitionStore;
  beforeEach(() => {
    dir = makeTempDir();
    store = openTestStore(dir.path);
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  const put = (id: string, document: Record<string, unknown>): WriteRequest => ({ op: 'put', collection: 'notes', id, document, precondition: {} });
  const read = (id: string, at?: number) => store.read('u1', (view) => view.object('notes', id, at)?.body ?? null);

  it('answers a repeated read from memory', async () => {
    await store.write('u1', put('a', { v: 1 }));
    const cache = store.pool.objectCache;
    expect(await read('a')).toBe('{"v":1}');
    const hits = cache.hits;
    expect(await read('a')).toBe('{"v":1}');
    expect(await read('a')).toBe('{"v":1}');
    expect(cache.hits).toBe(hits + 2);
  });

  it('never answers with a version a later commit replaced: put, patch, delete, transaction, revert, maintenance', async () => {
    const first = await store.write('u1', put('a', { v: 1 }));
    await store.write('u1', put('b', { v: 1 }));
    const readBoth = async () => [await read('a'), await read('b')];
    expect(await readBoth()).toEqual(['{"v":1}', '{"v":1}']);

    await store.write('u1', put('a', { v: 2 }));
    expect(await readBoth()).toEqual(['{"v":2}', '{"v":1}']);

    await store.write('u1', { op: 'patch', collection: 'notes', id: 'b', patch: { w: 1 }, precondition: {} });
    expect(await readBoth()).toEqual(['{"v":2}', '{"v":1,"w":1}']);

    await store.write('u1', { op: 'delete', collection: 'notes', id: 'a', precondition: {} });
    expect(await readBoth()).toEqual([null, '{"v":1,"w":1}']);

    await store.write('u1', {
      op: 'tx',
      reads: [],
      ops: [
        { op: 'put', collection: 'notes', id: 'a', data: { v: 3 } },
        { op: 'delete', collection: 'notes', id: 'b' },
      ],
    });
    expect(await readBoth()).toEqual(['{"v":3}', null]);

    await store.write('u1', { op: 'revert', to: first.result.seq });
    expect(await readBoth()).toEqual(['{"v":1}', null]);

    // Any job of the commit queue (an import, a prune, an index build) moves the cache on, whatever it writes.
    const partition = await store.pool.acquire('u1');
    try {
      await partition.maintain((sql) => sql.get("UPDATE versions SET body = '{\"v\":\"maintained\"}' WHERE vid = (SELECT vid FROM objects WHERE id = 'a')").run());
    } finally {
      store.pool.release(partition);
    }
    expect(await readBoth()).toEqual(['{"v":"maintained"}', null]);
  });

  it('reads a snapshot (?at=) from the file, not from the cache', async () => {
    const first = await store.write('u1', put('a', { v: 1 }));
    await store.write('u1', put('a', { v: 2 }));
    expect(await read('a')).toBe('{"v":2}');
    expect(await read('a', first.result.seq)).toBe('{"v":1}');
  });

  it('sees what another worker wrote while it held the user: a partition opened again starts a new generation', async () => {
    await store.write('u1', put('a', { v: 1 }));
    expect(await read('a')).toBe('{"v":1}');
    await store.pool.close('u1', 'released');
    const other = openTestStore(dir.path, { workerId: 'w-other' });
    try {
      await other.write('u1', put('a', { v: 'written elsewhere' }));
    } finally {
      await other.close();
    }
    expect(await read('a')).toBe('{"v":"written elsewhere"}');
  });
});
