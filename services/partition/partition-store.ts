import { existsSync } from 'node:fs';
import { PinbaseError } from '../problem/pinbase-error.js';
import { notFound as indexNotFound, type IndexPutOutcome } from '../query/index-builder.js';
import type { IndexSpec } from '../query/index-catalog.js';
import { CommitFeed, type CommitSubscriber } from './commit-feed.js';
import { assertSnapshotWithin, judgeOnEmptyPartition } from './object-writes.js';
import type { Partition, PartitionLimits } from './partition.js';
import { ErasedMeanwhile, PartitionPool, type PoolOptions } from './partition-pool.js';
import { Pruner, type RetentionOptions } from './pruner.js';
import { partitionPath } from './user-id.js';
import { TenantPortability } from '../portability/tenant-portability.js';
import type { IdempotencyClaim, WriteOutcome, WriteRequest } from './write-request.js';

/** The read-only face of a partition that read handlers get. */
export type PartitionView = Pick<
  Partition,
  'userId' | 'seq' | 'prunedThrough' | 'object' | 'list' | 'query' | 'history' | 'changes' | 'assertSnapshot' | 'indexes' | 'index'
>;

export interface StoreOptions extends Omit<PoolOptions, 'onCommit'> {
  retention: RetentionOptions;
  onPruneError?: (userId: string, error: unknown) => void;
  /** Tenant imports and SQLite exports running at once (default 4; 503 overloaded beyond). */
  maxPortabilityJobs?: number;
  /** Where import staging files and SQLite export copies are written (default os.tmpdir()). */
  portabilityTempDir?: string;
}

/**
 * This worker's access to users' files: every read and write goes through
 * here, bracketed by pool acquire/release, and so do the subscriptions to a
 * user's commits (the live change feed). The HTTP layer depends only on this
 * class, never on SQLite.
 */
export class PartitionStore {
  readonly pool: PartitionPool;
  private readonly feed = new CommitFeed();
  private readonly pruner: Pruner;
  /** Tenant export and import (services/portability). */
  readonly portability: TenantPortability;

  private readonly dataDir: string;
  private readonly limits: PartitionLimits;

  constructor(options: StoreOptions) {
    this.dataDir = options.dataDir;
    this.limits = options.limits;
    this.pool = new PartitionPool({ ...options, onCommit: (userId, seq) => this.feed.publish(userId, seq) });
    this.pruner = new Pruner(this.pool, options.retention, options.onPruneError ?? (() => undefined));
    this.pruner.start();
    this.portability = new TenantPortability({
      pool: this.pool,
      dataDir: this.dataDir,
      maxUserBytes: this.limits.maxUserBytes,
      maxDocumentBytes: this.limits.maxDocumentBytes,
      maxConcurrent: options.maxPortabilityJobs ?? 4,
      ...(options.portabilityTempDir === undefined ? {} : { tempDir: options.portabilityTempDir }),
      endSubscriptions: (userId) => this.feed.close(userId, 'released'),
    });
  }

  /**
   * Runs `fn` on the user's partition once every commit so far is durable.
   * `fn` is synchronous: it sees one consistent state. A user that was never
   * written reads as empty, and reading it creates nothing on disk.
   */
  async read<T>(userId: string, fn: (view: PartitionView) => T): Promise<T> {
    // A user that has spent its turn of the event loop waits for the next (FairTurns).
    const turn = this.pool.turns.admit(userId);
    if (turn) await turn;
    // The hot path: an open partition is taken without a promise between the request and its read.
    let partition = this.pool.acquireOpen(userId);
    if (partition === undefined) {
      if (!this.pool.isOpen(userId) && !existsSync(partitionPath(this.dataDir, userId))) return fn(emptyView(userId));
      partition = await this.acquire(userId);
      if (partition === undefined) return this.read(userId, fn);
    }
    try {
      const wait = partition.whenReadable();
      if (wait) await wait;
      const started = performance.now();
      try {
        return fn(partition);
      } finally {
        this.pool.turns.charge(userId, performance.now() - started);
      }
    } finally {
      this.pool.release(partition);
    }
  }

  /**
   * Group-commits `request` to the user's partition; resolves once durable.
   * See Partition.write. A user's file is created by its first write that
   * commits: a write to a user with no file is first judged against the empty
   * partition, without the lease or any file, and if it would fail (a
   * precondition, a patch or delete of a missing object, a transaction's read
   * set, a limit) it fails so. That answer is as of the check: a commit made
   * elsewhere meanwhile had not been acknowledged yet (its file exists before
   * its commit), so it is ordered after this one. A write that would commit
   * opens the partition (lease first) and is judged again there.
   */
  async write(userId: string, request: WriteRequest, claim?: IdempotencyClaim): Promise<WriteOutcome> {
    if (!this.pool.isOpen(userId) && !existsSync(partitionPath(this.dataDir, userId))) {
      try {
        const judged = judgeOnEmptyPartition(request, this.limits, this.limits.maxUserBytes);
        // A write that commits nothing there (a revert of a user with no file) needs no file.
        if (judged.seq === 0) return { result: judged, replayed: false };
      } catch (error) {
        if (error instanceof PinbaseError) error.seq = 0;
        throw error;
      }
    }
    const partition = await this.acquire(userId);
    if (partition === undefined) return this.write(userId, request, claim);
    try {
      return await partition.write(request, claim);
    } finally {
      this.pool.release(partition);
    }
  }

  /** The user's partition; undefined when the user was erased meanwhile (the caller starts over: its file is gone). */
  private async acquire(userId: string): Promise<Partition | undefined> {
    try {
      return await this.pool.acquire(userId);
    } catch (error) {
      if (error instanceof ErasedMeanwhile) return undefined;
      throw error;
    }
  }

  /**
   * Erases the user (GDPR Art. 17): ends its live change streams, then
   * deletes its file, history, idempotency records and lease files (see
   * PartitionPool.erase). A write acknowledged before this resolves is
   * gone with the rest; one still queued is committed first, one arriving
   * meanwhile fails (retryable) or waits and then writes to a new, empty
   * user. Idempotent: erasing a user with no file succeeds.
   */
  erase(userId: string): Promise<void> {
    this.feed.close(userId, 'erased');
    return this.pool.erase(userId);
  }

  /**
   * Creates the user's index `spec` (see IndexBuilder.put): a write, so it
   * creates the user's file if there is none. Resolves once committed.
   */
  async putIndex(userId: string, spec: IndexSpec): Promise<IndexPutOutcome> {
    const partition = await this.pool.acquire(userId);
    try {
      return await partition.indexBuilds.put(spec);
    } finally {
      this.pool.release(partition);
    }
  }

  /** Drops the user's index; index_not_found if there is none (a user with no file has none, and keeps no file). */
  async deleteIndex(userId: string, collection: string, name: string): Promise<void> {
    if (!this.pool.isOpen(userId) && !existsSync(partitionPath(this.dataDir, userId))) throw indexNotFound(collection, name);
    const partition = await this.pool.acquire(userId);
    try {
      await partition.indexBuilds.drop(collection, name);
    } finally {
      this.pool.release(partition);
    }
  }

  /**
   * Follows the user's commits on this worker: `onCommit(seq)` after each
   * durable one, `onClose(reason)` once the user is released or the worker
   * shuts down. Closing an idle, evicted or broken partition ends none.
   * Returns the unsubscribe function.
   */
  subscribe(userId: string, subscriber: CommitSubscriber): () => void {
    return this.feed.subscribe(userId, subscriber);
  }

  /** The users followed by at least one live subscription (their partitions may be open or not). */
  subscribedUsers(): string[] {
    return this.feed.users();
  }

  /** Live subscriptions, all users together. */
  get subscriberCount(): number {
    return this.feed.count;
  }

  /**
   * Hands the user over: ends its subscriptions at once (so their clients
   * reconnect to the new owner), then closes the partition after in-flight
   * requests and releases the lease. Also ends the subscriptions of a user
   * whose partition is not open here.
   */
  release(userId: string): Promise<void> {
    this.feed.close(userId, 'released');
    return this.pool.close(userId, 'released');
  }

  /**
   * Ends every subscription (`onClose('shutdown')`): the first step of a
   * shutdown, since a live stream would keep the HTTP server from closing.
   * close() does it too.
   */
  endSubscriptions(): void {
    this.feed.closeAll('shutdown');
  }

  /** Prunes due partitions now (the background pruner does this on its own). */
  prune(now?: number): Promise<number> {
    return this.pruner.tick(now);
  }

  /** Ends every subscription, stops pruning, closes every partition and releases the leases. */
  async close(): Promise<void> {
    this.endSubscriptions();
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
    list: () => ({ items: [], more: false }),
    query: () => ({ items: [], more: false, index: undefined }),
    history: () => ({ items: [], more: false }),
    changes: () => ({ changes: [] }),
    assertSnapshot: (at) => assertSnapshotWithin(at, 0, 0),
    indexes: () => [],
    index: () => undefined,
  };
}

