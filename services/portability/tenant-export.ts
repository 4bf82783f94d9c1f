import Database from 'better-sqlite3';
import { chainAt, versionAt } from '../partition/object-reads.js';
import type { Partition } from '../partition/partition.js';
import type { SnapshotPin } from '../partition/snapshot-pins.js';
import { EXPORT_FORMAT, EXPORT_FORMAT_VERSION, formatLine, formatVersionLine, type IndexLine } from './export-format.js';
import { migrate } from '../partition/schema.js';

/**
 * Bounds of one turn of the event loop of an NDJSON export: at most this
 * many objects resolved, and no more once the turn's lines reach this many
 * characters (at least one object: its versions are bounded by the document
 * limit and, with history, by the retention window). The stream waits for
 * the client between chunks (back-pressure), so an export holds one chunk
 * of memory at a time.
 */
const OBJECTS_PER_TURN = 256;
const CHARS_PER_TURN = 512 * 1024;

/** How often a running export checks whether its partition is being handed over (see abortWhenInterrupted). */
const INTERRUPT_CHECK_MS = 250;

/** Thrown inside an export whose partition was handed over or replaced: the stream ends without its end line. */
export class ExportInterrupted extends Error {
  override name = 'ExportInterrupted';
}

/**
 * A running NDJSON export of one user at the snapshot `seq`: the partition
 * stays acquired (the pool will not close it under the export; a handover
 * waits for it to end or interrupts it, see lines()) and its snapshot is
 * pinned (the pruner keeps every version the export still needs) until
 * close(). A user with no file exports as empty at seq 0.
 */
export class NdjsonExport {
  readonly seq: number;
  readonly prunedThrough: number;
  private readonly pin: SnapshotPin | undefined;
  private closed = false;
  private watch: NodeJS.Timeout | undefined;

  /** Takes the snapshot: call in the same turn as the partition was found readable. */
  constructor(
    readonly userId: string,
    private readonly partition: Partition | undefined,
    readonly history: boolean,
    private readonly release: () => void,
  ) {
    this.seq = partition?.seq ?? 0;
    this.prunedThrough = partition?.prunedThrough ?? 0;
    // With history, nothing more may be pruned; without, nothing a snapshot at seq reads.
    this.pin = partition?.pins.pin(history ? this.prunedThrough : this.seq);
  }

  /**
   * Calls `abort` (once) as soon as the export is interrupted (see lines()),
   * even while it waits for a client that does not read: a stalled client
   * must not hold a handover back. Checked every INTERRUPT_CHECK_MS until
   * close().
   */
  abortWhenInterrupted(abort: () => void): void {
    if (!this.partition || this.closed) return;
    this.watch = setInterval(() => {
      if (this.interrupted()) {
        clearInterval(this.watch);
        abort();
      }
    }, INTERRUPT_CHECK_MS);
    this.watch.unref();
  }

  private interrupted(): boolean {
    return this.partition !== undefined && (this.partition.state !== 'open' || !this.pin!.valid);
  }

  /** Ends the export: unpins the snapshot and lets the partition go. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watch);
    this.pin?.release();
    this.release();
  }

  /**
   * The export's text, a chunk at a time (one turn of the event loop each):
   * header, index lines, version lines, end line. Throws ExportInterrupted
   * (no end line follows) when the partition stops being open (handover,
   * lost lease, shutdown) or an import replaced its data. Closes the export
   * when it ends, however it ends.
   */
  async *lines(): AsyncGenerator<string> {
    try {
      const exportedAt = new Date().toISOString();
      const header = { type: 'header', format: EXPORT_FORMAT, version: EXPORT_FORMAT_VERSION, user: this.userId } as const;
      const indexes = this.indexLines();
      yield formatLine({ ...header, seq: this.seq, history: this.history, prunedThrough: this.prunedThrough, exportedAt }) +
        indexes.map(formatLine).join('');
      let count = indexes.length;
      let after: [string, string] = ['', ''];
      while (this.partition) {
        await new Promise((resolve) => setImmediate(resolve));
        this.assertReadable();
        const chunk = this.readChunk(after);
        count += chunk.count;
        if (chunk.text.length > 0) yield chunk.text;
        if (chunk.next === undefined) break;
        after = chunk.next;
      }
      this.assertReadable();
      yield formatLine({ type: 'end', count });
    } finally {
      this.close();
    }
  }

  private assertReadable(): void {
    if (this.closed) throw new ExportInterrupted('the export was closed');
    if (this.interrupted()) {
      throw new ExportInterrupted('the partition was handed over or replaced during the export');
    }
  }

  private indexLines(): IndexLine[] {
    if (!this.partition) return [];
    const rows = this.partition.sql.get('SELECT collection, name, paths, is_unique FROM indexes ORDER BY collection, name').all() as {
      collection: string;
      name: string;
      paths: string;
      is_unique: number;
    }[];
    return rows.map((row) => ({ type: 'index', collection: row.collection, name: row.name, paths: catalogPaths(row.paths), unique: row.is_unique === 1 }));
  }

  /** Objects after `after` in (collection, id) order, each as of seq, within one turn's bounds. */
  private readChunk(after: [string, string]): { text: string; count: number; next: [string, string] | undefined } {
    const sql = this.partition!.sql;
    const heads = sql
      .get('SELECT collection, id, vid, rev, anchor FROM objects WHERE (collection, id) > (?, ?) ORDER BY collection, id LIMIT ?')
      .all(after[0], after[1], OBJECTS_PER_TURN) as { collection: string; id: string; vid: number; rev: number; anchor: number | null }[];
    let text = '';
    let count = 0;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i]!;
      const atSeq = chainAt(sql, head.vid, head.rev, this.seq, head.anchor);
      for (const vid of this.history ? this.olderChain(atSeq) : atSeq === undefined ? [] : [atSeq]) {
        const version = versionAt(sql, vid);
        if (!version || (!this.history && version.deleted)) continue;
        text += formatVersionLine({ collection: head.collection, id: head.id, rev: version.rev, deleted: version.deleted, committedAt: version.committedAt, body: version.body });
        count++;
      }
      if (text.length >= CHARS_PER_TURN && i < heads.length - 1) return { text, count, next: [head.collection, head.id] };
    }
    const last = heads[heads.length - 1];
    return { text, count, next: heads.length < OBJECTS_PER_TURN || !last ? undefined : [last.collection, last.id] };
  }

  /** The retained chain from `vid` down, oldest first (a pruned predecessor ends it). */
  private olderChain(vid: number | undefined): number[] {
    const link = this.partition!.sql.get('SELECT prev FROM versions WHERE vid = ?').pluck();
    const vids: number[] = [];
    for (let current = vid; current !== undefined; ) {
      const prev = link.get(current) as number | null | undefined;
      if (prev === undefined) break;
      vids.push(current);
      current = prev ?? undefined;
    }
    return vids.reverse();
  }
}

/** An index catalog's `paths` column (JSON: an array of dot paths, or of segment arrays) as dot paths. */
export function catalogPaths(text: string): string[] {
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) throw new Error('index paths are not an array');
  return parsed.map((path) => (Array.isArray(path) ? path.join('.') : String(path)));
}

/**
 * Copies the partition into `file` with SQLite's online backup on the
 * partition's own connection (commits made meanwhile are in the copy), then
 * makes the copy a self-contained file (rollback journal, no WAL) and
 * reads the seq it reflects. No partition: a fresh, empty partition file
 * at seq 0.
 */
export async function backupPartition(partition: Partition | undefined, file: string): Promise<number> {
  if (partition) await partition.db.backup(file);
  const copy = new Database(file);
  try {
    copy.pragma('journal_mode = DELETE');
    if (!partition) migrate(copy);
    return fileSeq(copy);
  } finally {
    copy.close();
  }
}

/** The seq a partition file reflects: its last version's rev, or the seq an import left (meta imported_seq). */
export function fileSeq(db: Database.Database): number {
  const row = db
    .prepare("SELECT (SELECT rev FROM versions ORDER BY vid DESC LIMIT 1) AS seq, (SELECT value FROM meta WHERE key = 'imported_seq') AS imported")
    .get() as { seq: number | null; imported: number | null };
  return Math.max(row.seq ?? 0, Number(row.imported ?? 0));
}
