import type { Statements } from './statements.js';

/** What a write needs to know of an object's current version: no body. */
export interface VersionHead {
  rev: number;
  deleted: boolean;
  /** Row of this version in `versions` (internal: the link the next version points back by). */
  vid: number;
}

/**
 * An object's current version as a write reads it: with its place in the
 * chain (null for a version written before migration 4 or imported), which
 * the next version continues.
 */
export interface ChainHead extends VersionHead {
  depth: number | null;
  /** The newest anchor of the chain at or below this version (see chainAt). */
  anchor: number | null;
}

/** Every this-many-th version of an object is an anchor: a snapshot read walks at most this many versions past the anchors it hops. */
export const ANCHOR_EVERY = 1024;

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

/** The version stored at row `vid`, if any. */
export function versionAt(sql: Statements, vid: number): StoredVersion | undefined {
  const row = sql.get(`SELECT ${VERSION_COLUMNS} FROM versions WHERE vid = ?`).get(vid) as VersionRow | undefined;
  return row && toVersion(row);
}

/**
 * Walks an object's chain from version `vid` (whose rev is `rev`) to the
 * newest version with rev ≤ `at`; undefined if the object had none then (or
 * it was pruned). Costs one row lookup per version written after `at`.
 */
export function chainAt(sql: Statements, vid: number, rev: number, at: number, anchor: number | null = null): number | undefined {
  let current = vid;
  let currentRev = rev;
  if (currentRev > at && anchor !== null) {
    // Hop the anchors (one every ANCHOR_EVERY versions) while they are still after `at`; the version
    // sought is then at most ANCHOR_EVERY links below the last one hopped. An anchor pruned away ends
    // the hops: everything below it is older still, and the version sought is above it. Each hop must
    // go back in time (the head can be an anchor itself), so the hops end whatever the file holds.
    const hop = sql.get('SELECT rev, up FROM versions WHERE vid = ?');
    type Anchor = { rev: number; up: number | null } | undefined;
    let next: number | null = anchor === vid ? ((hop.get(vid) as Anchor)?.up ?? null) : anchor;
    while (next !== null) {
      const row = hop.get(next) as Anchor;
      if (row === undefined || row.rev <= at || row.rev >= currentRev) break;
      current = next;
      currentRev = row.rev;
      next = row.up;
    }
  }
  const link = sql.get('SELECT rev, prev FROM versions WHERE vid = ?');
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
  depth: number | null;
  anchor: number | null;
}

function head(sql: Statements, collection: string, id: string): Head | undefined {
  return sql.get('SELECT vid, rev, deleted, depth, anchor FROM objects WHERE collection = ? AND id = ?').get(collection, id) as Head | undefined;
}

/** The current version of (collection, id) without its body, tombstones included; undefined if it never existed. */
export function readHead(sql: Statements, collection: string, id: string): ChainHead | undefined {
  const row = head(sql, collection, id);
  return row && { vid: row.vid, rev: row.rev, deleted: row.deleted === 1, depth: row.depth, anchor: row.anchor };
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
  const vid = chainAt(sql, current.vid, current.rev, at, current.anchor);
  return vid === undefined ? undefined : versionAt(sql, vid);
}

/** One page of a listing or a history: the items, and whether more follow. */
export interface Page<T> {
  items: T[];
  more: boolean;
  /**
   * For a listing that ended early on its scan budget: the id the next page
   * starts after (past objects skipped as absent at the snapshot), when that
   * is not the last item's.
   */
  after?: string;
}

/**
 * Most object heads a snapshot listing (`?at=`) resolves for one page:
 * objects created after the snapshot, or deleted by then, are skipped, and
 * without this bound a page of a collection of 100,000 objects created
 * after `at` held the event loop for ~0.5 s. A page that reaches it ends
 * early (`more`, with `after`), possibly empty.
 */
export const MAX_SNAPSHOT_HEADS_PER_PAGE = 2000;

/**
 * How far a page may go: at most `limit` items, and no more items once
 * their bodies reach `maxBytes` characters of JSON (at least one item
 * whatever its size: one document is bounded by the document size limit).
 * Rows are read one at a time, so a page never holds more than that in
 * memory.
 */
export interface PageBounds {
  limit: number;
  maxBytes: number;
}

/** Counts a page's items against its bounds. */
export class PageFill {
  private count = 0;
  private bytes = 0;

  constructor(private readonly bounds: PageBounds) {}

  /** Whether an item of `bytes` still fits; if so it is counted. */
  admit(bytes: number): boolean {
    if (this.count >= this.bounds.limit) return false;
    if (this.count > 0 && this.bytes + bytes > this.bounds.maxBytes) return false;
    this.count++;
    this.bytes += bytes;
    return true;
  }
}

/**
 * Live objects of a collection in id order, after `after`, as of `at`
 * (latest if undefined), within `bounds`; `more` when the collection goes on.
 */
export function listObjects(
  sql: Statements,
  collection: string,
  options: PageBounds & { after: string; at?: number | undefined },
): Page<ListedObject> {
  const fill = new PageFill(options);
  const items: ListedObject[] = [];
  if (options.at === undefined) {
    const rows = sql
      .get(
        `SELECT o.id, o.rev, v.body FROM objects o JOIN versions v ON v.vid = o.vid
         WHERE o.collection = ? AND o.id > ? AND o.deleted = 0 ORDER BY o.id`,
      )
      .iterate(collection, options.after) as IterableIterator<ListedObject>;
    for (const row of rows) {
      if (!fill.admit(row.body.length)) return { items, more: true };
      items.push(row);
    }
    return { items, more: false };
  }
  // Heads in id order, each resolved at the snapshot, a chunk at a time until
  // the page is full (objects created after `at` or deleted then are skipped).
  const { at, limit } = options;
  const chunk = Math.max(limit + 1, 64);
  let after = options.after;
  let scanned = 0;
  for (;;) {
    if (scanned >= MAX_SNAPSHOT_HEADS_PER_PAGE) return { items, more: true, after };
    const heads = sql
      .get('SELECT id, vid, rev, anchor FROM objects WHERE collection = ? AND id > ? ORDER BY id LIMIT ?')
      .all(collection, after, chunk) as { id: string; vid: number; rev: number; anchor: number | null }[];
    for (const h of heads) {
      const vid = chainAt(sql, h.vid, h.rev, at, h.anchor);
      const version = vid === undefined ? undefined : versionAt(sql, vid);
      if (!version || version.deleted) continue;
      if (!fill.admit(version.body!.length)) return { items, more: true };
      items.push({ id: h.id, rev: version.rev, body: version.body! });
    }
    if (heads.length < chunk) return { items, more: false };
    after = heads[heads.length - 1]!.id;
    scanned += heads.length;
  }
}

/**
 * Versions of one object, newest first, with rev < `before` (all when
 * undefined), following the chain from the current version, within
 * `bounds`; `more` when older versions remain.
 */
export function objectHistory(
  sql: Statements,
  collection: string,
  id: string,
  options: PageBounds & { before?: number | undefined },
): Page<StoredVersion> {
  const current = head(sql, collection, id);
  if (!current) return { items: [], more: false };
  const fill = new PageFill(options);
  const items: StoredVersion[] = [];
  let vid = options.before === undefined ? current.vid : chainAt(sql, current.vid, current.rev, options.before - 1, current.anchor);
  while (vid !== undefined) {
    const row = sql.get(`SELECT ${VERSION_COLUMNS}, prev FROM versions WHERE vid = ?`).get(vid) as
      | (VersionRow & { prev: number | null })
      | undefined;
    if (!row) break;
    if (!fill.admit(row.body?.length ?? 0)) return { items, more: true };
    items.push(toVersion(row));
    vid = row.prev ?? undefined;
  }
  return { items, more: false };
}

/** Where a change feed reads from: after commit `seq`, or inside it after the object `after` (a commit is read in (collection, id) order). */
export interface ChangesPosition {
  seq: number;
  after?: { collection: string; id: string } | undefined;
}

/** A page of the change feed; `cursor` is set when it ends inside a commit (the last one on the page), where the next page resumes. */
export interface ChangesPage {
  changes: Change[];
  cursor?: Required<ChangesPosition> | undefined;
}

/**
 * The most changes, and characters of bodies, of one commit that a page
 * holds whole: a commit larger than this comes in parts of at most this
 * size, each on a page of its own. No transaction can be larger with the
 * default limits (1000 ops, 2 × the 1 MiB body limit of documents); an
 * import (up to the user quota, in one commit) or a revert of more objects
 * can, and without this one page of it would be all of it in memory.
 */
export const COMMIT_PART = { changes: 1000, bytes: 2 * 1024 * 1024 };

/**
 * The change feed: the latest version of every object changed after
 * `from`, in commit order (an object changed twice appears once, at its last
 * seq). A page holds whole commits, within `bounds` (changes, and
 * characters of bodies), or one whole commit when that alone is larger; a
 * commit beyond COMMIT_PART, which no page holds whole, comes in parts
 * (`cursor` says where the next one starts).
 */
export function readChanges(sql: Statements, from: ChangesPosition, includeBodies: boolean, bounds: PageBounds): ChangesPage {
  const columns = `o.rev AS seq, o.collection, o.id, o.deleted${includeBodies ? ', v.body' : ''}`;
  const source = includeBodies ? 'objects o JOIN versions v ON v.vid = o.vid' : 'objects o';
  type Row = Omit<Change, 'deleted'> & { deleted: number };
  const rows = (
    from.after === undefined
      ? sql.get(`SELECT ${columns} FROM ${source} WHERE o.rev > ? ORDER BY o.rev, o.collection, o.id`).iterate(from.seq)
      : sql
          .get(`SELECT ${columns} FROM ${source} WHERE (o.rev, o.collection, o.id) > (?, ?, ?) ORDER BY o.rev, o.collection, o.id`)
          .iterate(from.seq, from.after.collection, from.after.id)
  ) as IterableIterator<Row>;
  const changes: Change[] = [];
  let bytes = 0;
  /** Where the commit being read starts in `changes`, and its bodies' characters. */
  let commitStart = 0;
  let commitBytes = 0;
  for (const row of rows) {
    const newCommit = changes.length === 0 || row.seq !== changes[changes.length - 1]!.seq;
    if (newCommit) {
      if (changes.length >= bounds.limit || bytes >= bounds.maxBytes) break;
      commitStart = changes.length;
      commitBytes = 0;
    }
    const rowBytes = row.body?.length ?? 0;
    const commitChanges = changes.length - commitStart;
    if (commitChanges >= COMMIT_PART.changes || (commitChanges > 0 && commitBytes + rowBytes > COMMIT_PART.bytes)) {
      // A commit too large for any page: alone on its page(s), in parts.
      if (commitStart > 0) {
        changes.length = commitStart;
        return { changes };
      }
      const last = changes[changes.length - 1]!;
      return { changes, cursor: { seq: last.seq, after: { collection: last.collection, id: last.id } } };
    }
    changes.push({ ...row, deleted: row.deleted === 1 });
    bytes += rowBytes;
    commitBytes += rowBytes;
    if (commitStart > 0 && (changes.length > bounds.limit || bytes > bounds.maxBytes)) {
      // This commit does not fit after the ones before it: the next page starts with it.
      changes.length = commitStart;
      break;
    }
  }
  return { changes };
}
