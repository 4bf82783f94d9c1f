import type { Database } from 'better-sqlite3';

/**
 * Schema migrations of a partition file, applied on open by `user_version`.
 * Append new migrations; never edit one that has shipped.
 *
 * Storage model: `objects` holds the current version of every object
 * (tombstones included, so the change feed reports deletions); `versions`
 * holds every superseded version with the seq of the write that superseded
 * it, which is what snapshot reads and the pruner need. Both are clustered
 * on their key (WITHOUT ROWID): a write touches one B-tree per table plus
 * one index, which keeps the pages a commit appends to the WAL few.
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

/**
 * Brings `db` to SCHEMA_VERSION in one transaction. Idempotent. Refuses
 * (SchemaTooNewError) a file written by a newer Pinbase, rather than guess.
 */
export function migrate(db: Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current === SCHEMA_VERSION) return;
  if (current > SCHEMA_VERSION) {
    throw new SchemaTooNewError(`partition schema version ${current} is newer than this build supports (${SCHEMA_VERSION})`);
  }
  db.transaction(() => {
    for (let version = current; version < SCHEMA_VERSION; version++) db.exec(MIGRATIONS[version]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
