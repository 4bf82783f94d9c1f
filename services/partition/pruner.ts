import type { Partition } from './partition.js';
import type { PartitionPool } from './partition-pool.js';
import type { Statements } from './statements.js';

export interface RetentionOptions {
  /** Superseded versions are kept this long after they were superseded (snapshot reads, history). */
  retentionMs: number;
  /** Idempotency records are kept this long (≥ 24 h). */
  idempotencyTtlMs: number;
  /** A partition is pruned at most this often. */
  pruneIntervalMs: number;
  /** Rows deleted per batch, so that one prune never blocks the event loop for long. */
  maxRowsPerBatch: number;
}

export interface PruneResult {
  versions: number;
  /** More superseded versions may be due: prune again soon rather than at the next interval. */
  backlog: boolean;
  idempotency: number;
  prunedThrough: number;
}

/**
 * Deletes what the retention window no longer needs, in one write of the
 * partition's commit queue (so it is fenced like any commit). A version is
 * due once the version that superseded it was committed before the window.
 * The pruner walks `versions` in vid (commit) order from where it stopped
 * last time (`pruned_vid`), at most maxRowsPerBatch rows per call, deleting
 * each row's predecessor, and moves the horizon (`pruned_through`) to the
 * last commit it walked past: snapshots at seq ≥ the horizon stay exact,
 * older ones answer snapshot_pruned. The current version of every object,
 * tombstones included, is never pruned.
 */
export function prunePartition(partition: Partition, sql: Statements, now: number, options: RetentionOptions): PruneResult {
  const cutoff = now - options.retentionMs;
  const cursor = (sql.get("SELECT value FROM meta WHERE key = 'pruned_vid'").get() as { value: number }).value;
  const scanned = sql
    .get('SELECT vid, rev, prev, committed_at FROM versions WHERE vid > ? ORDER BY vid LIMIT ?')
    .all(cursor, options.maxRowsPerBatch) as { vid: number; rev: number; prev: number | null; committed_at: number }[];
  const drop = sql.get('DELETE FROM versions WHERE vid = ?');
  let versions = 0;
  let reached = cursor;
  let horizon = partition.prunedThrough;
  // Running exports read snapshots down to the smallest pinned seq: nothing they need is pruned.
  const pinned = partition.pins.limit;
  for (const row of scanned) {
    if (row.committed_at > cutoff || row.rev > pinned) break;
    if (row.prev !== null) versions += drop.run(row.prev).changes;
    reached = row.vid;
    horizon = Math.max(horizon, row.rev);
  }
  if (reached > cursor) sql.get("UPDATE meta SET value = ? WHERE key = 'pruned_vid'").run(reached);
  if (horizon > partition.prunedThrough) {
    sql.get("INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_through', ?)").run(horizon);
  }
  const idempotency = sql
    .get('DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE created_at < ? LIMIT ?)')
    .run(now - options.idempotencyTtlMs, options.maxRowsPerBatch).changes;
  sql.get("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_pruned_at', ?)").run(now);
  const backlog =
    (scanned.length === options.maxRowsPerBatch && reached === scanned[scanned.length - 1]!.vid) ||
    idempotency >= options.maxRowsPerBatch;
  return { versions, idempotency, prunedThrough: horizon, backlog };
}

/** Background compaction of the open partitions of a pool. */
export class Pruner {
  private timer: NodeJS.Timeout | undefined;
  private readonly lastPruned = new WeakMap<Partition, number>();
  private running = false;

  constructor(
    private readonly pool: PartitionPool,
    private readonly options: RetentionOptions,
    private readonly onError: (userId: string, error: unknown) => void,
  ) {}

  start(tickMs = 5000): void {
    this.timer = setInterval(() => void this.tick(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Prunes every open partition not pruned within pruneIntervalMs. Returns how many were pruned. */
  async tick(now = Date.now()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let pruned = 0;
    try {
      for (const partition of this.pool.openPartitions()) {
        // Partitions close while earlier ones are being pruned.
        if (partition.state !== 'open') continue;
        const last = this.lastPruned.get(partition) ?? lastPrunedAt(partition);
        if (now - last < this.options.pruneIntervalMs) continue;
        this.lastPruned.set(partition, now);
        try {
          const result = await partition.maintain((sql) => {
            const outcome = prunePartition(partition, sql, now, this.options);
            partition.prunedThrough = outcome.prunedThrough;
            return outcome;
          });
          pruned++;
          // A full batch left a backlog: come back at the next tick, not the next interval.
          if (result.backlog) this.lastPruned.set(partition, 0);
        } catch (error) {
          this.onError(partition.userId, error);
        }
      }
    } finally {
      this.running = false;
    }
    return pruned;
  }
}

/** When the partition was last pruned; a partition never pruned counts from when it was opened. */
function lastPrunedAt(partition: Partition): number {
  const row = partition.sql.get("SELECT value FROM meta WHERE key = 'last_pruned_at'").get() as { value: number } | undefined;
  return row?.value ?? partition.openedAt;
}
