import type { Partition } from '../partition/partition.js';
import type { Statements } from '../partition/statements.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { parseFieldPath } from '../query/field-path.js';
import { createIndexSql } from '../query/index-sql.js';
import type { ImportResult } from './export-format.js';
import { catalogPaths, fileSeq } from './tenant-export.js';

/**
 * Replaces the partition's data with a checked staging file's, in one job
 * of the partition's commit queue (fenced like any commit: the lease is
 * verified before the batch, and the job runs in a savepoint, so a failure
 * changes nothing). The staging file is ATTACHed to the partition's
 * connection for the job (ATTACH and DETACH cannot run inside a
 * transaction, so around it, in the same turns as no batch runs).
 *
 * Unless `replace`, the user must have no live object (tenant_not_empty);
 * its tombstones and history go. Imported: versions (same vids, chains,
 * revs, commit times), object heads, the chains' anchors (as anchorChains
 * computed them on the staging file), the index catalog (every index
 * rebuilt, ready: every version carries the newest generation; a unique
 * index the data breaks is kept as failed), the
 * retention horizon and the seq. Not imported, and cleared: idempotency
 * records (a key used before the import applies again after it). Kept: the
 * owner epoch (the lease's fencing token is the target's). The quota
 * applies to the result (quota_exceeded). Afterwards running exports of
 * the user stop (their snapshot is gone) and its seq, horizon and index
 * generation are the imported ones (seq may go back with replace).
 */
export async function applyImport(partition: Partition, stagingFile: string, replace: boolean, maxUserBytes: number): Promise<ImportResult> {
  const db = partition.db;
  db.prepare("ATTACH DATABASE ? AS staging").run(stagingFile);
  try {
    return await partition.maintain((sql) => {
      const result = replaceData(sql, replace, maxUserBytes);
      partition.pins.invalidateAll();
      partition.seq = result.seq;
      partition.prunedThrough = result.prunedThrough;
      partition.objects.indexGeneration = result.generation;
      partition.objects.indexedCollections.clear();
      for (const collection of result.indexedCollections) partition.objects.indexedCollections.add(collection);
      return { seq: result.seq, objects: result.objects, versions: result.versions, indexes: result.indexes };
    });
  } finally {
    db.prepare('DETACH DATABASE staging').run();
  }
}

function replaceData(sql: Statements, replace: boolean, maxUserBytes: number) {
  const db = sql.db;
  if (!replace && db.prepare('SELECT 1 FROM main.objects WHERE deleted = 0 LIMIT 1').get() !== undefined) {
    throw new PinbaseError('tenant_not_empty', 'the user has objects: import into an empty user, or with ?replace=true');
  }
  const meta = (key: string) => Number((db.prepare('SELECT value FROM staging.meta WHERE key = ?').pluck().get(key) as number | undefined) ?? 0);
  const catalog = db.prepare('SELECT collection, name, paths, is_unique, generation, created_at FROM staging.indexes ORDER BY generation').all() as {
    collection: string;
    name: string;
    paths: string;
    is_unique: number;
    generation: number;
    created_at: number;
  }[];
  const generation = Math.max(meta('index_generation'), ...catalog.map((row) => row.generation), 0);
  for (const name of db.prepare("SELECT name FROM main.sqlite_master WHERE type = 'index' AND name LIKE 'pbx\\_%' ESCAPE '\\'").pluck().all() as string[]) {
    db.exec(`DROP INDEX main."${name.replaceAll('"', '""')}"`);
  }
  db.exec('DELETE FROM main.versions; DELETE FROM main.objects; DELETE FROM main.indexes; DELETE FROM main.idempotency;');
  // A version is live when it is its object's head and not a tombstone.
  const versions = db
    .prepare(
      `INSERT INTO main.versions (vid, rev, collection, id, prev, deleted, committed_at, body, live, ixgen, up)
       SELECT v.vid, v.rev, v.collection, v.id, v.prev, v.deleted, v.committed_at, v.body, o.vid IS v.vid AND v.deleted = 0, ?, v.up
       FROM staging.versions v LEFT JOIN staging.objects o ON o.collection = v.collection AND o.id = v.id ORDER BY v.vid`,
    )
    .run(generation).changes;
  db.exec(
    'INSERT INTO main.objects (collection, id, vid, rev, deleted, depth, anchor) SELECT collection, id, vid, rev, deleted, depth, anchor FROM staging.objects ORDER BY collection, id',
  );
  const insertIndex = db.prepare(
    "INSERT INTO main.indexes (collection, name, paths, is_unique, generation, state, built_through, error, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
  );
  for (const row of catalog) {
    const paths = catalogPaths(row.paths).map((path) => [...parseFieldPath(path, 'invalid_index')]);
    let failure: string | null = null;
    try {
      db.exec(createIndexSql({ collection: row.collection, name: row.name, paths, unique: row.is_unique === 1, generation: row.generation }));
    } catch (error) {
      if (!(error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw error;
      // As an index build that meets duplicates: the index is failed, the data imported.
      failure = 'two live objects have the same values of this unique index';
    }
    insertIndex.run(row.collection, row.name, row.paths, row.is_unique, row.generation, failure === null ? 'ready' : 'failed', failure, row.created_at);
  }
  const seq = Math.max(fileSeq(db), meta('imported_seq'));
  const prunedThrough = Math.min(meta('pruned_through'), seq);
  db.prepare("INSERT OR REPLACE INTO main.meta (key, value) VALUES ('pruned_through', ?), ('pruned_vid', 0), ('index_generation', ?), ('imported_seq', ?)").run(
    prunedThrough,
    generation,
    seq,
  );
  const pageSize = db.pragma('main.page_size', { simple: true }) as number;
  const used = ((db.pragma('main.page_count', { simple: true }) as number) - (db.pragma('main.freelist_count', { simple: true }) as number)) * pageSize;
  if (maxUserBytes > 0 && used > maxUserBytes) {
    throw new PinbaseError('quota_exceeded', `the imported data takes ${used} bytes, beyond the user quota of ${maxUserBytes}`);
  }
  const objects = db.prepare('SELECT count(*) FROM main.objects WHERE deleted = 0').pluck().get() as number;
  const indexedCollections = new Set(catalog.map((row) => row.collection));
  return { seq, prunedThrough, generation, objects, versions, indexes: catalog.length, indexedCollections };
}
