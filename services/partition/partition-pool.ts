import { setTimeout as sleep } from 'node:timers/promises';
import { closeSync, fsyncSync, openSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PinbaseError } from '../problem/pinbase-error.js';
import { PartitionLease, type LeaseTiming, type OwnerRecord } from './lease.js';
import { Partition, type PartitionLimits, type PartitionObserver } from './partition.js';
import { FairTurns } from './fair-turns.js';
import { ObjectCache } from './object-cache.js';
import { openPartitionDatabase, type DatabaseOptions } from './partition-database.js';
import { classifyStorageError } from './storage-errors.js';
import { partitionPath } from './user-id.js';
import { WalSync } from './wal-sync.js';

/** The worker's object cache unless configured: 32 MiB. */
export const DEFAULT_OBJECT_CACHE_BYTES = 32 * 1024 * 1024;

/** The lease watchdog checks this fraction of the open partitions per tick, one sweep per lease period. */
const LEASE_CHECK_SLICES = 5;

export type CloseReason = 'idle' | 'evicted' | 'released' | 'erased' | 'broken' | 'shutdown';

/**
 * Thrown by acquire() to a caller that waited for the user's erase: the
 * user's file is gone (or the erase failed and it is still there), so the
 * caller starts over as it would for a user it sees for the first time
 * (a read of a user with no file creates none).
 */
export class ErasedMeanwhile extends Error {
  override name = 'ErasedMeanwhile';
}

/**
 * The files of a user's partition an erase deletes, in that order: the
 * journals first, so that a crash midway never leaves a WAL beside a
 * missing database (SQLite would rebuild pages of the erased user from it
 * into the next file of that name).
 */
const ERASED_SUFFIXES = ['-wal', '-shm', '-journal', ''] as const;

/** What the pool reports, for metrics and logs. Implementations must not throw. */
export interface PoolEvents {
  opened(userId: string, seconds: number): void;
  closed(userId: string, reason: CloseReason): void;
  lease(event: 'acquired' | 'released' | 'busy' | 'lost', userId: string, detail?: string): void;
  batch(size: number, seconds: number): void;
}

export interface PoolOptions {
  dataDir: string;
  workerId: string;
  /** Open partitions at most; least recently used idle ones are closed to make room. */
  maxOpen: number;
  /** A partition unused this long is closed and its lease released. */
  idleCloseMs: number;
  lease: LeaseTiming;
  database: DatabaseOptions;
  limits: PartitionLimits;
  /** Bytes of recently read current versions kept in memory (ObjectCache); 0 keeps none. Default DEFAULT_OBJECT_CACHE_BYTES. */
  objectCacheBytes?: number;
  events: PoolEvents;
  /** Told of every durable commit, after the writes in it were settled (the change feed). Must not throw. */
  onCommit(userId: string, seq: number): void;
  /** Asked when another worker holds a user's lease: may request a handover. */
  requestHandover?: (userId: string, holder: OwnerRecord | undefined) => Promise<void>;
}

interface Entry {
  partition?: Partition;
  opening?: Promise<Partition>;
  closing?: Promise<void>;
}

/**
 * The open partitions of this worker: an LRU of user files, each opened
 * under a lease and closed (lease released) when idle, evicted, handed over,
 * broken or at shutdown. acquire()/release() bracket every request so that
 * a partition is never closed under an in-flight request.
 */
export class PartitionPool {
  private readonly entries = new Map<string, Entry>();
  /** Entries being closed (they stay in `entries` until closed). */
  private closingCount = 0;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly leaseWatchdog: NodeJS.Timeout;
  private leaseCheckCursor = 0;
  private shuttingDown = false;
  /** Users being erased, with the erase: their acquisitions wait for it (then ErasedMeanwhile). */
  private readonly erasing = new Map<string, Promise<void>>();
  private readonly observer: PartitionObserver;
  /** Recently read current versions of every open partition (see ObjectCache). */
  readonly objectCache: ObjectCache;
  /** The event loop's turns, shared fairly between users (see FairTurns): reads and commits alike. */
  readonly turns = new FairTurns();

  constructor(private readonly options: PoolOptions) {
    this.objectCache = new ObjectCache(options.objectCacheBytes ?? DEFAULT_OBJECT_CACHE_BYTES);
    this.idleTimer = setInterval(() => this.closeIdle(), Math.max(250, options.idleCloseMs / 4));
    this.idleTimer.unref();
    this.leaseWatchdog = setInterval(() => this.checkLeases(), options.lease.updateMs / LEASE_CHECK_SLICES);
    this.leaseWatchdog.unref();
    this.observer = {
      onBatch: (partition, size, seconds) => {
        this.turns.charge(partition.userId, seconds * 1000);
        options.events.batch(size, seconds);
      },
      onCommitted: (partition, seq) => options.onCommit(partition.userId, seq),
      onBroken: (partition, reason) => this.markBroken(partition, reason),
    };
  }

  get openCount(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.partition?.state === 'open') count++;
    return count;
  }

  /** Whether the user's partition is open, or being opened, here. */
  isOpen(userId: string): boolean {
    return this.entries.has(userId);
  }

  /** Open partitions, least recently used first. */
  openPartitions(): Partition[] {
    const open: Partition[] = [];
    for (const entry of this.entries.values()) if (entry.partition?.state === 'open') open.push(entry.partition);
    return open;
  }

  /**
   * The user's open partition, opening it (lease first) if needed; the caller
   * must call release() when done. Throws partition_busy when another worker
   * keeps the lease, overloaded when every slot is in use, shutting_down;
   * ErasedMeanwhile after waiting for an erase of the user.
   */
  async acquire(userId: string): Promise<Partition> {
    for (;;) {
      const erasing = this.erasing.get(userId);
      if (erasing) {
        await erasing.catch(() => undefined);
        throw new ErasedMeanwhile(`${userId} was erased meanwhile`);
      }
      const open = this.acquireOpen(userId);
      if (open !== undefined) return open;
      const entry = this.entries.get(userId);
      if (entry?.opening) {
        await entry.opening;
        continue;
      }
      if (entry?.closing) {
        await entry.closing;
        continue;
      }
      if (this.shuttingDown) throw new PinbaseError('shutting_down');
      this.makeRoom();
      const opening: Entry = { opening: this.open(userId) };
      this.entries.set(userId, opening);
      try {
        opening.partition = await opening.opening;
      } catch (error) {
        if (this.entries.get(userId) === opening) this.entries.delete(userId);
        throw error;
      } finally {
        delete opening.opening;
      }
    }
  }

  /**
   * The user's partition if it is open here (the caller must call release()),
   * without a promise: the hot path of every request. Undefined when it is
   * not open, is being opened, closed or erased: acquire() then.
   */
  acquireOpen(userId: string): Partition | undefined {
    const entry = this.entries.get(userId);
    const partition = entry?.partition;
    if (partition?.state !== 'open' || this.erasing.has(userId)) return undefined;
    // Most recently used last (the order makeRoom() evicts in).
    this.entries.delete(userId);
    this.entries.set(userId, entry!);
    partition.refs++;
    return partition;
  }

  release(partition: Partition): void {
    partition.refs--;
    partition.lastUsed = Date.now();
  }

  private async open(userId: string): Promise<Partition> {
    const started = process.hrtime.bigint();
    const file = partitionPath(this.options.dataDir, userId);
    let lost: PinbaseError | undefined;
    let partition: Partition | undefined;
    const acquire = () =>
      PartitionLease.acquire(file, {
        workerId: this.options.workerId,
        timing: this.options.lease,
        onCompromised: (error) => {
          lost = new PinbaseError('partition_lost', `lease lost: ${error.message}`);
          if (partition) this.markBroken(partition, lost);
        },
        onBusy: async (holder) => {
          this.options.events.lease('busy', userId, holder?.worker);
          await this.options.requestHandover?.(userId, holder);
        },
      });
    const lease = await acquire()
      .catch(async (error: unknown) => {
        // The first user of a fan-out directory creates it.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await mkdir(dirname(file), { recursive: true });
        return acquire();
      })
      .catch((error: unknown) => {
        throw classifyStorageError(error).error;
      });
    this.options.events.lease('acquired', userId, `epoch ${lease.epoch}`);
    try {
      const db = await this.openDatabase(file, () => lost);
      const walSync = this.options.database.durability === 'pipelined' ? new WalSync(`${file}-wal`) : undefined;
      partition = new Partition(userId, db, lease, walSync, this.options.limits, this.observer, this.objectCache, this.turns);
    } catch (error) {
      await lease.release();
      this.options.events.lease('released', userId);
      throw classifyStorageError(error).error;
    }
    if (lost) {
      // Lost while opening: close the file (SQLite's lock with it) before saying so.
      await partition.close();
      this.options.events.lease('released', userId);
      throw lost;
    }
    this.options.events.opened(userId, Number(process.hrtime.bigint() - started) / 1e9);
    return partition;
  }

  /**
   * Opens the file, retrying while SQLite's own lock is held by another
   * process, up to the lease wait, and not once the lease is lost.
   */
  private async openDatabase(file: string, lost: () => PinbaseError | undefined) {
    const deadline = Date.now() + this.options.lease.waitMs;
    for (;;) {
      const lostNow = lost();
      if (lostNow) throw lostNow;
      try {
        return openPartitionDatabase(file, this.options.database);
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw error;
        await sleep(50);
      }
    }
  }

  /** Closes least recently used idle partitions until one more fits. */
  private makeRoom(): void {
    if (this.entries.size - this.closingCount < this.options.maxOpen) return;
    for (const [userId, entry] of this.entries) {
      const partition = entry.partition;
      if (partition?.state === 'open' && partition.refs === 0 && !partition.busy) {
        void this.startClose(userId, 'evicted');
        return;
      }
    }
    throw new PinbaseError('overloaded', `all ${this.options.maxOpen} partition slots are in use`);
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.options.idleCloseMs;
    for (const [userId, entry] of this.entries) {
      const partition = entry.partition;
      if (partition?.state === 'open' && partition.refs === 0 && !partition.busy && partition.lastUsed < cutoff) {
        void this.startClose(userId, 'idle');
      }
    }
  }

  /**
   * Closes every open partition whose owner record names another holder now.
   * The check before each commit already refuses to write; this also frees a
   * partition that is only being read, or idle, so that its file (and SQLite's
   * lock on it) goes to the worker that took the lease over.
   */
  private checkLeases(): void {
    // A slice per tick, so that a full sweep takes one lease period without
    // stalling the event loop for all open partitions at once.
    const open = this.openPartitions();
    const slice = Math.ceil(open.length / LEASE_CHECK_SLICES);
    for (let i = 0; i < slice && open.length > 0; i++) {
      const partition = open[(this.leaseCheckCursor + i) % open.length]!;
      try {
        partition.lease.verify();
      } catch (error) {
        this.markBroken(partition, error as PinbaseError);
      }
    }
    this.leaseCheckCursor = open.length === 0 ? 0 : (this.leaseCheckCursor + slice) % open.length;
  }

  private markBroken(partition: Partition, reason: PinbaseError): void {
    if (partition.state === 'broken' || partition.state === 'closed') return;
    partition.state = 'broken';
    this.options.events.lease('lost', partition.userId, reason.detail);
    const entry = this.entries.get(partition.userId);
    if (entry?.partition === partition && !entry.closing) void this.startClose(partition.userId, 'broken');
  }

  /**
   * Closes the user's partition once its in-flight requests have ended and
   * releases the lease. Resolves when done; a no-op if it is not open here.
   */
  close(userId: string, reason: CloseReason): Promise<void> {
    const entry = this.entries.get(userId);
    if (!entry) return Promise.resolve();
    if (entry.closing) return entry.closing;
    if (entry.opening) return entry.opening.then(() => this.close(userId, reason), () => undefined);
    return this.startClose(userId, reason);
  }

  private startClose(userId: string, reason: CloseReason): Promise<void> {
    const entry = this.entries.get(userId)!;
    const partition = entry.partition!;
    if (partition.state === 'open') partition.state = 'closing';
    this.closingCount++;
    entry.closing = (async () => {
      try {
        while (partition.refs > 0) await sleep(5);
        await partition.close();
        this.options.events.lease('released', userId);
        this.options.events.closed(userId, reason);
      } finally {
        this.closingCount--;
        if (this.entries.get(userId) === entry) this.entries.delete(userId);
      }
    })();
    return entry.closing;
  }

  /**
   * Erases the user: its SQLite file with its WAL, -shm and -journal (and so
   * its history and idempotency records), its owner record and lock. From
   * the call on, new acquisitions of the user wait for the erase to end; the
   * partition, if open here, is closed once its in-flight requests have
   * ended, its queued writes committed first (they complete before the
   * erase; a write that arrives at a closing partition fails with the
   * retryable partition_lost). Then the lease is taken (so no other worker
   * has the file open: partition_busy like any write if one keeps it) and
   * the files are deleted under it, and the directory synced. Idempotent:
   * a user with no file is erased at once; concurrent erases share one.
   */
  erase(userId: string): Promise<void> {
    if (this.shuttingDown) return Promise.reject(new PinbaseError('shutting_down'));
    let erasing = this.erasing.get(userId);
    if (!erasing) {
      erasing = this.eraseFiles(userId).finally(() => this.erasing.delete(userId));
      this.erasing.set(userId, erasing);
    }
    return erasing;
  }

  private async eraseFiles(userId: string): Promise<void> {
    await this.close(userId, 'erased');
    const file = partitionPath(this.options.dataDir, userId);
    let lease: PartitionLease;
    try {
      lease = await PartitionLease.acquire(file, {
        workerId: this.options.workerId,
        timing: this.options.lease,
        // The files are deleted right after the lease is taken, synchronously, checked by verify() first.
        onCompromised: () => undefined,
        onBusy: async (holder) => {
          this.options.events.lease('busy', userId, holder?.worker);
          await this.options.requestHandover?.(userId, holder);
        },
      });
    } catch (error) {
      // No fan-out directory: the user never had a file.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw classifyStorageError(error).error;
    }
    try {
      lease.verify();
      for (const suffix of ERASED_SUFFIXES) rmSync(`${file}${suffix}`, { force: true });
      syncDirectory(dirname(file));
      await lease.erase();
    } catch (error) {
      await lease.release();
      throw error instanceof PinbaseError ? error : classifyStorageError(error).error;
    }
    this.options.events.lease('released', userId, 'erased');
  }

  /** Stops opening partitions and closes every open one (graceful shutdown). */
  async closeAll(): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.idleTimer);
    clearInterval(this.leaseWatchdog);
    const pending: Promise<void>[] = [];
    for (const userId of [...this.entries.keys()]) pending.push(this.close(userId, 'shutdown'));
    await Promise.all(pending);
  }
}

/** Makes the deletions in `directory` durable (a crash must not bring an erased user's file back). */
function syncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
