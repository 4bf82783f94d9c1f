import Database from 'better-sqlite3';
import { DOCUMENT_STRUCTURE } from '../partition/json-structure.js';
import { migrate } from '../partition/schema.js';
import { parseJsonText } from '../partition/json-text.js';
import { COLLECTION_PATTERN, OBJECT_ID_PATTERN, USER_ID_PATTERN } from '../ids/id-patterns.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { parseFieldPath, formatFieldPath } from '../query/field-path.js';
import { INDEX_NAME_PATTERN, MAX_INDEX_PATHS } from '../query/index-sql.js';
import { EXPORT_FORMAT, EXPORT_FORMAT_VERSION } from './export-format.js';
import { invalidImport, ndjsonLines } from './import-source.js';

export interface StagingLimits {
  /** Largest import body, bytes (the user quota). */
  maxBytes: number;
  /** Largest document, bytes of JSON (the worker's document limit). */
  maxDocumentBytes: number;
}

/** Lines of one SQLite transaction of the staging file. */
const LINES_PER_TRANSACTION = 2000;

/**
 * Reads an NDJSON export line by line into `file`, a new staging partition
 * file built with the partition schema (migrate()), checking every line as
 * hostile input: the header first (format, version ≤ this build's, user,
 * seq), index lines, then version lines (collection and id patterns, rev in
 * 1..seq and increasing per object, an object's lines together, `data` a
 * JSON object within the document limits, or null for a tombstone), and the
 * end line with the count of the lines between. Anything else is
 * invalid_import naming the line. Versions are then numbered in commit
 * order and chained, so the staging file is a partition as the worker
 * writes it. Memory: one line at a time (at most the document limit plus
 * its envelope). Throws; the caller deletes the file.
 */
export async function stageNdjson(source: AsyncIterable<Buffer>, file: string, limits: StagingLimits): Promise<void> {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    migrate(db);
    db.exec(`
      CREATE TABLE import_lines (rev INTEGER NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL, deleted INTEGER NOT NULL, committed_at INTEGER NOT NULL, body TEXT);
      CREATE TABLE import_objects (collection TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (collection, id)) WITHOUT ROWID;
    `);
    const reader = new NdjsonReader(db, limits);
    db.exec('BEGIN');
    for await (const line of ndjsonLines(source, { maxBytes: limits.maxBytes, maxLineBytes: limits.maxDocumentBytes + 64 * 1024 })) {
      reader.accept(line.text, line.number);
      if (line.number % LINES_PER_TRANSACTION === 0) db.exec('COMMIT; BEGIN');
    }
    reader.finish();
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

interface Header {
  user: string;
  seq: number;
  history: boolean;
  prunedThrough: number;
}

/** The line-by-line checks and writes of stageNdjson. */
class NdjsonReader {
  private header: Header | undefined;
  private ended = false;
  private count = 0;
  private indexes = 0;
  private versions = 0;
  private object: { collection: string; id: string; rev: number } | undefined;
  private readonly insertLine: Database.Statement;
  private readonly insertObject: Database.Statement;
  private readonly insertIndex: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly limits: StagingLimits,
  ) {
    this.insertLine = db.prepare('INSERT INTO import_lines (rev, collection, id, deleted, committed_at, body) VALUES (?, ?, ?, ?, ?, ?)');
    this.insertObject = db.prepare('INSERT OR IGNORE INTO import_objects (collection, id) VALUES (?, ?)');
    this.insertIndex = db.prepare(
      "INSERT OR IGNORE INTO indexes (collection, name, paths, is_unique, generation, state, built_through, error, created_at) VALUES (?, ?, ?, ?, ?, 'ready', NULL, NULL, ?)",
    );
  }

  accept(text: string, number: number): void {
    const at = `line ${number}`;
    if (this.ended) throw invalidImport(`${at}: nothing may follow the end line`);
    let value: unknown;
    try {
      value = parseJsonText(text, { maxDepth: DOCUMENT_STRUCTURE.maxDepth + 1, maxNodes: DOCUMENT_STRUCTURE.maxNodes + 16 });
    } catch (error) {
      throw invalidImport(`${at}: ${error instanceof PinbaseError ? (error.detail ?? error.message) : 'not JSON'}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidImport(`${at}: not a JSON object`);
    const line = value as Record<string, unknown>;
    if (!this.header) {
      this.header = readHeader(line, at);
      return;
    }
    switch (line.type) {
      case 'index':
        return this.acceptIndex(line, at);
      case 'version':
        return this.acceptVersion(line, at);
      case 'end':
        if (line.count !== this.count) throw invalidImport(`${at}: the end line counts ${String(line.count)} lines, the file has ${this.count}: truncated or altered`);
        this.ended = true;
        return;
      default:
        throw invalidImport(`${at}: unknown line type ${JSON.stringify(String(line.type)).slice(0, 40)}`);
    }
  }

  private acceptIndex(line: Record<string, unknown>, at: string): void {
    if (this.versions > 0) throw invalidImport(`${at}: index lines come before version lines`);
    const { collection, name, paths, unique } = line;
    if (typeof collection !== 'string' || !COLLECTION_PATTERN.test(collection)) throw invalidImport(`${at}: "collection" is not a collection name`);
    if (typeof name !== 'string' || !INDEX_NAME_PATTERN.test(name)) throw invalidImport(`${at}: "name" is not an index name`);
    if (typeof unique !== 'boolean') throw invalidImport(`${at}: "unique" is not a boolean`);
    if (!Array.isArray(paths) || paths.length < 1 || paths.length > MAX_INDEX_PATHS || paths.some((p) => typeof p !== 'string')) {
      throw invalidImport(`${at}: "paths" is not an array of 1 to ${MAX_INDEX_PATHS} field paths`);
    }
    let parsed: string[];
    try {
      parsed = (paths as string[]).map((path) => formatFieldPath(parseFieldPath(path, 'invalid_index')));
    } catch (error) {
      throw invalidImport(`${at}: ${(error as PinbaseError).detail ?? 'bad path'}`);
    }
    this.indexes++;
    const inserted = this.insertIndex.run(collection, name, JSON.stringify(parsed), unique ? 1 : 0, this.indexes, Date.now()).changes;
    if (inserted === 0) throw invalidImport(`${at}: index ${collection}/${name} appears twice`);
    this.count++;
  }

  private acceptVersion(line: Record<string, unknown>, at: string): void {
    const header = this.header!;
    const { collection, id, rev, deleted, committedAt, data } = line;
    if (typeof collection !== 'string' || !COLLECTION_PATTERN.test(collection)) throw invalidImport(`${at}: "collection" is not a collection name`);
    if (typeof id !== 'string' || !OBJECT_ID_PATTERN.test(id)) throw invalidImport(`${at}: "id" is not an object id`);
    if (!Number.isSafeInteger(rev) || (rev as number) < 1 || (rev as number) > header.seq) {
      throw invalidImport(`${at}: "rev" is not an integer from 1 to the header's seq ${header.seq}`);
    }
    if (typeof deleted !== 'boolean') throw invalidImport(`${at}: "deleted" is not a boolean`);
    if (!Number.isSafeInteger(committedAt) || (committedAt as number) < 0) throw invalidImport(`${at}: "committedAt" is not a time in ms`);
    let body: string | null = null;
    if (deleted) {
      if (data !== null) throw invalidImport(`${at}: a deleted version has "data": null`);
      if (!header.history) throw invalidImport(`${at}: an export without history holds no deleted versions`);
    } else {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) throw invalidImport(`${at}: "data" is not a JSON object`);
      body = JSON.stringify(data);
      if (Buffer.byteLength(body) > this.limits.maxDocumentBytes) {
        throw invalidImport(`${at}: the document is larger than ${this.limits.maxDocumentBytes} bytes`);
      }
    }
    const same = this.object !== undefined && this.object.collection === collection && this.object.id === id;
    if (same) {
      if (!header.history) throw invalidImport(`${at}: an export without history holds one version per object`);
      if ((rev as number) <= this.object!.rev) throw invalidImport(`${at}: revs of one object must increase`);
      this.object!.rev = rev as number;
    } else {
      if (this.insertObject.run(collection, id).changes === 0) {
        throw invalidImport(`${at}: ${collection}/${id} appears again after other objects (one object's lines are together)`);
      }
      this.object = { collection, id, rev: rev as number };
    }
    this.insertLine.run(rev, collection, id, deleted ? 1 : 0, committedAt, body);
    this.versions++;
    this.count++;
  }

  /** After the last line: the end line was there; versions numbered in commit order and chained; meta set. */
  finish(): void {
    if (!this.header) throw invalidImport('the file is empty: no header line');
    if (!this.ended) throw invalidImport(`no end line after ${this.count} lines: the export is truncated`);
    const header = this.header;
    this.db.exec(`
      INSERT INTO versions (vid, rev, collection, id, prev, deleted, committed_at, body, live, ixgen)
        SELECT vid, rev, collection, id, lag(vid) OVER (PARTITION BY collection, id ORDER BY rev), deleted, committed_at, body, 0, 0
        FROM (SELECT row_number() OVER (ORDER BY rev, collection, id) AS vid, * FROM import_lines)
        ORDER BY vid;
      INSERT INTO objects (collection, id, vid, rev, deleted)
        SELECT collection, id, max(vid), rev, deleted FROM versions GROUP BY collection, id;
      DROP TABLE import_lines;
      DROP TABLE import_objects;
    `);
    // Without history, only the snapshot at seq is exact (older ones answer snapshot_pruned).
    const pruned = header.history ? header.prunedThrough : header.seq;
    this.db
      .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_through', ?), ('imported_seq', ?), ('index_generation', ?)")
      .run(pruned, header.seq, this.indexes);
  }
}

function readHeader(line: Record<string, unknown>, at: string): Header {
  if (line.type !== 'header' || line.format !== EXPORT_FORMAT) {
    throw invalidImport(`${at}: not a Pinbase export (the first line is a header with "format":"${EXPORT_FORMAT}")`);
  }
  const { version, user, seq, history, prunedThrough } = line;
  if (!Number.isSafeInteger(version) || (version as number) < 1) throw invalidImport(`${at}: "version" is not a format version`);
  if ((version as number) > EXPORT_FORMAT_VERSION) {
    throw invalidImport(`${at}: written by a newer Pinbase (export format version ${String(version)}; this build reads up to ${EXPORT_FORMAT_VERSION})`);
  }
  if (typeof user !== 'string' || !USER_ID_PATTERN.test(user)) throw invalidImport(`${at}: "user" is not a user id`);
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw invalidImport(`${at}: "seq" is not a seq`);
  if (typeof history !== 'boolean') throw invalidImport(`${at}: "history" is not a boolean`);
  if (prunedThrough !== undefined && (!Number.isSafeInteger(prunedThrough) || (prunedThrough as number) < 0 || (prunedThrough as number) > (seq as number))) {
    throw invalidImport(`${at}: "prunedThrough" is not a seq from 0 to "seq"`);
  }
  return { user, seq: seq as number, history, prunedThrough: (prunedThrough as number | undefined) ?? 0 };
}
