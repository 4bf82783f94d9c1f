import type { Database } from 'better-sqlite3';

/**
 * Schema migrations of a partition file, applied on open by `user_version`.
 * Append new migrations; never edit one that has shipped.
 *
 * Storage model (since migration 2): `versions` holds every version of every
 * object, the current ones included, under an ever-growing `vid` (the row
 * id), each row pointing at the version it superseded (`prev`) and carrying
 * its commit time (all that retention needs). `objects` is the head of each
 * object's chain: its current `vid`, `rev` and whether it is a tombstone. A
 * write appends one row at the end of `versions` (the same few pages for
 * every write) and rewrites one small head row, which keeps the pages a
 * commit writes to the WAL few. Snapshot reads and history follow the `prev`
 * chain from the head.
 *
 * SQLite gives a new row max(vid) + 1, and the row with the largest vid is
 * always the newest version of its object, which is never deleted (the
 * pruner deletes only superseded versions): so a vid is never reused and vid
 * order is commit order. Anything that deletes current versions must keep
 * that true.
 *
 * Since migration 3 a version row also says whether it is live (the current,
 * undeleted version of its object) and the index generation it was written
 * under; `indexes` is the catalog of secondary indexes (see
 * services/query/index-sql.ts).
 */
const MIGRATIONS: readonly string[] = [
  // 1: the MVCC object store, commit times, idempotency records.
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value ANY
  ) WITHOUT ROWID;

  -- One row per group-commit batch: its last seq and its time (retention maps time to seq).
  CREATE TABLE commits (
    seq INTEGER PRIMARY KEY,
    committed_at INTEGER NOT NULL
  );

  CREATE TABLE objects (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    rev INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    body TEXT,
    committed_at INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
  ) WITHOUT ROWID;
  CREATE INDEX objects_by_rev ON objects (rev);

  CREATE TABLE versions (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    rev INTEGER NOT NULL,
    superseded_by INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    body TEXT,
    committed_at INTEGER NOT NULL,
    PRIMARY KEY (collection, id, rev)
  ) WITHOUT ROWID;
  CREATE INDEX versions_by_superseded ON versions (superseded_by);

  CREATE TABLE idempotency (
    key TEXT PRIMARY KEY NOT NULL,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_by_created ON idempotency (created_at);

  INSERT INTO meta (key, value) VALUES ('pruned_through', 0);
  `,
  // 2: every version in one append-only table; objects become chain heads;
  //    commit times live on the versions (no commits table).
  `
  CREATE TABLE versions_v2 (
    vid INTEGER PRIMARY KEY,
    rev INTEGER NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    prev INTEGER,
    deleted INTEGER NOT NULL,
    committed_at INTEGER NOT NULL,
    body TEXT
  );
  CREATE TABLE objects_v2 (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    vid INTEGER NOT NULL,
    rev INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (collection, id)
  ) WITHOUT ROWID;

  INSERT INTO versions_v2 (vid, rev, collection, id, prev, deleted, committed_at, body)
    SELECT vid, rev, collection, id, lag(vid) OVER (PARTITION BY collection, id ORDER BY rev), deleted, committed_at, body
    FROM (
      SELECT row_number() OVER (ORDER BY rev, collection, id) AS vid, rev, collection, id, deleted, committed_at, body
      FROM (
        SELECT rev, collection, id, deleted, committed_at, body FROM versions
        UNION ALL
        SELECT rev, collection, id, deleted, committed_at, body FROM objects
      )
    )
    ORDER BY vid;
  -- With max(), SQLite takes rev and deleted from the row holding the max.
  INSERT INTO objects_v2 (collection, id, vid, rev, deleted)
    SELECT collection, id, max(vid), rev, deleted FROM versions_v2 GROUP BY collection, id;

  DROP TABLE objects;
  DROP TABLE versions;
  ALTER TABLE versions_v2 RENAME TO versions;
  ALTER TABLE objects_v2 RENAME TO objects;
  CREATE INDEX objects_by_rev ON objects (rev);
  DROP TABLE commits;
  INSERT INTO meta (key, value) VALUES ('pruned_vid', 0);
  `,
  // 3: secondary indexes. A version is `live` while it is the current,
  //    undeleted version of its object (partial expression indexes cover
  //    live versions only; exact in collections that have an index, see
  //    StoredObjects.indexedCollections), and carries the index generation current when it
  //    was written (`ixgen`: an index of generation g covers versions with
  //    ixgen >= g, so that it can be built a batch at a time, see
  //    services/query/index-sql.ts). `indexes` is the catalog.
  `
  ALTER TABLE versions ADD COLUMN live INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE versions ADD COLUMN ixgen INTEGER NOT NULL DEFAULT 0;
  UPDATE versions SET live = 1 WHERE vid IN (SELECT vid FROM objects WHERE deleted = 0);
  CREATE TABLE indexes (
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    paths TEXT NOT NULL,
    is_unique INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    state TEXT NOT NULL,
    built_through TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (collection, name)
  ) WITHOUT ROWID;
  INSERT INTO meta (key, value) VALUES ('index_generation', 0);
  `,
  // 4: anchors, so that a snapshot read does not walk a long chain one
  //    version at a time. A head row carries its version's depth in the
  //    chain (counted from 1 where this migration found the chain: versions
  //    written before it have none) and its chain's newest anchor; every
  //    ANCHOR_EVERY-th version is an anchor, and `up` links it to the
  //    anchor before it (see object-reads.ts chainAt). Adding columns
  //    rewrites nothing.
  `
  ALTER TABLE versions ADD COLUMN up INTEGER;
  ALTER TABLE objects ADD COLUMN depth INTEGER;
  ALTER TABLE objects ADD COLUMN anchor INTEGER;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

/**
 * Brings `db` to SCHEMA_VERSION (or `target`: tests build files of an older
 * version) in one transaction. Idempotent. Refuses (SchemaTooNewError) a
 * file written by a newer Pinbase, rather than guess.
 */
export function migrate(db: Database, target = SCHEMA_VERSION): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current === target) return;
  if (current > target) {
    throw new SchemaTooNewError(`partition schema version ${current} is newer than this build supports (${target})`);
  }
  db.transaction(() => {
    for (let version = current; version < target; version++) db.exec(MIGRATIONS[version]!);
    db.pragma(`user_version = ${target}`);
  })();
}
