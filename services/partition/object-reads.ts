import type { Statements } from './statements.js';

/** What a write needs to know of an object's current version: no body. */
export interface VersionHead {
  rev: number;
  deleted: boolean;
  /** Row of this version in `versions` (internal: the link the next version points back by). */
  vid: number;
}

/** One version of an object as stored. `body` is JSON text, null for a deletion. */
export interface StoredVersion extends VersionHead {
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
  vid: number;
  rev: number;
  deleted: number;
  body: string | null;
  committed_at: number;
}

interface Link {
  rev: number;
  prev: number | null;
}

function toVersion(row: VersionRow): StoredVersion {
  return { rev: row.rev, deleted: row.deleted === 1, body: row.body, committedAt: row.committed_at, vid: row.vid };
}

const VERSION_COLUMNS = 'vid, rev, deleted, body, committed_at';

function versionAt(sql: Statements, vid: number): StoredVersion | undefined {
  const row = sql.get(`SELECT ${VERSION_COLUMNS} FROM versions WHERE vid = ?`).get(vid) as VersionRow | undefined;
  return row && toVersion(row);
}

/**
 * Walks an object's chain from version `vid` (whose rev is `rev`) to the
 * newest version with rev ≤ `at`; undefined if the object had none then (or
 * it was pruned). Costs one row lookup per version written after `at`.
 */
function chainAt(sql: Statements, vid: number, rev: number, at: number): number | undefined {
  const link = sql.get('SELECT rev, prev FROM versions WHERE vid = ?');
  let current = vid;
  let currentRev = rev;
  let prev: number | null | undefined;
  while (currentRev > at) {
    prev ??= (link.get(current) as Link | undefined)?.prev ?? null;
    if (prev === null) return undefined;
    const older = link.get(prev) as Link | undefined;
    if (older === undefined) return undefined;
    current = prev;
    currentRev = older.rev;
    prev = older.prev;
  }
  return current;
}

interface Head {
  vid: number;
  rev: number;
  deleted: number;
}

function head(sql: Statements, collection: string, id: string): Head | undefined {
  return sql.get('SELECT vid, rev, deleted FROM objects WHERE collection = ? AND id = ?').get(collection, id) as Head | undefined;
}

/** The current version of (collection, id) without its body, tombstones included; undefined if it never existed. */
export function readHead(sql: Statements, collection: string, id: string): VersionHead | undefined {
  const row = head(sql, collection, id);
  return row && { vid: row.vid, rev: row.rev, deleted: row.deleted === 1 };
}

/**
 * The version of (collection, id) visible at snapshot `at` (the latest when
 * `at` is undefined), tombstones included; undefined if none existed then.
 */
export function readObject(sql: Statements, collection: string, id: string, at?: number): StoredVersion | undefined {
  if (at === undefined) {
    const row = sql
      .get(
        `SELECT v.vid, v.rev, v.deleted, v.body, v.committed_at FROM objects o JOIN versions v ON v.vid = o.vid
         WHERE o.collection = ? AND o.id = ?`,
      )
      .get(collection, id) as VersionRow | undefined;
    return row && toVersion(row);
  }
  const current = head(sql, collection, id);
  if (!current) return undefined;
  const vid = chainAt(sql, current.vid, current.rev, at);
  return vid === undefined ? undefined : versionAt(sql, vid);
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
        `SELECT o.id, o.rev, v.body FROM objects o JOIN versions v ON v.vid = o.vid
         WHERE o.collection = ? AND o.id > ? AND o.deleted = 0 ORDER BY o.id LIMIT ?`,
      )
      .all(collection, options.after, options.limit) as ListedObject[];
  }
  // Heads in id order, each resolved at the snapshot, a chunk at a time until
  // the page is full (objects created after `at` or deleted then are skipped).
  const { at, limit } = options;
  const chunk = Math.max(limit, 64);
  const listed: ListedObject[] = [];
  let after = options.after;
  for (;;) {
    const heads = sql
      .get('SELECT id, vid, rev FROM objects WHERE collection = ? AND id > ? ORDER BY id LIMIT ?')
      .all(collection, after, chunk) as { id: string; vid: number; rev: number }[];
    for (const h of heads) {
      const vid = chainAt(sql, h.vid, h.rev, at);
      const version = vid === undefined ? undefined : versionAt(sql, vid);
      if (version && !version.deleted) listed.push({ id: h.id, rev: version.rev, body: version.body! });
      if (listed.length === limit) return listed;
    }
    if (heads.length < chunk) return listed;
    after = heads[heads.length - 1]!.id;
  }
}

/**
 * Versions of one object, newest first, with rev < `before` (all when
 * undefined), following the chain from the current version.
 */
export function objectHistory(
  sql: Statements,
  collection: string,
  id: string,
  options: { before?: number | undefined; limit: number },
): StoredVersion[] {
  const current = head(sql, collection, id);
  if (!current) return [];
  const history: StoredVersion[] = [];
  let vid = options.before === undefined ? current.vid : chainAt(sql, current.vid, current.rev, options.before - 1);
  while (vid !== undefined && history.length < options.limit) {
    const row = sql.get(`SELECT ${VERSION_COLUMNS}, prev FROM versions WHERE vid = ?`).get(vid) as
      | (VersionRow & { prev: number | null })
      | undefined;
    if (!row) break;
    history.push(toVersion(row));
    vid = row.prev ?? undefined;
  }
  return history;
}

/**
 * The change feed: the latest version of every object changed after `since`,
 * in commit order (an object changed twice appears once, at its last seq).
 * A page never splits one commit: it holds whole commits, up to `limit`
 * changes, or one whole commit when that alone is larger.
 */
export function readChanges(sql: Statements, since: number, limit: number, includeBodies: boolean): Change[] {
  const columns = `o.rev AS seq, o.collection, o.id, o.deleted${includeBodies ? ', v.body' : ''}`;
  const from = includeBodies ? 'objects o JOIN versions v ON v.vid = o.vid' : 'objects o';
  type Row = Omit<Change, 'deleted'> & { deleted: number };
  let rows = sql
    .get(`SELECT ${columns} FROM ${from} WHERE o.rev > ? ORDER BY o.rev, o.collection, o.id LIMIT ?`)
    .all(since, limit + 1) as Row[];
  if (rows.length > limit) {
    const cut = rows[limit]!.seq;
    rows = rows.slice(0, limit).filter((row) => row.seq !== cut);
    if (rows.length === 0) {
      rows = sql.get(`SELECT ${columns} FROM ${from} WHERE o.rev = ? ORDER BY o.collection, o.id`).all(cut) as Row[];
    }
  }
  return rows.map((row) => ({ ...row, deleted: row.deleted === 1 }));
}
