import { readHead, type VersionHead } from './object-reads.js';
import type { ObjectAccess } from './object-writes.js';
import type { Statements } from './statements.js';

/** The objects of a partition's SQLite file, as writes see them (inside the batch's transaction). */
export class StoredObjects implements ObjectAccess {
  constructor(private readonly sql: Statements) {}

  head(collection: string, id: string): VersionHead | undefined {
    return readHead(this.sql, collection, id);
  }

  body(head: VersionHead): string {
    return (this.sql.get('SELECT body FROM versions WHERE vid = ?').get(head.vid) as { body: string }).body;
  }

  /**
   * Appends the version to `versions`, linked to `previous` (the current
   * version, tombstone included, as just read), and points the object's head
   * at it. Each write request writes an object at most once (a transaction
   * folds its ops on one object into one version), at its own seq.
   */
  append(collection: string, id: string, body: string | null, previous: VersionHead | undefined, seq: number, now: number): void {
    const deleted = body === null ? 1 : 0;
    const vid = this.sql
      .get('INSERT INTO versions (rev, collection, id, prev, deleted, committed_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(seq, collection, id, previous?.vid ?? null, deleted, now, body).lastInsertRowid;
    if (previous) {
      this.sql.get('UPDATE objects SET vid = ?, rev = ?, deleted = ? WHERE collection = ? AND id = ?').run(vid, seq, deleted, collection, id);
    } else {
      this.sql.get('INSERT INTO objects (collection, id, vid, rev, deleted) VALUES (?, ?, ?, ?, ?)').run(collection, id, vid, seq, deleted);
    }
  }
}
