import type { Statements } from '../partition/statements.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { COLLECTION_PATTERN } from '../ids/id-patterns.js';
import { fieldValueSql, formatFieldPath, parseFieldPath, type FieldPath } from './field-path.js';
import {
  createIndexSql,
  dropIndexSql,
  INDEX_NAME_PATTERN,
  indexSqlName,
  MAX_INDEX_PATHS,
  parseIndexSqlName,
  type IndexDefinition,
  type IndexState,
} from './index-sql.js';

/**
 * The index catalog of a partition (table `indexes`, migration 3) and the
 * steps that change it. Every function here runs inside a write of the
 * partition (a `maintain()` job: one savepoint of a group-commit batch), so
 * the catalog row and the SQLite index it describes change together.
 *
 * Catalog row format (what other readers of the table rely on):
 *   collection, name   the index's key (validated identifiers)
 *   paths              JSON array of the paths in dot form: ["status","address.city"]
 *   is_unique          0 or 1
 *   generation         the index generation (see index-sql.ts)
 *   state              'building' | 'ready' | 'failed'
 *   built_through      while building: the id of the last object indexed ('' before the first)
 *   error              why a build failed (state 'failed'), else NULL
 *   created_at         ms since the epoch
 * A query may use an index only in state 'ready' (index-sql.ts readyTermSql).
 */

/** Most indexes one user may have (failed ones included, until deleted). Every write to a collection updates each of its indexes. */
export const MAX_INDEXES = 64;

/**
 * Live objects one build step indexes (one maintain() job, so the longest a
 * write waits behind a build is one step; see docs/ARCHITECTURE.md for the
 * measured time). A collection of at most this many objects is built in the
 * job that creates its index.
 */
export const INDEX_BUILD_BATCH = 500;

/** What a user asks for: PUT /_indexes/:collection/:name. */
export interface IndexSpec {
  collection: string;
  name: string;
  paths: FieldPath[];
  unique: boolean;
}

/** A catalog entry, as the API shows it. */
export interface IndexEntry extends IndexDefinition {
  state: IndexState;
  /** While building: the id of the last object indexed (objects are indexed in id order; '' before the first). */
  builtThrough: string | null;
  /** Why the build failed (state 'failed'). */
  error: string | null;
  createdAt: number;
}

interface CatalogRow {
  collection: string;
  name: string;
  paths: string;
  is_unique: number;
  generation: number;
  state: IndexState;
  built_through: string | null;
  error: string | null;
  created_at: number;
}

const COLUMNS = 'collection, name, paths, is_unique, generation, state, built_through, error, created_at';

/** Every index of the partition, by collection and name. */
export function listIndexes(sql: Statements): IndexEntry[] {
  return (sql.get(`SELECT ${COLUMNS} FROM indexes ORDER BY collection, name`).all() as CatalogRow[]).map(toEntry);
}

/** One index, or undefined. */
export function findIndex(sql: Statements, collection: string, name: string): IndexEntry | undefined {
  const row = sql.get(`SELECT ${COLUMNS} FROM indexes WHERE collection = ? AND name = ?`).get(collection, name) as CatalogRow | undefined;
  return row && toEntry(row);
}

/** How many indexes (in any state) the collection has. */
export function countIndexes(sql: Statements, collection: string): number {
  return sql.get('SELECT count(*) FROM indexes WHERE collection = ?').pluck().get(collection) as number;
}

/** Whether the partition has a unique index that writes must respect (building or ready). */
export function hasUniqueIndex(sql: Statements): boolean {
  return sql.get("SELECT 1 FROM indexes WHERE is_unique = 1 AND state <> 'failed' LIMIT 1").get() !== undefined;
}

/** Whether `entry` is the index `spec` asks for (same paths in the same order, same uniqueness). */
export function sameDefinition(entry: IndexDefinition, spec: IndexSpec): boolean {
  return entry.unique === spec.unique && JSON.stringify(entry.paths.map(formatFieldPath)) === JSON.stringify(spec.paths.map(formatFieldPath));
}

/**
 * Adds `spec` to the catalog in state 'building' under the next index
 * generation, creates its (empty) SQLite index and raises the generation new
 * versions are written under (`generation` holds the current one; the
 * caller gives the new value to StoredObjects). Throws invalid_index beyond
 * MAX_INDEXES. The caller has checked that no index of that name exists.
 *
 * This is also the way to recreate an index from a catalog entry (import):
 * create it, then run buildIndexStep until it returns true.
 */
export function createIndex(sql: Statements, spec: IndexSpec, now: number): IndexEntry {
  const count = (sql.get('SELECT count(*) FROM indexes').pluck().get() as number);
  if (count >= MAX_INDEXES) throw new PinbaseError('invalid_index', `a user has at most ${MAX_INDEXES} indexes; delete one first`);
  const generation = Number(sql.get("SELECT value FROM meta WHERE key = 'index_generation'").pluck().get() ?? 0) + 1;
  sql.get("INSERT OR REPLACE INTO meta (key, value) VALUES ('index_generation', ?)").run(generation);
  const entry: IndexEntry = { ...spec, generation, state: 'building', builtThrough: '', error: null, createdAt: now };
  sql
    .get(`INSERT INTO indexes (${COLUMNS}) VALUES (?, ?, ?, ?, ?, 'building', '', NULL, ?)`)
    .run(spec.collection, spec.name, JSON.stringify(spec.paths.map(formatFieldPath)), spec.unique ? 1 : 0, generation, now);
  sql.db.exec(createIndexSql(entry));
  return entry;
}

/**
 * Indexes the next INDEX_BUILD_BATCH live objects of a building index (in
 * id order after built_through) by raising their version's ixgen to the
 * index's generation, and records how far it got. Returns the entry after
 * the step (state 'ready' once every object is indexed), or undefined when
 * the index is gone or was recreated (the build must stop).
 *
 * A unique index that meets two objects with the same values fails: the
 * step drops its SQLite index, marks the entry 'failed' with the two object
 * ids and the value, and returns it. `onDuplicate: 'throw'` throws
 * unique_violation instead (the caller rolls the whole creation back).
 */
export function buildIndexStep(
  sql: Statements,
  key: { collection: string; name: string; generation: number },
  onDuplicate: 'fail' | 'throw' = 'fail',
  batch = INDEX_BUILD_BATCH,
): IndexEntry | undefined {
  const entry = findIndex(sql, key.collection, key.name);
  if (!entry || entry.generation !== key.generation) return undefined;
  if (entry.state !== 'building') return entry;
  const heads = sql
    .get('SELECT vid, id FROM objects WHERE collection = ? AND id > ? AND deleted = 0 ORDER BY id LIMIT ?')
    .all(entry.collection, entry.builtThrough ?? '', batch) as { vid: number; id: string }[];
  const raise = sql.get('UPDATE versions SET ixgen = ? WHERE vid = ? AND ixgen < ?');
  for (const head of heads) {
    for (;;) {
      try {
        raise.run(entry.generation, head.vid, entry.generation);
        break;
      } catch (error) {
        // Raising ixgen also puts the version in every older index of the
        // collection still building: the duplicate may be in one of those.
        const violated = violatedIndex(sql, error);
        if (violated === undefined) throw error;
        const detail = duplicateDetail(sql, violated, head);
        const own = violated.name === entry.name && violated.collection === entry.collection;
        if (own && onDuplicate === 'throw') throw uniqueViolation(entry.collection, entry.name, detail);
        sql.db.exec(dropIndexSql(violated.collection, violated.name));
        sql.get("UPDATE indexes SET state = 'failed', error = ? WHERE collection = ? AND name = ?").run(detail, violated.collection, violated.name);
        if (own) return { ...entry, state: 'failed', error: detail };
      }
    }
  }
  const done = heads.length < batch;
  const builtThrough = done ? null : heads[heads.length - 1]!.id;
  sql
    .get('UPDATE indexes SET state = ?, built_through = ? WHERE collection = ? AND name = ?')
    .run(done ? 'ready' : 'building', builtThrough, entry.collection, entry.name);
  return { ...entry, state: done ? 'ready' : 'building', builtThrough };
}

/** Drops the index and its catalog entry. Returns false (changing nothing) if there is none. */
export function dropIndex(sql: Statements, collection: string, name: string): boolean {
  const removed = sql.get('DELETE FROM indexes WHERE collection = ? AND name = ?').run(collection, name).changes > 0;
  if (removed) sql.db.exec(dropIndexSql(collection, name));
  return removed;
}

/** The SQLite error a write that breaks a unique index gets. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * The unique_violation a write gets for SQLite's error, if the error is one
 * of a Pinbase index ("UNIQUE constraint failed: index 'pbx_…'"); else undefined.
 */
export function uniqueViolationOf(error: unknown): PinbaseError | undefined {
  if (!isUniqueViolation(error)) return undefined;
  const match = /index '([^']+)'/.exec((error as Error).message);
  const index = match && parseIndexSqlName(match[1]!);
  if (!index) return undefined;
  return uniqueViolation(index.collection, index.name, `another object of "${index.collection}" has the same values of unique index "${index.name}"`);
}

function uniqueViolation(collection: string, name: string, detail: string): PinbaseError {
  return new PinbaseError('unique_violation', `${detail}; nothing was applied`, { extensions: { collection, index: name } });
}

/** The catalog entry of the Pinbase index a SQLITE_CONSTRAINT_UNIQUE error names, if it is one. */
function violatedIndex(sql: Statements, error: unknown): IndexEntry | undefined {
  if (!isUniqueViolation(error)) return undefined;
  const match = /index '([^']+)'/.exec((error as Error).message);
  const index = match && parseIndexSqlName(match[1]!);
  return index ? findIndex(sql, index.collection, index.name) : undefined;
}

/** Names the object that already holds the values `head` would add to the unique index, and the values. */
function duplicateDetail(sql: Statements, entry: IndexEntry, head: { vid: number; id: string }): string {
  // indexSqlName asserts that the collection is a validated identifier: it is written as a literal below.
  const sqlName = indexSqlName(entry.collection, entry.name);
  const values = entry.paths.map((path) => fieldValueSql(undefined, path));
  const own = sql.db.prepare(`SELECT ${values.join(', ')} FROM versions WHERE vid = ?`).raw().get(head.vid) as unknown[];
  const match = values.map((value) => `${value} = ?`).join(' AND ');
  const other = sql.db
    .prepare(
      `SELECT id FROM versions INDEXED BY "${sqlName}" ` +
        `WHERE collection = '${entry.collection}' AND live = 1 AND ixgen >= ${entry.generation} AND ${match} AND vid <> ? LIMIT 1`,
    )
    .pluck()
    .get(...own, head.vid) as string | undefined;
  const shown = entry.paths.map((path, i) => `${formatFieldPath(path)}=${JSON.stringify(own[i])}`).join(', ');
  return `objects "${other ?? '?'}" and "${head.id}" of "${entry.collection}" have the same values of unique index "${entry.name}" (${shown})`;
}

/**
 * A catalog row as an entry. The file may come from elsewhere (an import):
 * a row that is not what this module writes is shown as a failed index
 * with no paths, which is never built, used or turned into SQL.
 */
function toEntry(row: CatalogRow): IndexEntry {
  const entry: IndexEntry = {
    collection: String(row.collection),
    name: String(row.name),
    paths: [],
    unique: row.is_unique === 1,
    generation: Number(row.generation),
    state: row.state,
    builtThrough: row.state === 'building' && typeof row.built_through === 'string' ? row.built_through : null,
    error: typeof row.error === 'string' ? row.error : null,
    createdAt: Number(row.created_at),
  };
  try {
    const paths = JSON.parse(String(row.paths)) as unknown;
    if (!Array.isArray(paths) || paths.length < 1 || paths.length > MAX_INDEX_PATHS) throw new Error('bad paths');
    entry.paths = paths.map((path) => parseFieldPath(String(path), 'invalid_index'));
    if (!COLLECTION_PATTERN.test(entry.collection) || !INDEX_NAME_PATTERN.test(entry.name)) throw new Error('bad name');
    if (!Number.isSafeInteger(entry.generation) || entry.generation < 1) throw new Error('bad generation');
    if (!['building', 'ready', 'failed'].includes(entry.state)) throw new Error('bad state');
    if (entry.state === 'building' && entry.builtThrough === null) throw new Error('bad progress');
    return entry;
  } catch {
    return { ...entry, paths: [], state: 'failed', builtThrough: null, error: 'this catalog entry is not valid; delete the index' };
  }
}
