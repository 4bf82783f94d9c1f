import { ChangeHub } from './change-hub.js';
import { existsSync } from 'node:fs';
import { assertSnapshotWithin, type Partition } from './partition.js';
import { PartitionPool, type CloseReason, type PoolOptions } from './partition-pool.js';
import { Pruner, type PruneResult, type RetentionOptions } from './pruner.js';
import { partitionPath } from './user-id.js';
import type { IdempotencyClaim, WriteOutcome, WriteRequest } from './write-request.js';

/** The read-only face of a partition that read handlers get. */
export type PartitionView = Pick<
  Partition,
  'userId' | 'seq' | 'prunedThrough' | 'object' | 'list' | 'history' | 'changes' | 'assertSnapshot'
>;

export interface StoreOptions extends PoolOptions {
  retention: RetentionOptions;
  onPruned?: (userId: string, result: PruneResult) => void;
  onPruneError?: (userId: string, error: unknown) => void;
}

/**
 * This worker's access to users' files: every read and write goes through
 * here, bracketed by pool acquire/release. The HTTP layer depends only on
 * this class, never on SQLite.
 */
export class PartitionStore {
  readonly pool: PartitionPool;
  readonly changes = new ChangeHub();
  private readonly pruner: Pruner;

  private readonly dataDir: string;

  constructor(options: StoreOptions) {
    this.dataDir = options.dataDir;
    this.pool = new PartitionPool({
      ...options,
      events: {
        opened: (userId, seconds) => options.events.opened(userId, seconds),
        closed: (userId, reason) => options.events.closed(userId, reason),
        lease: (event, userId, detail) => options.events.lease(event, userId, detail),
        batch: (size, seconds) => options.events.batch(size, seconds),
        committed: (userId, seq) => {
          options.events.committed(userId, seq);
          this.changes.publish(userId, seq);
        },
      },
    });
    this.pruner = new Pruner(
      this.pool,
      options.retention,
      options.onPruned ?? (() => undefined),
      options.onPruneError ?? (() => undefined),
    );
    this.pruner.start();
  }

  /**
   * Runs `fn` on the user's partition once every commit so far is durable.
   * `fn` is synchronous: it sees one consistent state. A user that was never
   * written reads as empty, and reading it creates nothing on disk.
   */
  async read<T>(userId: string, fn: (view: PartitionView) => T): Promise<T> {
    if (!this.pool.isOpen(userId) && !existsSync(partitionPath(this.dataDir, userId))) return fn(emptyView(userId));
    const partition = await this.pool.acquire(userId);
    try {
      const wait = partition.whenReadable();
      if (wait) await wait;
      return fn(partition);
    } finally {
      this.pool.release(partition);
    }
  }

  /** Group-commits `request` to the user's partition; resolves once durable. See Partition.write. */
  async write(userId: string, request: WriteRequest, claim?: IdempotencyClaim): Promise<WriteOutcome> {
    const partition = await this.pool.acquire(userId);
    try {
      return await partition.write(request, claim);
    } finally {
      this.pool.release(partition);
    }
  }

  /** Hands the user's partition over: closes it after in-flight requests and releases the lease. */
  release(userId: string, reason: CloseReason = 'released'): Promise<void> {
    return this.pool.close(userId, reason);
  }

  /** Prunes due partitions now (the background pruner does this on its own). */
  prune(now?: number): Promise<number> {
    return this.pruner.tick(now);
  }

  async close(): Promise<void> {
    this.pruner.stop();
    await this.pool.closeAll();
  }
}

/** The view of a user with no file yet: nothing was ever committed. */
function emptyView(userId: string): PartitionView {
  return {
    userId,
    seq: 0,
    prunedThrough: 0,
    object: () => undefined,
    list: () => [],
    history: () => [],
    changes: () => [],
    assertSnapshot: (at) => assertSnapshotWithin(at, 0, 0),
  };
}

