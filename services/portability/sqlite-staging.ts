import { open as openFile, stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { parseJsonText } from '../partition/json-text.js';
import { COLLECTION_PATTERN, OBJECT_ID_PATTERN } from '../ids/id-patterns.js';
import { migrate, SCHEMA_VERSION } from '../partition/schema.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { parseFieldPath } from '../query/field-path.js';
import { createIndexSql, INDEX_NAME_PATTERN, MAX_INDEX_PATHS } from '../query/index-sql.js';
import { catalogPaths } from './tenant-export.js';
import { invalidImport } from './import-source.js';
import type { StagingLimits } from './ndjson-staging.js';

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Versions checked per turn of the event loop (each a JSON parse of its body). */
const ROWS_PER_TURN = 2000;

/** Tables SQLite itself may add to a partition (ANALYZE): allowed, never imported. */
const SQLITE_STAT_TABLES = new Map([['sqlite_stat1', 'CREATE TABLE sqlite_stat1(tbl,idx,stat)']]);

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/**
 * Checks an uploaded SQLite file (a temporary copy only this import uses)
 * as hostile input, and makes it a staging partition file:
 * 1. the header: SQLite's magic, a page size, and a size of exactly the
 *    header's page count (a file cut short is refused here);
 * 2. opened read-only (trusted_schema off): `PRAGMA integrity_check` = ok;
 * 3. `user_version` from 1 to SCHEMA_VERSION ("written by a newer Pinbase"
 *    beyond; an older file is migrated, after the checks below);
 * 4. sqlite_master holds exactly the tables and indexes of a fresh
 *    partition of that version (the same SQL text), plus only `pbx_`
 *    indexes whose SQL is createIndexSql of their catalog row: no trigger,
 *    no view, no other table or index;
 * 5. rows, in passes of ROWS_PER_TURN: ids and collections match their
 *    patterns, bodies are JSON objects within the document limits (null
 *    exactly for tombstones), revs positive and in commit (vid) order,
 *    chain and anchor links to an earlier version of the same object, each
 *    object's head its newest version (its anchor one of its versions, its
 *    depth a positive integer), catalog rows valid, meta values integers.
 * Anything else is invalid_import saying what. (The anchors are then
 * computed afresh, anchorChains: these checks only refuse a damaged file.)
 * Cost: bounded by the file
 * size (≤ the user quota); integrity_check is one synchronous pass.
 */
export async function stageSqlite(file: string, limits: StagingLimits): Promise<void> {
  await checkHeader(file);
  let version: number;
  {
    const db = openReadOnly(file);
    try {
      const problems = db.pragma('integrity_check(5)', { simple: false }) as { integrity_check: string }[];
      if (problems.length !== 1 || problems[0]!.integrity_check !== 'ok') {
        throw invalidImport(`the SQLite file is damaged: ${problems.map((p) => p.integrity_check).join('; ').slice(0, 300)}`);
      }
      version = db.pragma('user_version', { simple: true }) as number;
      if (version < 1) throw invalidImport('not a Pinbase partition file (user_version 0)');
      if (version > SCHEMA_VERSION) {
        throw invalidImport(`written by a newer Pinbase (partition schema version ${version}; this build reads up to ${SCHEMA_VERSION})`);
      }
      checkSchema(db, version);
    } catch (error) {
      throw asImportError(error);
    } finally {
      db.close();
    }
  }
  if (version < SCHEMA_VERSION) {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma('journal_mode = DELETE');
      migrate(db);
    } catch (error) {
      throw asImportError(error);
    } finally {
      db.close();
    }
  }
  const db = openReadOnly(file);
  try {
    checkCatalog(db);
    await checkRows(db, limits);
  } catch (error) {
    throw asImportError(error);
  } finally {
    db.close();
  }
}

async function checkHeader(file: string): Promise<void> {
  const { size } = await stat(file);
  const handle = await openFile(file, 'r+');
  try {
    const header = Buffer.alloc(100);
    const { bytesRead } = await handle.read(header, 0, 100, 0);
    if (bytesRead < 100 || !header.subarray(0, 16).equals(MAGIC)) throw invalidImport('not a SQLite file (no SQLite header)');
    const rawPageSize = header.readUInt16BE(16);
    const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
    if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw invalidImport('not a SQLite file (bad page size)');
    const pages = header.readUInt32BE(28);
    const sizeValid = header.readUInt32BE(92) === header.readUInt32BE(24);
    if (!sizeValid || pages * pageSize !== size) {
      throw invalidImport(`the SQLite file is ${size} bytes, its header says ${pages} pages of ${pageSize}: truncated or altered`);
    }
    // A WAL-mode file (write/read versions 2) becomes a rollback-journal one: a lone copy has no WAL to read.
    if (header[18] === 2 || header[19] === 2) await handle.write(Buffer.from([1, 1]), 0, 2, 18);
  } finally {
    await handle.close();
  }
}

function openReadOnly(file: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw asImportError(error);
  }
  db.pragma('trusted_schema = OFF');
  db.pragma('cell_size_check = ON');
  return db;
}

/** SQLite's own errors reading a hostile file are invalid_import too. */
function asImportError(error: unknown): PinbaseError {
  if (error instanceof PinbaseError) return error;
  return invalidImport(`not a readable SQLite file: ${(error as Error).message}`.slice(0, 300));
}

/** The schema of a fresh partition of `version`, by name. */
function freshSchema(version: number): Map<string, SchemaRow> {
  const fresh = new Database(':memory:');
  try {
    migrate(fresh, version);
    const rows = fresh.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master').all() as SchemaRow[];
    return new Map(rows.map((row) => [row.name, row]));
  } finally {
    fresh.close();
  }
}

function checkSchema(db: Database.Database, version: number): void {
  const expected = freshSchema(version);
  const rows = db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master').all() as SchemaRow[];
  const seen = new Set<string>();
  const describe = (row: SchemaRow) => `${row.type} ${JSON.stringify(row.name.slice(0, 64))}`;
  for (const row of rows) {
    seen.add(row.name);
    const want = expected.get(row.name);
    if (want) {
      if (want.type !== row.type || want.tbl_name !== row.tbl_name || want.sql !== row.sql) throw invalidImport(`${describe(row)} differs from Pinbase's`);
      continue;
    }
    if (row.type === 'table' && SQLITE_STAT_TABLES.get(row.name) === row.sql) continue;
    if (row.type === 'index' && row.name.startsWith('pbx_') && row.tbl_name === 'versions' && version >= 3) continue;
    throw invalidImport(`unexpected ${describe(row)}: a partition holds Pinbase's tables and indexes only`);
  }
  for (const want of expected.values()) if (!seen.has(want.name)) throw invalidImport(`${describe(want)} is missing`);
}

interface CatalogRow {
  collection: unknown;
  name: unknown;
  paths: unknown;
  is_unique: unknown;
  generation: unknown;
}

/** Catalog rows are valid index definitions, and each `pbx_` index is exactly its catalog row's. */
function checkCatalog(db: Database.Database): void {
  const generationCap = Number((db.prepare("SELECT value FROM meta WHERE key = 'index_generation'").pluck().get() as number | undefined) ?? 0);
  const expectedSql = new Map<string, string>();
  for (const row of db.prepare('SELECT collection, name, paths, is_unique, generation FROM indexes').all() as CatalogRow[]) {
    const { collection, name, paths, is_unique: unique, generation } = row;
    const label = `index catalog row ${JSON.stringify(String(collection).slice(0, 64))}/${JSON.stringify(String(name).slice(0, 64))}`;
    if (typeof collection !== 'string' || !COLLECTION_PATTERN.test(collection) || typeof name !== 'string' || !INDEX_NAME_PATTERN.test(name)) {
      throw invalidImport(`${label}: not a collection and index name`);
    }
    if ((unique !== 0 && unique !== 1) || !Number.isSafeInteger(generation) || (generation as number) < 1 || (generation as number) > generationCap) {
      throw invalidImport(`${label}: bad unique flag or generation`);
    }
    let parsed: string[][];
    try {
      const list = catalogPaths(String(paths));
      if (list.length < 1 || list.length > MAX_INDEX_PATHS) throw new Error('bad count');
      parsed = list.map((path) => [...parseFieldPath(path, 'invalid_index')]);
    } catch {
      throw invalidImport(`${label}: bad paths`);
    }
    const sql = createIndexSql({ collection, name, paths: parsed, unique: unique === 1, generation: generation as number });
    expectedSql.set(sql.slice(sql.indexOf('"') + 1, sql.indexOf('"', sql.indexOf('"') + 1)), sql);
  }
  const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'pbx\\_%' ESCAPE '\\'").all() as { name: string; sql: string }[];
  for (const index of indexes) {
    if (expectedSql.get(index.name) !== index.sql) throw invalidImport(`index ${JSON.stringify(index.name.slice(0, 80))} is not the index its catalog row defines`);
  }
}

/** Row checks, ROWS_PER_TURN versions per turn of the event loop. */
async function checkRows(db: Database.Database, limits: StagingLimits): Promise<void> {
  const badMeta = db
    .prepare(
      "SELECT key FROM meta WHERE key IN ('pruned_through', 'pruned_vid', 'index_generation', 'imported_seq') AND (typeof(value) != 'integer' OR value < 0) LIMIT 1",
    )
    .pluck()
    .get() as string | undefined;
  if (badMeta !== undefined) throw invalidImport(`meta ${badMeta} is not a non-negative integer`);
  const bodyProblem = (deleted: unknown, body: unknown): string | undefined => {
    if (deleted === 1) return body === null ? undefined : 'a deleted version with a body';
    if (deleted !== 0) return 'bad deleted flag';
    if (typeof body !== 'string') return 'no body';
    if (Buffer.byteLength(body) > limits.maxDocumentBytes) return `a body larger than ${limits.maxDocumentBytes} bytes`;
    let value: unknown;
    try {
      value = parseJsonText(body);
    } catch (error) {
      return (error as PinbaseError).detail ?? 'bad JSON';
    }
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : 'a body that is not a JSON object';
  };
  const page = db.prepare(
    `SELECT v.vid, v.rev, v.collection, v.id, v.deleted, v.committed_at, v.body, v.prev, v.up,
            p.vid AS p_vid, p.rev AS p_rev, p.collection AS p_collection, p.id AS p_id,
            u.vid AS u_vid, u.rev AS u_rev, u.collection AS u_collection, u.id AS u_id,
            o.vid AS o_vid
     FROM versions v LEFT JOIN versions p ON p.vid = v.prev LEFT JOIN versions u ON u.vid = v.up
       LEFT JOIN objects o ON o.collection = v.collection AND o.id = v.id
     WHERE v.vid > ? ORDER BY v.vid LIMIT ?`,
  );
  type Row = Record<
    'vid' | 'rev' | 'collection' | 'id' | 'deleted' | 'committed_at' | 'body' | 'prev' | 'up' | 'p_vid' | 'p_rev' | 'p_collection' | 'p_id' | 'u_vid' | 'u_rev' | 'u_collection' | 'u_id' | 'o_vid',
    unknown
  >;
  let after = 0;
  let lastRev = 0;
  for (;;) {
    const rows = page.all(after, ROWS_PER_TURN) as Row[];
    for (const row of rows) {
      const at = `version row ${String(row.vid)}`;
      const problem =
        typeof row.collection !== 'string' || !COLLECTION_PATTERN.test(row.collection) ? 'bad collection name'
        : typeof row.id !== 'string' || !OBJECT_ID_PATTERN.test(row.id) ? 'bad object id'
        : !Number.isSafeInteger(row.rev) || (row.rev as number) < 1 || (row.rev as number) < lastRev ? 'rev out of commit order'
        : !Number.isSafeInteger(row.committed_at) ? 'bad commit time'
        : row.o_vid === null || (row.o_vid as number) < (row.vid as number) ? 'not in an object\'s chain'
        : row.prev !== null && (typeof row.prev !== 'number' || row.prev >= (row.vid as number)) ? 'bad chain link'
        : row.p_vid !== null && (row.p_collection !== row.collection || row.p_id !== row.id || (row.p_rev as number) >= (row.rev as number)) ? 'chain link to another object or a later version'
        : row.up !== null && (typeof row.up !== 'number' || row.up >= (row.vid as number)) ? 'bad anchor link'
        : row.u_vid !== null && (row.u_collection !== row.collection || row.u_id !== row.id || (row.u_rev as number) >= (row.rev as number)) ? 'anchor link to another object or a later version'
        : bodyProblem(row.deleted, row.body);
      if (problem !== undefined) throw invalidImport(`${at}: ${problem}`);
      lastRev = row.rev as number;
    }
    if (rows.length < ROWS_PER_TURN) break;
    after = rows[rows.length - 1]!.vid as number;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const badHead = db
    .prepare(
      `SELECT o.collection, o.id FROM objects o LEFT JOIN versions v ON v.vid = o.vid
       WHERE v.vid IS NULL OR v.collection IS NOT o.collection OR v.id IS NOT o.id OR v.rev IS NOT o.rev OR v.deleted IS NOT o.deleted LIMIT 1`,
    )
    .get() as { collection: string; id: string } | undefined;
  const objectLabel = (row: { collection: unknown; id: unknown }) => `object ${JSON.stringify(String(row.collection).slice(0, 64))}/${JSON.stringify(String(row.id).slice(0, 128))}`;
  if (badHead) throw invalidImport(`${objectLabel(badHead)}: its head is not its newest version`);
  // Its anchor (a pruned one may be gone) is one of its versions; its depth a positive integer.
  const badAnchor = db
    .prepare(
      `SELECT o.collection, o.id FROM objects o LEFT JOIN versions a ON a.vid = o.anchor
       WHERE (o.depth IS NOT NULL AND (typeof(o.depth) != 'integer' OR o.depth < 1))
          OR (o.anchor IS NOT NULL AND typeof(o.anchor) != 'integer')
          OR (a.vid IS NOT NULL AND (a.collection IS NOT o.collection OR a.id IS NOT o.id OR a.vid > o.vid)) LIMIT 1`,
    )
    .get() as { collection: string; id: string } | undefined;
  if (badAnchor) throw invalidImport(`${objectLabel(badAnchor)}: its depth or anchor is not valid`);
}
