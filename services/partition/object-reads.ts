import type { Statements } from './statements.js';

/** One version of an object as stored. `body` is JSON text, null for a deletion. */
export interface StoredVersion {
  rev: number;
  deleted: boolean;
  body: string | null;
  committedAt: number;
}

export interface ListedObject {
  id: string;
  rev: number;
  body: string;
}

export interface Change {
  seq: number;
  collection: string;
  id: string;
  deleted: boolean;
  body?: string | null;
}

interface VersionRow {
  rev: number;
  deleted: number;
  body: string | null;
  committed_at: number;
}

function toVersion(row: VersionRow): StoredVersion {
  return { rev: row.rev, deleted: row.deleted === 1, body: row.body, committedAt: row.committed_at };
}

/**
 * The version of (collection, id) visible at snapshot `at` (the latest when
 * `at` is undefined), tombstones included; undefined if none existed then.
 */
export function readObject(sql: Statements, collection: string, id: string, at?: number): StoredVersion | undefined {
  if (at === undefined) {
    const row = sql
      .get('SELECT rev, deleted, body, committed_at FROM objects WHERE collection = ? AND id = ?')
      .get(collection, id) as VersionRow | undefined;
    return row && toVersion(row);
  }
  const current = sql
    .get('SELECT rev, deleted, body, committed_at FROM objects WHERE collection = ? AND id = ? AND rev <= ?')
    .get(collection, id, at) as VersionRow | undefined;
  if (current) return toVersion(current);
  const older = sql
    .get(
      `SELECT rev, deleted, body, committed_at FROM versions
       WHERE collection = ? AND id = ? AND rev <= ? AND superseded_by > ?
       ORDER BY rev DESC LIMIT 1`,
    )
    .get(collection, id, at, at) as VersionRow | undefined;
  return older && toVersion(older);
}

/** Live objects of a collection in id order, after `after`, as of `at` (latest if undefined). */
export function listObjects(
  sql: Statements,
  collection: string,
  options: { after: string; limit: number; at?: number | undefined },
): ListedObject[] {
  if (options.at === undefined) {
    return sql
      .get(
        `SELECT id, rev, body FROM objects
         WHERE collection = ? AND id > ? AND deleted = 0 ORDER BY id LIMIT ?`,
      )
      .all(collection, options.after, options.limit) as ListedObject[];
  }
  return sql
    .get(
      `SELECT id, rev, body FROM (
         SELECT id, rev, deleted, body FROM objects
           WHERE collection = @collection AND id > @after AND rev <= @at
         UNION ALL
         SELECT id, rev, deleted, body FROM versions
           WHERE collection = @collection AND id > @after AND rev <= @at AND superseded_by > @at
       ) WHERE deleted = 0 ORDER BY id LIMIT @limit`,
    )
    .all({ collection, after: options.after, at: options.at, limit: options.limit }) as ListedObject[];
}

/** Versions of one object, newest first, with rev < `before` (all when undefined). */
export function objectHistory(
  sql: Statements,
  collection: string,
  id: string,
  options: { before?: number | undefined; limit: number },
): StoredVersion[] {
  const before = options.before ?? Number.MAX_SAFE_INTEGER;
  const rows = sql
    .get(
      `SELECT rev, deleted, body, committed_at FROM objects WHERE collection = @collection AND id = @id AND rev < @before
       UNION ALL
       SELECT rev, deleted, body, committed_at FROM versions WHERE collection = @collection AND id = @id AND rev < @before
       ORDER BY rev DESC LIMIT @limit`,
    )
    .all({ collection, id, before, limit: options.limit }) as VersionRow[];
  return rows.map(toVersion);
}

/**
 * The change feed: the latest version of every object changed after `since`,
 * in commit order (an object changed twice appears once, at its last seq).
 * A page never splits one commit: it holds whole commits, up to `limit`
 * changes, or one whole commit when that alone is larger.
 */
export function readChanges(sql: Statements, since: number, limit: number, includeBodies: boolean): Change[] {
  const columns = `rev AS seq, collection, id, deleted${includeBodies ? ', body' : ''}`;
  type Row = Omit<Change, 'deleted'> & { deleted: number };
  let rows = sql
    .get(`SELECT ${columns} FROM objects WHERE rev > ? ORDER BY rev, collection, id LIMIT ?`)
    .all(since, limit + 1) as Row[];
  if (rows.length > limit) {
    const cut = rows[limit]!.seq;
    rows = rows.slice(0, limit).filter((row) => row.seq !== cut);
    if (rows.length === 0) {
      rows = sql.get(`SELECT ${columns} FROM objects WHERE rev = ? ORDER BY collection, id`).all(cut) as Row[];
    }
  }
  return rows.map((row) => ({ ...row, deleted: row.deleted === 1 }));
}
