import { COLLECTION_PATTERN } from '../ids/id-patterns.js';
import { fieldValueSql, type FieldPath } from './field-path.js';

/**
 * Secondary indexes as SQLite sees them.
 *
 * An index of a collection is a partial expression index on `versions`:
 *
 *   CREATE [UNIQUE] INDEX "pbx_<len>_<collection>_<name>" ON versions (
 *     json_extract(body, '$."a"'), json_extract(body, '$."b"'), id)
 *   WHERE collection = '<collection>' AND live = 1 AND ixgen >= <generation>
 *
 * - `live = 1`: an index covers the current, undeleted version of each
 *   object only. Snapshot (`at=`) queries and history never use indexes.
 * - `collection = '<collection>'`: a write to another collection costs it
 *   nothing. The collection name is a validated identifier
 *   (COLLECTION_PATTERN: no quote can appear), and queries bind it as a
 *   parameter (SQLite matches a bound value against a partial index's
 *   literal).
 * - `ixgen >= <generation>`: each index gets the next generation number
 *   (meta `index_generation`), and every version is written with the newest
 *   generation (StoredObjects.indexGeneration). So a new index starts empty
 *   (CREATE INDEX scans the table once but inserts nothing), covers every
 *   version written from then on, and the build raises `ixgen` of the
 *   collection's existing live versions to its generation a batch at a time,
 *   between other writes. Once it has gone through them it is `ready`: every
 *   live version of the collection then has ixgen >= its generation.
 * - A query may use a ready index only, and says so by adding the index's
 *   readyTermSql (`v.ixgen >= <generation>`), true of every live version of
 *   the collection once the index is ready, which the planner needs before
 *   it may use a partial index. A building index never gets that term, so it
 *   is never used (it would miss objects not yet indexed).
 * - `id` last (not in a unique index, where it would make every entry
 *   unique): an order by the index's paths is total, as queries' orders are
 *   (they always end with the object id), and keyset cursors seek in it.
 * - A unique index: SQLite refuses a second live version with the same
 *   values (SQLITE_CONSTRAINT_UNIQUE naming the index). Versions lacking one
 *   of the paths (NULL) never collide.
 */
export interface IndexDefinition {
  collection: string;
  /** The index's name within its collection: 1 to 64 of [a-z0-9_-], starting with a letter. */
  name: string;
  paths: FieldPath[];
  unique: boolean;
  generation: number;
}

export type IndexState = 'building' | 'ready' | 'failed';

/** Index names: the same alphabet as collection names. */
export const INDEX_NAME_PATTERN = COLLECTION_PATTERN;

/** Most paths one index has. */
export const MAX_INDEX_PATHS = 8;

/**
 * The SQLite name of an index, what EXPLAIN QUERY PLAN reports:
 * `pbx_<length of collection>_<collection>_<name>` (the length keeps it
 * unique: names may hold "_").
 */
export function indexSqlName(collection: string, name: string): string {
  assertIdentifier(collection);
  assertIdentifier(name);
  return `pbx_${collection.length}_${collection}_${name}`;
}

/** Parses indexSqlName back, or undefined for SQLite's and Pinbase's own indexes. */
export function parseIndexSqlName(sqlName: string): { collection: string; name: string } | undefined {
  const match = /^pbx_([0-9]{1,2})_(.*)$/.exec(sqlName);
  if (!match) return undefined;
  const length = Number(match[1]);
  const collection = match[2]!.slice(0, length);
  const name = match[2]!.slice(length + 1);
  if (match[2]![length] !== '_' || !COLLECTION_PATTERN.test(collection) || !INDEX_NAME_PATTERN.test(name)) return undefined;
  return { collection, name };
}

/** The CREATE INDEX statement of `index` (see the module comment). */
export function createIndexSql(index: IndexDefinition): string {
  assertIdentifier(index.collection);
  if (!Number.isSafeInteger(index.generation) || index.generation < 1) throw new Error(`bad index generation ${index.generation}`);
  // A unique index holds the paths alone (with `id` every entry would be unique).
  const columns = [...index.paths.map((path) => fieldValueSql(undefined, path)), ...(index.unique ? [] : ['id'])].join(', ');
  return (
    `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX "${indexSqlName(index.collection, index.name)}" ON versions (${columns}) ` +
    `WHERE collection = '${index.collection}' AND live = 1 AND ixgen >= ${index.generation}`
  );
}

export function dropIndexSql(collection: string, name: string): string {
  return `DROP INDEX IF EXISTS "${indexSqlName(collection, name)}"`;
}

/**
 * The term a query on table alias `alias` adds so that the planner may use
 * the ready index of generation `generation` (see the module comment).
 */
export function readyTermSql(alias: string, generation: number): string {
  if (!Number.isSafeInteger(generation) || generation < 1) throw new Error(`bad index generation ${generation}`);
  return `${alias}.ixgen >= ${generation}`;
}

function assertIdentifier(name: string): void {
  if (!COLLECTION_PATTERN.test(name)) throw new Error(`not a validated identifier: ${JSON.stringify(name)}`);
}
