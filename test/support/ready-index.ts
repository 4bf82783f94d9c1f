import type { Partition } from '../../services/partition/partition.js';
import { parseFieldPath } from '../../services/query/field-path.js';
import { createIndexSql } from '../../services/query/index-sql.js';

/**
 * Makes a ready index as the index slice's build ends up with, for tests of
 * queries: the next index generation (meta and the partition's writes), the
 * collection among those whose writes keep `live` exact, the catalog row in
 * state 'ready', the SQLite index, and the current version of every live
 * object of the collection raised to the generation (what a build does a
 * batch at a time), all in one maintenance job.
 */
export async function createReadyIndex(partition: Partition, collection: string, name: string, paths: string[], unique = false): Promise<void> {
  await partition.maintain((sql, now) => {
    const current = sql.get("SELECT value FROM meta WHERE key = 'index_generation'").pluck().get() as number;
    const generation = Number(current) + 1;
    sql.get("UPDATE meta SET value = ? WHERE key = 'index_generation'").run(generation);
    sql
      .get("INSERT INTO indexes (collection, name, paths, is_unique, generation, state, created_at) VALUES (?, ?, ?, ?, ?, 'ready', ?)")
      .run(collection, name, JSON.stringify(paths), unique ? 1 : 0, generation, now);
    sql.db.exec(createIndexSql({ collection, name, paths: paths.map((path) => parseFieldPath(path, 'invalid_index')), unique, generation }));
    sql.get('UPDATE versions SET ixgen = ? WHERE vid IN (SELECT vid FROM objects WHERE collection = ? AND deleted = 0)').run(generation, collection);
    partition.objects.indexGeneration = generation;
    partition.objects.indexedCollections.add(collection);
  });
}
