import type { Database } from 'better-sqlite3';
import { PinbaseError } from '../problem/pinbase-error.js';
import { IndexBuilder } from '../query/index-builder.js';
import { findIndex, hasUniqueIndex, listIndexes, uniqueViolationOf, type IndexEntry } from '../query/index-catalog.js';
import type { PartitionLease } from './lease.js';
import {
  listObjects,
  objectHistory,
  readChanges,
  readObject,
  type ChangesPage,
  type ChangesPosition,
  type ListedObject,
  type Page,
  type StoredVersion,
} from './object-reads.js';
import { runQuery, type QueryPage } from '../query/run-query.js';
import type { Keyset } from '../query/query-sql.js';
import type { QuerySpec } from '../query/query-spec.js';
import { applyWrite, assertQuota, assertSnapshotWithin, type WriteContext, type WriteLimits } from './object-writes.js';
import { ROUND_MS, type FairTurns } from './fair-turns.js';
import type { ObjectCache } from './object-cache.js';
import { Statements } from './statements.js';
import { SnapshotPins } from './snapshot-pins.js';
import { StoredObjects } from './stored-objects.js';
import { classifyStorageError } from './storage-errors.js';
import type { WalSync } from './wal-sync.js';
import type { IdempotencyClaim, WriteOutcome, WriteRequest, WriteResult } from './write-request.js';

export interface PartitionLimits extends WriteLimits {
  /**
   * Largest a user's data may grow, bytes (0: no quota): the database pages
   * in use, (page_count − freelist_count) × page_size, as this connection
   * sees them (the batch's own writes and the commits still in the WAL
   * included). A write that would add documents beyond it gets 507
   * quota_exceeded; deletes always pass. The WAL file is not added: it holds
   * copies of pages already counted, and its size does not depend on the
   * user's data (SQLite checkpoints it at 1000 pages, 2 MiB, reuses it from
   * the start after that, and deletes it on close; a larger batch, up to
   * MAX_BATCH_WRITES documents, grows it once).
   */
  maxUserBytes: number;
  /** Characters of document bodies a listing, history or change-feed page stops at (at least one item). */
  maxPageBytes: number;
  /** Writes waiting for the next batch, beyond which new ones get 503 overloaded. */
  maxPendingWrites: number;
  /**
   * How long a batch waits after its first write for others to join, in ms
   * (PostgreSQL's commit_delay): 0 flushes on the next turn of the event
   * loop; more trades each write's latency for fewer, larger commits.
   */
  commitDelayMs: number;
}

/** What a partition tells its owner (the pool) about. Implementations must not throw. */
export interface PartitionObserver {
  onBatch(partition: Partition, size: number, seconds: number): void;
  onCommitted(partition: Partition, seq: number): void;
  /** The partition can no longer be written (fenced, or storage in doubt): close it. */
  onBroken(partition: Partition, reason: PinbaseError): void;
}

/** What a job of a batch runs with: the write context, and the connection (maintenance, idempotency records). */
export interface BatchContext extends WriteContext {
  readonly sql: Statements;
}

interface Job<T> {
  run(ctx: BatchContext): T;
  /**
   * Run in a savepoint of its own: needed when the job may fail after it has
   * written (maintenance). A write request checks everything before it
   * writes (applyWrite: a transaction works on copies and appends only once
   * all its ops passed), so it runs without one, unless the partition has a
   * unique index (see commitBatch).
   */
  savepoint: boolean;
  resolve(value: T): void;
  reject(error: unknown): void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Most writes one SQLite transaction takes. A larger burst is committed as
 * several transactions back to back, so that the fsync of one runs on the
 * thread pool while the next is being written, instead of every writer
 * waiting on one long commit and then one fsync: with 64 writers on one
 * partition this measured ~20% more durable throughput than one batch.
 */
export const MAX_BATCH_WRITES = 32;

/**
 * A batch that held the event loop at least this long checks the lease
 * again before it commits: the check before the batch vouches only for a
 * short one (a lease can be lost silently while the event loop is blocked,
 * DESIGN.md invariant 1, and a large revert holds it for seconds). Far
 * below the shortest stale time proper-lockfile allows (2 s).
 */
export const RECHECK_LEASE_AFTER_MS = 200;

/**
 * One open user file. Reads run synchronously on the connection; writes go
 * through the group-commit queue: every write that arrives before the queue
 * is flushed (the next turn of the event loop, or --commit-delay) joins one
 * SQLite transaction, and one failing changes nothing for its neighbours
 * (see commitBatch). Before each batch the lease is verified against storage.
 */
export class Partition {
  readonly sql: Statements;
  /** Writes' access to the objects (and the index generation new versions get). */
  readonly objects: StoredObjects;
  /** Creates, drops and builds this partition's secondary indexes (in the background, between writes). */
  readonly indexBuilds: IndexBuilder;
  private readonly pageSize: number;
  /** Seq of the last commit. */
  seq: number;
  prunedThrough: number;
  state: 'open' | 'closing' | 'closed' | 'broken' = 'open';
  /** Snapshots running exports hold (the pruner keeps what they need). */
  readonly pins = new SnapshotPins();
  /** In-flight requests using this partition (the pool will not close it meanwhile). */
  refs = 0;
  readonly openedAt = Date.now();
  lastUsed = this.openedAt;
  private pending: Job<unknown>[] = [];
  private flushScheduled = false;
  private epochRecorded = false;
  /** Batches committed since open: what WalSync counts durability in. */
  private batchesCommitted = 0;
  /**
   * better-sqlite3 prepares its transaction statements on a connection's first
   * db.transaction(): these are made at the first write, not at every open
   * (most opens of a partition may only read).
   */
  private savepointRunner: ((job: Job<unknown>, ctx: BatchContext) => unknown) | undefined;
  /**
   * Whether the partition has a unique index (see commitBatch): read from the
   * catalog once, again after every maintenance job (the only jobs that change
   * it) and after a batch that was rolled back.
   */
  private uniqueIndexed: boolean | undefined;
  /** This partition's key space in the worker's ObjectCache: a new one before every commit (see ObjectCache). */
  private cacheGeneration: number;
  private batchRunner: ((batch: Job<unknown>[], now: number, settled: Settled[]) => void) | undefined;

  constructor(
    readonly userId: string,
    readonly db: Database,
    readonly lease: PartitionLease,
    private readonly walSync: WalSync | undefined,
    private readonly limits: PartitionLimits,
    private readonly observer: PartitionObserver,
    private readonly objectCache?: ObjectCache,
    private readonly turns?: FairTurns,
  ) {
    this.cacheGeneration = objectCache?.generation() ?? 0;
    this.sql = new Statements(db);
    this.objects = new StoredObjects(this.sql);
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
    const state = db
      .prepare(
        "SELECT (SELECT rev FROM versions ORDER BY vid DESC LIMIT 1) AS seq, (SELECT value FROM meta WHERE key = 'pruned_through') AS pruned," +
          " (SELECT value FROM meta WHERE key = 'imported_seq') AS imported",
      )
      .get() as { seq: number | null; pruned: number; imported: number | null };
    // An import keeps its export's seq even when the last commit left no version there (services/portability).
    this.seq = Math.max(state.seq ?? 0, Number(state.imported ?? 0));
    this.prunedThrough = Number(state.pruned);
    this.indexBuilds = new IndexBuilder(this);
    // A build the previous owner of the file did not finish goes on here.
    this.indexBuilds.resume(this.sql);
  }

  private runInSavepoint(job: Job<unknown>, ctx: BatchContext): unknown {
    this.savepointRunner ??= this.db.transaction((j: Job<unknown>, c: BatchContext) => j.run(c));
    return this.savepointRunner(job, ctx);
  }

  /**
   * The version of an object at snapshot `at` (latest if undefined); see
   * readObject. The latest comes from the worker's ObjectCache when kept there.
   */
  object(collection: string, id: string, at?: number): StoredVersion | undefined {
    if (at !== undefined || this.objectCache === undefined) return readObject(this.sql, collection, id, at);
    const cached = this.objectCache.get(this.cacheGeneration, collection, id);
    if (cached !== undefined) return cached;
    const version = readObject(this.sql, collection, id);
    if (version !== undefined) this.objectCache.set(this.cacheGeneration, collection, id, Object.freeze(version));
    return version;
  }

  /** A page of live objects in id order after `after` (see listObjects), of at most `limit` and maxPageBytes. */
  list(collection: string, options: { after: string; limit: number; at?: number | undefined }): Page<ListedObject> {
    return listObjects(this.sql, collection, { ...options, maxBytes: this.limits.maxPageBytes });
  }

  /** The user's secondary indexes, with their state. */
  indexes(): IndexEntry[] {
    return listIndexes(this.sql);
  }

  /** One index, or undefined. */
  index(collection: string, name: string): IndexEntry | undefined {
    return findIndex(this.sql, collection, name);
  }

  /**
   * A page of the query `spec` on `collection` (see run-query.ts: SQL on the
   * current heads, JavaScript on snapshot `at`), after `after`, of at most
   * `limit` objects and maxPageBytes; it examines a bounded number of rows.
   */
  query(collection: string, spec: QuerySpec, options: { after?: Keyset | undefined; limit: number; at?: number | undefined }): QueryPage {
    return runQuery(this.sql, collection, spec, { ...options, maxBytes: this.limits.maxPageBytes });
  }

  /** A page of an object's versions, newest first (see objectHistory), of at most `limit` and maxPageBytes. */
  history(collection: string, id: string, options: { before?: number | undefined; limit: number }): Page<StoredVersion> {
    return objectHistory(this.sql, collection, id, { ...options, maxBytes: this.limits.maxPageBytes });
  }

  /**
   * Whole commits after `from` (see readChanges: a commit beyond COMMIT_PART
   * comes in parts), of at most `limit` changes and `maxBytes` of bodies
   * (maxPageBytes by default, never more).
   */
  changes(from: ChangesPosition, limit: number, includeBodies: boolean, maxBytes = this.limits.maxPageBytes): ChangesPage {
    return readChanges(this.sql, from, includeBodies, { limit, maxBytes: Math.min(maxBytes, this.limits.maxPageBytes) });
  }

  /**
   * Throws unless snapshot `at` can be served: snapshot_in_future beyond the
   * last commit, snapshot_pruned before the retention horizon.
   */
  assertSnapshot(at: number): void {
    assertSnapshotWithin(at, this.seq, this.prunedThrough);
  }

  /**
   * When reads must wait before they may look (a commit is written but not yet
   * durable), the promise to wait for; otherwise undefined. Reads never see a
   * commit that a crash could still take back.
   */
  whenReadable(): Promise<void> | undefined {
    return this.walSync && !this.walSync.isDurable ? this.walSync.whenDurable() : undefined;
  }

  /**
   * Applies `request` in the next group commit. With `claim`, a repeat of the
   * same key returns the stored result without applying anything, and the
   * same key with another request fails with idempotency_key_reused.
   * Resolves once the commit is durable.
   */
  write(request: WriteRequest, claim: IdempotencyClaim | undefined): Promise<WriteOutcome> {
    return this.enqueue(false, (ctx) => {
      if (claim) {
        const stored = this.sql
          .get('SELECT request_hash, result FROM idempotency WHERE key = ?')
          .get(claim.key) as { request_hash: string; result: string } | undefined;
        if (stored) {
          if (stored.request_hash !== claim.requestHash) {
            throw new PinbaseError('idempotency_key_reused', 'this Idempotency-Key was used for a different request');
          }
          return { result: JSON.parse(stored.result) as WriteResult, replayed: true };
        }
      }
      const result = applyWrite(ctx, request);
      if (claim) {
        this.sql
          .get('INSERT INTO idempotency (key, request_hash, result, seq, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(claim.key, claim.requestHash, JSON.stringify(result), result.seq, ctx.now);
      }
      return { result, replayed: false };
    });
  }

  /** Runs `task` as a write of its own in the next batch, without a seq (pruning, maintenance). */
  maintain<T>(task: (sql: Statements, now: number) => T): Promise<T> {
    return this.enqueue(true, (ctx) => task(ctx.sql, ctx.now));
  }

  private enqueue<T>(savepoint: boolean, run: (ctx: BatchContext) => T): Promise<T> {
    if (this.state !== 'open') return Promise.reject(notWritable(this.state));
    if (this.pending.length >= this.limits.maxPendingWrites) {
      return Promise.reject(new PinbaseError('overloaded', 'too many writes queued for this user'));
    }
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, savepoint, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        if (this.limits.commitDelayMs > 0) setTimeout(() => this.flush(), this.limits.commitDelayMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  /** True while writes are queued or being committed. */
  get busy(): boolean {
    return this.flushScheduled || this.pending.length > 0;
  }

  /**
   * Commits what is queued, a batch at a time. Once this user has spent its
   * round of the event loop (FairTurns: a burst of large transactions or
   * reverts, or its reads), the rest waits for a later round, so that other
   * users' requests run in between.
   */
  private flush(): void {
    this.flushScheduled = false;
    while (this.pending.length > 0) {
      if (this.turns?.mustWait(this.userId)) {
        this.flushScheduled = true;
        this.turns.later(this.userId, () => this.flush());
        return;
      }
      this.commitNext(this.pending.splice(0, MAX_BATCH_WRITES));
    }
  }

  /** Commits one batch, then settles its writes once the commit is durable. */
  private commitNext(batch: Job<unknown>[]): void {
    if (this.state === 'broken' || this.state === 'closed') return rejectAll(batch, notWritable(this.state));
    try {
      this.lease.verify();
    } catch (error) {
      rejectAll(batch, error);
      this.observer.onBroken(this, error as PinbaseError);
      return;
    }
    // Whatever the batch does (writes, an import, a prune), the objects read before it are no longer looked up.
    if (this.objectCache !== undefined) this.cacheGeneration = this.objectCache.generation();
    const started = process.hrtime.bigint();
    const startSeq = this.seq;
    let settled: Settled[];
    try {
      settled = this.commitBatch(batch);
    } catch (error) {
      this.seq = startSeq;
      // The batch was rolled back: a maintenance job in it may have changed the index catalog it read.
      this.uniqueIndexed = undefined;
      const classified = classifyStorageError(error);
      rejectAll(batch, classified.error);
      if (classified.fatal || classified.error.code === 'partition_lost') this.observer.onBroken(this, classified.error);
      return;
    }
    // Jobs the batch left for a later round (see applyBatch) go back to the front of the queue.
    if (settled.length < batch.length) this.pending.unshift(...batch.splice(settled.length));
    this.epochRecorded = true;
    this.observer.onBatch(this, batch.length, Number(process.hrtime.bigint() - started) / 1e9);
    const committed = this.seq > startSeq ? this.seq : 0;
    // Counted by batch, not by seq: a maintenance job writes without a seq, and an import may move seq back.
    const wrote = this.seq !== startSeq || batch.some((job, i) => job.savepoint && settled[i]!.ok);
    const durable = this.walSync?.commit(wrote ? ++this.batchesCommitted : this.batchesCommitted);
    if (durable === undefined) return this.settle(batch, settled, committed);
    durable.then(
      () => this.settle(batch, settled, committed),
      (error: unknown) => {
        // The commit is in the WAL but its fsync failed (ENOSPC included):
        // whether it survives is unknown, so never "nothing was written".
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        const failure = new PinbaseError('io_error', `the WAL fsync failed (${code}); the outcome is unknown`, { cause: error });
        rejectAll(batch, failure);
        this.observer.onBroken(this, failure);
      },
    );
  }

  /**
   * One SQLite transaction for the whole batch. A job that fails with a
   * PinbaseError changes nothing (savepoint, or nothing written yet); any
   * other error aborts the whole batch.
   *
   * While the partition has a unique index, every job runs in a savepoint:
   * a write learns that it breaks one only from the INSERT of a version
   * (SQLITE_CONSTRAINT_UNIQUE), possibly after other versions of its
   * transaction were appended; the savepoint takes them back and the error
   * becomes unique_violation, a PinbaseError, so its neighbours in the batch
   * commit. Whether there is one is kept (uniqueIndexed): read from the
   * catalog after each maintenance job (the only jobs that change it).
   */
  private commitBatch(batch: Job<unknown>[]): Settled[] {
    const settled: Settled[] = [];
    this.batchRunner ??= this.db.transaction((jobs: Job<unknown>[], now: number, out: Settled[]) => this.applyBatch(jobs, now, out));
    this.batchRunner(batch, Date.now(), settled);
    return settled;
  }

  private applyBatch(batch: Job<unknown>[], now: number, settled: Settled[]): void {
    const started = performance.now();
    if (!this.epochRecorded) {
      this.sql
        .get("INSERT OR REPLACE INTO meta (key, value) VALUES ('owner_epoch', ?), ('owner_worker', ?)")
        .run(this.lease.epoch, this.lease.record.worker);
    }
    const assertRoom = (bytes: number) => {
      // The pages of the file bound the pages in use from above: when they leave room, the free list need not be read.
      if (this.limits.maxUserBytes === 0 || this.allocatedBytes() + bytes <= this.limits.maxUserBytes) return;
      assertQuota(this.usedBytes(), bytes, this.limits.maxUserBytes);
    };
    let guardUnique = (this.uniqueIndexed ??= hasUniqueIndex(this.sql));
    for (const job of batch) {
      // A batch of large writes (transactions of 1000 ops, reverts) ends once it has held the event
      // loop for a round (FairTurns): the rest goes back to the queue, for a later round.
      if (settled.length > 0 && performance.now() - started >= ROUND_MS) break;
      const jobStartSeq = this.seq;
      const ctx: BatchContext = {
        sql: this.sql,
        objects: this.objects,
        now,
        limits: this.limits,
        lastSeq: jobStartSeq,
        assertSnapshot: (at) => assertSnapshotWithin(at, jobStartSeq, this.prunedThrough),
        commitSeq: () => (this.seq === jobStartSeq ? ++this.seq : this.seq),
        assertRoom,
      };
      const savepoint = job.savepoint || guardUnique;
      try {
        settled.push({ ok: true, value: savepoint ? this.runInSavepoint(job, ctx) : job.run(ctx) });
      } catch (thrown) {
        this.seq = jobStartSeq;
        const error = thrown instanceof PinbaseError ? thrown : savepoint ? uniqueViolationOf(thrown) : undefined;
        if (error === undefined) throw thrown;
        error.seq = jobStartSeq;
        settled.push({ ok: false, error });
      }
      if (job.savepoint) guardUnique = this.uniqueIndexed = hasUniqueIndex(this.sql);
    }
    // Throwing here rolls the whole batch back; the partition is then closed as lost.
    if (performance.now() - started >= RECHECK_LEASE_AFTER_MS) this.lease.verify();
  }

  /**
   * Bytes the user's data takes now, as the quota counts it (see
   * PartitionLimits.maxUserBytes): two PRAGMA reads of the database header,
   * the batch's own writes included.
   */
  private usedBytes(): number {
    const free = this.sql.get('PRAGMA freelist_count').pluck().get() as number;
    return this.allocatedBytes() - free * this.pageSize;
  }

  /** Bytes of every page of the database, free ones included (≥ usedBytes()). */
  private allocatedBytes(): number {
    return (this.sql.get('PRAGMA page_count').pluck().get() as number) * this.pageSize;
  }

  private settle(batch: Job<unknown>[], settled: Settled[], committedSeq: number): void {
    batch.forEach((job, i) => {
      const outcome = settled[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
    if (committedSeq > 0) this.observer.onCommitted(this, committedSeq);
  }

  /** Resolves when no write is queued or in a batch (used before closing). */
  async drainWrites(): Promise<void> {
    while (this.busy) await new Promise((resolve) => setImmediate(resolve));
    await this.walSync?.whenDurable().catch(() => undefined);
  }

  /**
   * Closes the connection and releases the lease. The caller has stopped new
   * requests and waited for in-flight ones (refs === 0). Idempotent.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.state = 'closing';
    await this.drainWrites();
    await this.walSync?.close();
    // Also for a broken partition: SQLite's exclusive lock, held until here,
    // means no other process has had the file open, so letting SQLite
    // checkpoint on close cannot overwrite another owner's commits.
    try {
      this.db.close();
    } catch {
      // The file is released below whatever close reported.
    }
    this.state = 'closed';
    await this.lease.release();
  }
}


function notWritable(state: Partition['state']): PinbaseError {
  return state === 'broken'
    ? new PinbaseError('partition_lost', 'this worker no longer owns the partition; retry')
    : new PinbaseError('partition_lost', 'partition is being handed over; retry');
}

function rejectAll(batch: Job<unknown>[], error: unknown): void {
  for (const job of batch) job.reject(error);
}
