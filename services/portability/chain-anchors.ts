import Database from 'better-sqlite3';
import { ANCHOR_EVERY } from '../partition/object-reads.js';

/**
 * Gives every chain of a checked staging file the anchors its writes would
 * have left (see StoredObjects.append and chainAt): counted from each
 * object's oldest version, every ANCHOR_EVERY-th version is an anchor whose
 * `up` is the anchor before it (the version ANCHOR_EVERY links back), and
 * each head carries its depth and newest anchor. Whatever the file said is
 * replaced: an NDJSON export has no anchors, a file written before
 * migration 4 none, and an uploaded file's own are not trusted (anchors
 * far apart would let one snapshot read walk a long chain again).
 *
 * One window pass over (collection, id, rev), bodies not read, into a
 * temporary table of the anchors and heads only; then two small updates.
 * Measured: ~1 s per million versions on the development machine.
 */
export function anchorChains(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.transaction(() => {
      db.exec(`
        CREATE TEMP TABLE chain_marks AS
          SELECT vid, collection, id, depth, up FROM (
            SELECT vid, collection, id, row_number() OVER w AS depth, lag(vid, ${ANCHOR_EVERY}) OVER w AS up
            FROM main.versions WINDOW w AS (PARTITION BY collection, id ORDER BY rev)
          )
          WHERE depth % ${ANCHOR_EVERY} = 0 OR vid IN (SELECT vid FROM main.objects);
        CREATE INDEX temp.chain_marks_by_object ON chain_marks (collection, id, depth);
        UPDATE main.versions SET up = NULL WHERE up IS NOT NULL;
        UPDATE main.versions SET up = m.up FROM temp.chain_marks m
          WHERE versions.vid = m.vid AND m.depth % ${ANCHOR_EVERY} = 0 AND m.up IS NOT NULL;
        UPDATE main.objects SET depth = h.depth, anchor = (
            SELECT a.vid FROM temp.chain_marks a
            WHERE a.collection = h.collection AND a.id = h.id AND a.depth = h.depth / ${ANCHOR_EVERY} * ${ANCHOR_EVERY}
          )
          FROM temp.chain_marks h WHERE h.vid = objects.vid;
        DROP TABLE temp.chain_marks;
      `);
    })();
  } finally {
    db.close();
  }
}
