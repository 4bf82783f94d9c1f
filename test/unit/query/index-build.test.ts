import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Partition } from '../../../services/partition/partition.js';
import type { PartitionStore } from '../../../services/partition/partition-store.js';
import type { TxOperation } from '../../../services/partition/write-request.js';
import { fieldValueSql } from '../../../services/query/field-path.js';
import { buildIndexStep, createIndex, INDEX_BUILD_BATCH, type IndexEntry } from '../../../services/query/index-catalog.js';
import { indexSqlName, readyTermSql } from '../../../services/query/index-sql.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { openTestStore } from '../../support/test-store.js';

const USER = 'builder';
let temp: ReturnType<typeof makeTempDir>;
let store: PartitionStore;
beforeEach(() => {
  temp = makeTempDir('pinbase-index-');
  store = openTestStore(join(temp.path, 'data'));
});
afterEach(async () => {
  await store.close();
  temp.remove();
});

const itemId = (i: number) => `i${String(i).padStart(6, '0')}`;

/** Writes `count` objects {n, group} to `collection`, 1000 per transaction. */
async function fill(collection: string, count: number, data: (i: number) => Record<string, unknown> = (i) => ({ n: i, group: i % 10 })) {
  for (let start = 0; start < count; start += 1000) {
    const ops: TxOperation[] = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) ops.push({ op: 'put', collection, id: itemId(i), data: data(i) });
    await store.write(USER, { op: 'tx', reads: [], ops });
  }
}

/** The user's open partition (a test looks inside; the store keeps it open). */
async function partitionOf(): Promise<Partition> {
  const partition = await store.pool.acquire(USER);
  store.pool.release(partition);
  return partition;
}

/**
 * Rows the index holds, read through the index itself, and how many distinct
 * objects they are. (INDEXED BY is checked when the statement is prepared,
 * before a bound collection could match the index's WHERE: the test writes
 * the validated name as a literal.)
 */
function indexContent(partition: Partition, entry: IndexEntry): { rows: number; objects: number } {
  return partition.db
    .prepare(
      `SELECT count(*) AS rows, count(DISTINCT id) AS objects FROM versions INDEXED BY "${indexSqlName(entry.collection, entry.name)}" ` +
        `WHERE collection = '${entry.collection}' AND live = 1 AND ixgen >= ${entry.generation}`,
    )
    .get() as { rows: number; objects: number };
}

function liveCount(partition: Partition, collection: string): number {
  return partition.db.prepare('SELECT count(*) FROM objects WHERE collection = ? AND deleted = 0').pluck().get(collection) as number;
}

/** The query shape of the query slice: the ready term of every READY index of the collection, then the field test. */
function queryPlan(partition: Partition, collection: string, path: string[]): string {
  const ready = partition.indexes().filter((entry) => entry.collection === collection && entry.state === 'ready');
  const terms = ready.map((entry) => ` AND ${readyTermSql('v', entry.generation)}`).join('');
  const sql = `SELECT v.id FROM versions v WHERE v.collection = ? AND v.live = 1${terms} AND ${fieldValueSql('v', path)} = ?`;
  return (partition.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(collection, 3) as { detail: string }[]).map((row) => row.detail).join(' | ');
}

describe('background index build', () => {
  it('builds 5,000 objects a batch at a time while writes commit between batches, ending ready with every live object once', async () => {
    await fill('items', 5000);
    const { entry, created } = await store.putIndex(USER, { collection: 'items', name: 'by_group', paths: [['group']], unique: false });
    expect(created).toBe(true);
    expect(entry.state).toBe('building');
    expect(entry.builtThrough).toBe(itemId(INDEX_BUILD_BATCH - 1));
    const partition = await partitionOf();
    expect(queryPlan(partition, 'items', ['group'])).not.toContain('pbx_');

    // Writes while the build runs: updates ahead of and behind the build, deletes, new objects.
    let committedWhileBuilding = 0;
    for (let round = 0; round < 20; round++) {
      await Promise.all([
        store.write(USER, { op: 'put', collection: 'items', id: itemId(4999 - round * 7), document: { n: -1, group: 42 }, precondition: {} }),
        store.write(USER, { op: 'delete', collection: 'items', id: itemId(round * 13), precondition: {} }),
        store.write(USER, { op: 'put', collection: 'items', id: `new${round}`, document: { group: 3 }, precondition: {} }),
      ]);
      if (partition.index('items', 'by_group')!.state === 'building') committedWhileBuilding++;
    }
    expect(committedWhileBuilding).toBeGreaterThan(0);
    await partition.indexBuilds.idle();

    const ready = partition.index('items', 'by_group')!;
    expect(ready.state).toBe('ready');
    expect(ready.builtThrough).toBeNull();
    const live = liveCount(partition, 'items');
    expect(live).toBe(5000 - 20 + 20);
    expect(indexContent(partition, ready)).toEqual({ rows: live, objects: live });
    expect(queryPlan(partition, 'items', ['group'])).toContain(`USING INDEX ${indexSqlName('items', 'by_group')}`);
  });

  it('stops between batches when the partition closes mid-build, and the next open resumes and completes it', async () => {
    await fill('items', 5000);
    await store.putIndex(USER, { collection: 'items', name: 'by_n', paths: [['n']], unique: false });
    await store.release(USER);

    const stopped = await store.read(USER, (view) => view.index('items', 'by_n'));
    // Reopened by the read above: the build resumed from where the catalog says.
    expect(stopped!.state).toBe('building');
    expect(stopped!.builtThrough! >= itemId(INDEX_BUILD_BATCH - 1)).toBe(true);
    expect(stopped!.builtThrough! < itemId(4999)).toBe(true);
    const partition = await partitionOf();
    await partition.indexBuilds.idle();
    const ready = partition.index('items', 'by_n')!;
    expect(ready.state).toBe('ready');
    expect(indexContent(partition, ready)).toEqual({ rows: 5000, objects: 5000 });
  });

  it('stops a build whose index is deleted, leaving no SQLite index behind', async () => {
    await fill('items', 3000);
    await store.putIndex(USER, { collection: 'items', name: 'by_n', paths: [['n']], unique: false });
    await store.deleteIndex(USER, 'items', 'by_n');
    const partition = await partitionOf();
    await partition.indexBuilds.idle();
    expect(partition.indexes()).toEqual([]);
    expect(partition.db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'pbx_%'").all()).toEqual([]);
  });
});

describe('live flags and indexes', () => {
  const put = (id: string, k: string) => store.write(USER, { op: 'put', collection: 'notes', id, document: { k }, precondition: {} });

  it('keep live exact in a collection from its first index on, and no index ever sees a version superseded without one', async () => {
    await put('a', 'x');
    await put('a', 'y'); // no index yet: version 'x' keeps live = 1
    const spec = { collection: 'notes', name: 'by_k', paths: [['k']], unique: true };
    expect((await store.putIndex(USER, spec)).entry.state).toBe('ready');
    const partition = await partitionOf();
    expect(partition.objects.indexedCollections.has('notes')).toBe(true);
    await put('b', 'x'); // the stale 'x' is not in the index
    await put('a', 'z'); // 'y' leaves the index
    await put('c', 'y');

    await store.deleteIndex(USER, 'notes', 'by_k');
    expect(partition.objects.indexedCollections.has('notes')).toBe(false);
    await put('a', 'w'); // no index: version 'z' keeps live = 1
    expect((await store.putIndex(USER, spec)).entry.state).toBe('ready');
    await put('d', 'z');
    await expect(put('e', 'w')).rejects.toMatchObject({ code: 'unique_violation' });
    const ready = partition.index('notes', 'by_k')!;
    expect(indexContent(partition, ready)).toEqual({ rows: 4, objects: 4 });
  });

  it('keep a collection marked while another of its indexes remains', async () => {
    await put('a', 'x');
    await store.putIndex(USER, { collection: 'notes', name: 'one', paths: [['k']], unique: false });
    await store.putIndex(USER, { collection: 'notes', name: 'two', paths: [['k']], unique: true });
    await store.deleteIndex(USER, 'notes', 'one');
    const partition = await partitionOf();
    expect(partition.objects.indexedCollections.has('notes')).toBe(true);
    await put('a', 'y');
    await put('b', 'x');
  });
});

describe('the catalog of a file from elsewhere', () => {
  it('shows a catalog row this build would not write as a failed index, never building it or turning it into SQL', async () => {
    await fill('items', 10);
    const partition = await partitionOf();
    await partition.maintain((sql) => {
      const insert = sql.get(
        "INSERT INTO indexes (collection, name, paths, is_unique, generation, state, built_through, error, created_at) VALUES (?, ?, ?, 0, ?, 'building', '', NULL, 0)",
      );
      insert.run('items', 'hostile', `["n') IS NULL; DROP TABLE objects; --"]`, 1);
      insert.run("items'", 'quoted', '["n"]', 1);
      insert.run('items', 'no_paths', '{}', 1);
      insert.run('items', 'zero_generation', '["n"]', 0);
    });
    await store.release(USER);
    const reopened = await partitionOf();
    await reopened.indexBuilds.idle();
    const entries = reopened.indexes();
    expect(entries.map((entry) => [entry.name, entry.state, entry.paths])).toEqual([
      ['hostile', 'failed', []],
      ['no_paths', 'failed', []],
      ['zero_generation', 'failed', []],
      ['quoted', 'failed', []],
    ]);
    expect(entries[0]!.error).toContain('not valid');
    await store.write(USER, { op: 'put', collection: 'items', id: 'after', document: { n: 1 }, precondition: {} });
    expect(liveCount(reopened, 'items')).toBe(11);
    await store.deleteIndex(USER, 'items', 'hostile');
    expect(reopened.indexes()).toHaveLength(3);
  });
});

describe('unique index builds', () => {
  it('refuses to create a unique index on a small collection that already breaks it (unique_violation, nothing created)', async () => {
    await fill('users', 10, (i) => ({ email: `u${i % 9}@example.com` }));
    await expect(store.putIndex(USER, { collection: 'users', name: 'by_email', paths: [['email']], unique: true })).rejects.toMatchObject({
      code: 'unique_violation',
      extensions: { collection: 'users', index: 'by_email' },
      detail: expect.stringContaining('"i000000" and "i000009"'),
    });
    const partition = await partitionOf();
    expect(partition.indexes()).toEqual([]);
    // The generation went back with the creation: the next index gets the one it would have had.
    expect(partition.objects.indexGeneration).toBe(0);
    expect((await store.putIndex(USER, { collection: 'users', name: 'by_email', paths: [['email']], unique: false })).entry.generation).toBe(1);
  });

  it('fails a background build that meets a duplicate: state failed naming both objects, SQLite index dropped, entry kept until deleted', async () => {
    await fill('users', 2000, (i) => ({ email: i === 1700 ? 'u3@example.com' : `u${i}@example.com` }));
    const { entry } = await store.putIndex(USER, { collection: 'users', name: 'by_email', paths: [['email']], unique: true });
    expect(entry.state).toBe('building');
    const partition = await partitionOf();
    await partition.indexBuilds.idle();
    const failed = partition.index('users', 'by_email')!;
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('"i000003" and "i001700"');
    expect(failed.error).toContain('email="u3@example.com"');
    expect(partition.db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'pbx_%'").all()).toEqual([]);
    // No longer enforced: a duplicate write passes.
    await store.write(USER, { op: 'put', collection: 'users', id: 'dup', document: { email: 'u5@example.com' }, precondition: {} });
    await store.deleteIndex(USER, 'users', 'by_email');
    expect(partition.indexes()).toEqual([]);
  });

  it('fails the building unique index that holds a duplicate, not the newer index whose build put the object in it', async () => {
    await fill('users', 2000, (i) => ({ n: i, email: i === 1700 ? 'u3@example.com' : `u${i}@example.com` }));
    const partition = await partitionOf();
    // Index A (older generation) has not been built; B's build raises each object's ixgen past A's, which puts it in A too.
    const b = await partition.maintain((sql, now) => {
      const a = createIndex(sql, { collection: 'users', name: 'a_email', paths: [['email']], unique: true }, now);
      const created = createIndex(sql, { collection: 'users', name: 'b_n', paths: [['n']], unique: true }, now);
      partition.objects.indexGeneration = created.generation;
      expect(a.generation).toBeLessThan(created.generation);
      let entry: IndexEntry = created;
      while (entry.state === 'building') entry = buildIndexStep(sql, created)!;
      return entry;
    });
    expect(b.state).toBe('ready');
    expect(indexContent(partition, b)).toEqual({ rows: 2000, objects: 2000 });
    const a = partition.index('users', 'a_email')!;
    expect(a.state).toBe('failed');
    expect(a.error).toContain('"i000003" and "i001700"');
  });
});
