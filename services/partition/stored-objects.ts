import { ANCHOR_EVERY, chainAt, readHead, type ChainHead, type VersionHead } from './object-reads.js';
import type { ChangedObject } from './revert-write.js';
import type { ObjectAccess } from './object-writes.js';
import type { Statements } from './statements.js';

/** The objects of a partition's SQLite file, as writes see them (inside the batch's transaction). */
export class StoredObjects implements ObjectAccess {
  /**
   * The index generation new versions are written under (meta
   * `index_generation`): the newest index's, so that every index, built or
   * being built, covers them. Whoever creates an index raises it.
   */
  indexGeneration: number;
  /**
   * Collections that have an index (in any state): only their writes keep
   * `live` exact on superseded versions, which costs an UPDATE of the
   * previous version's row (another page per write: measured ~15% of
   * durable write throughput with 64 writers). Elsewhere a superseded
   * version may keep live = 1; no index can see it, because its `ixgen` is
   * below the generation of every index of its collection: an index created
   * later gets a newer generation than any version written before it, and
   * its build raises `ixgen` of current versions only. Whoever creates or
   * drops an index keeps this set up to date.
   */
  readonly indexedCollections: Set<string>;

  constructor(private readonly sql: Statements) {
    const row = sql.get("SELECT value FROM meta WHERE key = 'index_generation'").get() as { value: number } | undefined;
    this.indexGeneration = Number(row?.value ?? 0);
    const collections = sql.get('SELECT DISTINCT collection FROM indexes').pluck().all() as string[];
    this.indexedCollections = new Set(collections);
  }

  head(collection: string, id: string): ChainHead | undefined {
    return readHead(this.sql, collection, id);
  }

  body(head: VersionHead): string {
    return (this.sql.get('SELECT body FROM versions WHERE vid = ?').get(head.vid) as { body: string }).body;
  }

  /**
   * Objects with a version after `at`, by the objects index on rev (heads
   * not changed since are never read), each walked back to `at`.
   */
  *changedSince(at: number, collection: string | undefined): Iterable<ChangedObject> {
    const rows = (
      collection === undefined
        ? this.sql.get('SELECT collection, id, vid, rev, deleted, depth, anchor FROM objects WHERE rev > ?').iterate(at)
        : this.sql.get('SELECT collection, id, vid, rev, deleted, depth, anchor FROM objects WHERE collection = ? AND rev > ?').iterate(collection, at)
    ) as IterableIterator<{ collection: string; id: string; vid: number; rev: number; deleted: number; depth: number | null; anchor: number | null }>;
    const version = this.sql.get(
      `SELECT v.rev, v.deleted, coalesce(length(CAST(v.body AS BLOB)), 0) AS bytes, v.body IS c.body AS same
       FROM versions v, versions c WHERE v.vid = ? AND c.vid = ?`,
    );
    type Row = { rev: number; deleted: number; bytes: number; same: number };
    for (const row of rows) {
      const thenVid = chainAt(this.sql, row.vid, row.rev, at, row.anchor);
      const then = thenVid === undefined ? undefined : (version.get(thenVid, row.vid) as Row | undefined);
      yield {
        collection: row.collection,
        id: row.id,
        current: { vid: row.vid, rev: row.rev, deleted: row.deleted === 1, depth: row.depth, anchor: row.anchor },
        then: then && { vid: thenVid!, rev: then.rev, deleted: then.deleted === 1, bytes: then.bytes, sameBody: then.same === 1 },
      };
    }
  }

  /**
   * Appends the version to `versions`, linked to `previous` (the current
   * version, tombstone included, as just read), and points the object's head
   * at it, one deeper in the chain; every ANCHOR_EVERY-th version is an
   * anchor, linked to the one before (see chainAt). No other row is read. Each write request writes an object at most once (a transaction
   * folds its ops on one object into one version), at its own seq.
   *
   * In a collection with an index, the previous version stops being live
   * before the new one is inserted: a unique index must not see both at once
   * (an update that keeps a unique value would otherwise collide with
   * itself). A unique index that the new
   * version breaks makes the INSERT throw SQLITE_CONSTRAINT_UNIQUE; the
   * caller runs the write in a savepoint when the collection has one.
   */
  append(collection: string, id: string, body: string | null, previous: ChainHead | undefined, seq: number, now: number): void {
    const deleted = body === null ? 1 : 0;
    if (previous && !previous.deleted && this.indexedCollections.has(collection)) this.sql.get('UPDATE versions SET live = 0 WHERE vid = ?').run(previous.vid);
    const depth = (previous?.depth ?? 0) + 1;
    const isAnchor = depth % ANCHOR_EVERY === 0;
    const up = isAnchor ? (previous?.anchor ?? null) : null;
    const vid = Number(
      this.sql
        .get('INSERT INTO versions (rev, collection, id, prev, deleted, committed_at, body, live, ixgen, up) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(seq, collection, id, previous?.vid ?? null, deleted, now, body, 1 - deleted, this.indexGeneration, up).lastInsertRowid,
    );
    const anchor = isAnchor ? vid : (previous?.anchor ?? null);
    if (previous) {
      this.sql
        .get('UPDATE objects SET vid = ?, rev = ?, deleted = ?, depth = ?, anchor = ? WHERE collection = ? AND id = ?')
        .run(vid, seq, deleted, depth, anchor, collection, id);
    } else {
      this.sql.get('INSERT INTO objects (collection, id, vid, rev, deleted, depth, anchor) VALUES (?, ?, ?, ?, ?, ?, ?)').run(collection, id, vid, seq, deleted, depth, anchor);
    }
  }
}
