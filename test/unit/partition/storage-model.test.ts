import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Partition } from '../../../services/partition/partition.js';
import type { PartitionStore } from '../../../services/partition/partition-store.js';
import { migrate, SCHEMA_VERSION } from '../../../services/partition/schema.js';
import { partitionPath } from '../../../services/partition/user-id.js';
import { DAY_MS } from '../../../services/worker/worker-config.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { openTestStore } from '../../support/test-store.js';

const put = (id: string, v: number) => ({ op: 'put', collection: 'c', id, document: { v }, precondition: {} }) as const;

/**
 * A partition file as schema version 1 stored it: seq 1 put a; seq 2 one
 * transaction putting b and c; seq 3 put a; seq 4 delete b; seq 5 put a.
 */
function writeVersionOneFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  migrate(db, 1);
  db.exec(`
    INSERT INTO commits (seq, committed_at) VALUES (1, 1000), (2, 2000), (3, 3000), (4, 4000), (5, 5000);
    INSERT INTO objects (collection, id, rev, deleted, body, committed_at) VALUES
      ('c', 'a', 5, 0, '{"v":3}', 5000), ('c', 'b', 4, 1, NULL, 4000), ('c', 'c', 2, 0, '{"v":1}', 2000);
    INSERT INTO versions (collection, id, rev, superseded_by, deleted, body, committed_at) VALUES
      ('c', 'a', 1, 3, 0, '{"v":1}', 1000), ('c', 'a', 3, 5, 0, '{"v":2}', 3000), ('c', 'b', 2, 4, 0, '{"v":1}', 2000);
  `);
  db.close();
}

describe('storage model', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let store: PartitionStore;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('migrates a version-1 file: every version, snapshot, history and the change feed read as before, and writes go on', async () => {
    writeVersionOneFile(partitionPath(dir.path, 'old'));
    store = openTestStore(dir.path);
    const body = (version: { body: string | null } | undefined) => version?.body;
    const before = await store.read('old', (view) => ({
      seq: view.seq,
      latest: ['a', 'b', 'c'].map((id) => view.object('c', id)?.rev),
      aAt: [0, 1, 2, 3, 4, 5].map((at) => body(view.object('c', 'a', at))),
      bAt: [1, 2, 3, 4].map((at) => view.object('c', 'b', at)?.deleted),
      history: view.history('c', 'a', { limit: 10 }).items.map((v) => v.rev),
      changes: view.changes({ seq: 0 }, 10, true).changes.map((c) => [c.id, c.seq, c.deleted, c.body]),
      listAt2: view.list('c', { after: '', limit: 10, at: 2 }).items.map((o) => o.id),
      listAt4: view.list('c', { after: '', limit: 10, at: 4 }).items.map((o) => o.id),
    }));
    expect(before).toEqual({
      seq: 5,
      latest: [5, 4, 2],
      aAt: [undefined, '{"v":1}', '{"v":1}', '{"v":2}', '{"v":2}', '{"v":3}'],
      bAt: [undefined, false, false, true],
      history: [5, 3, 1],
      changes: [
        ['c', 2, false, '{"v":1}'],
        ['b', 4, true, null],
        ['a', 5, false, '{"v":3}'],
      ],
      listAt2: ['a', 'b', 'c'],
      listAt4: ['a', 'c'],
    });
    const written = await store.write('old', put('a', 4));
    expect(written.result).toMatchObject({ rev: 6, seq: 6 });
    const after = await store.read('old', (view) => ({
      history: view.history('c', 'a', { limit: 10 }).items.map((v) => [v.rev, v.body]),
      version: (view as Partition).db.pragma('user_version', { simple: true }),
    }));
    expect(after).toEqual({
      history: [
        [6, '{"v":4}'],
        [5, '{"v":3}'],
        [3, '{"v":2}'],
        [1, '{"v":1}'],
      ],
      version: SCHEMA_VERSION,
    });
  });

  it('marks live exactly the current, undeleted version of each object of an indexed collection: after a migration, puts, patches, deletes and re-creations', async () => {
    writeVersionOneFile(partitionPath(dir.path, 'old'));
    store = openTestStore(dir.path);
    await store.read('old', (view) => (view as Partition).objects.indexedCollections.add('c'));
    const live = () =>
      store.read('old', (view) =>
        (view as Partition).db
          .prepare('SELECT collection, id, rev FROM versions WHERE live = 1 ORDER BY collection, id, rev')
          .all()
          .map((row) => {
            const { id, rev } = row as { id: string; rev: number };
            return `${id}@${rev}`;
          }),
      );
    // Migrated: a@5 and c@2 are current; b is deleted.
    expect(await live()).toEqual(['a@5', 'c@2']);
    await store.write('old', put('a', 4));
    await store.write('old', { op: 'patch', collection: 'c', id: 'c', patch: { w: 1 }, precondition: {} });
    await store.write('old', { op: 'delete', collection: 'c', id: 'a', precondition: {} });
    await store.write('old', put('b', 7));
    expect(await live()).toEqual(['b@9', 'c@7']);
    await store.write('old', {
      op: 'tx',
      reads: [],
      ops: [
        { op: 'put', collection: 'c', id: 'a', data: { v: 1 } },
        { op: 'delete', collection: 'c', id: 'b' },
        { op: 'patch', collection: 'c', id: 'c', patch: { w: 2 } },
      ],
    });
    expect(await live()).toEqual(['a@10', 'c@10']);
  });

  it('does not rewrite the previous version of an object in a collection without an index', async () => {
    store = openTestStore(dir.path);
    await store.write('u', put('a', 1));
    await store.write('u', put('a', 2));
    const live = await store.read('u', (view) => (view as Partition).db.prepare('SELECT rev, live FROM versions ORDER BY vid').all());
    expect(live).toEqual([
      { rev: 1, live: 1 },
      { rev: 2, live: 1 },
    ]);
  });

  it('lists a collection at a snapshot past many objects created later, filling every page', async () => {
    store = openTestStore(dir.path);
    for (let i = 0; i < 10; i++) await store.write('u', put(`early${i}`, i));
    const snapshot = (await store.write('u', put('early9', 99))).result.seq;
    // 150 objects between early… ids in id order, all created after the snapshot.
    await Promise.all(Array.from({ length: 150 }, (_, i) => store.write('u', put(`early0-${String(i).padStart(3, '0')}`, i))));
    const pages: string[][] = [];
    let after = '';
    for (;;) {
      const page = await store.read('u', (view) => view.list('c', { after, limit: 4, at: snapshot }).items);
      if (page.length === 0) break;
      pages.push(page.map((o) => o.id));
      after = page[page.length - 1]!.id;
    }
    expect(pages.flat()).toEqual(Array.from({ length: 10 }, (_, i) => `early${i}`));
    expect(pages.map((p) => p.length)).toEqual([4, 4, 2]);
  });

  it('pages history from any `before`, also one that is not a rev of the object', async () => {
    store = openTestStore(dir.path);
    for (let v = 1; v <= 6; v++) {
      await store.write('u', put('a', v));
      await store.write('u', put('other', v));
    }
    const revs = (before?: number) =>
      store.read('u', (view) => view.history('c', 'a', { before, limit: 2 }).items.map((v) => v.rev));
    expect(await revs()).toEqual([11, 9]);
    expect(await revs(9)).toEqual([7, 5]);
    expect(await revs(8)).toEqual([7, 5]);
    expect(await revs(2)).toEqual([1]);
    expect(await revs(1)).toEqual([]);
  });

  it('prunes a backlog in bounded steps, keeping every snapshot at or after the horizon exact', async () => {
    store = openTestStore(dir.path, {
      retention: { retentionMs: 1000, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 0, maxRowsPerBatch: 5 },
    });
    for (let v = 1; v <= 12; v++) await store.write('u', put(v % 2 ? 'a' : 'b', v));
    const rowCount = () =>
      store.read('u', (view) => {
        const db = (view as Partition).db;
        return (db.prepare('SELECT count(*) AS n FROM versions').get() as { n: number }).n;
      });
    expect(await rowCount()).toBe(12);
    const later = Date.now() + 5000;
    await store.prune(later);
    expect(await rowCount()).toBeGreaterThan(2);
    for (let i = 0; i < 5; i++) await store.prune(later);
    expect(await rowCount()).toBe(2);
    await store.write('u', put('a', 13));
    const state = await store.read('u', (view) => ({
      atHorizon: [view.object('c', 'a', 12)?.body, view.object('c', 'b', 12)?.body],
      latest: view.history('c', 'a', { limit: 10 }).items.map((v) => v.rev),
    }));
    expect(state).toEqual({ atHorizon: ['{"v":11}', '{"v":12}'], latest: [13, 11] });
  });
});
