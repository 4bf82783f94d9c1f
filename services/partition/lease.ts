import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import fs, { closeSync, constants, ftruncateSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { PinbaseError } from '../problem/pinbase-error.js';

/**
 * Lease timing. Every process that may open a partition must use the same
 * values: a lease whose lock directory was not refreshed for `staleMs` is
 * taken over by the next acquirer. proper-lockfile enforces staleMs ≥ 2000
 * and updateMs ≥ 1000.
 */
export interface LeaseTiming {
  staleMs: number;
  updateMs: number;
  /** How long an acquirer waits for a held lease before giving up (partition_busy). */
  waitMs: number;
}

export const DEFAULT_LEASE_TIMING: LeaseTiming = { staleMs: 2000, updateMs: 1000, waitMs: 2500 };

/** The owner record beside a partition file: `<file>.owner`. */
export interface OwnerRecord {
  epoch: number;
  worker: string;
  nonce: string;
  pid: number;
  host: string;
  acquiredAt: string;
}

export interface LeaseAcquireOptions {
  workerId: string;
  timing: LeaseTiming;
  /** Ownership was lost (lock compromised): stop writing, close the partition. Never throws. */
  onCompromised: (error: Error) => void;
  /**
   * Called once per acquisition when another process holds the lease, with
   * its last owner record (if readable): the hook may ask that worker to hand
   * the partition over. Errors are ignored.
   */
  onBusy?: (holder: OwnerRecord | undefined) => Promise<void>;
}

/**
 * A held lease on one partition file: a proper-lockfile lock (`<file>.lock`)
 * plus a fencing token. The token is an epoch that grows at each acquisition,
 * stored in the owner record; `verify()` re-reads that record from storage
 * (never from SQLite's cache) and fails if another process has taken over.
 */
export class PartitionLease {
  private released = false;

  private readonly recordBytes: Buffer;

  private constructor(
    readonly file: string,
    readonly record: OwnerRecord,
    recordText: string,
    private readonly unlock: () => Promise<void>,
  ) {
    this.recordBytes = Buffer.from(recordText, 'utf8');
  }

  get epoch(): number {
    return this.record.epoch;
  }

  /**
   * Acquires the lease on `file`, waiting up to timing.waitMs while another
   * process holds it. Throws PinbaseError `partition_busy` (retryable) if it
   * stays held; other errors (e.g. ENOSPC) propagate.
   */
  static async acquire(file: string, options: LeaseAcquireOptions): Promise<PartitionLease> {
    const deadline = Date.now() + options.timing.waitMs;
    let askedHolder = false;
    let delay = 20;
    for (;;) {
      try {
        const unlock = await lockOnce(file, options);
        return PartitionLease.recordOwnership(file, options.workerId, unlock);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      }
      if (!askedHolder && options.onBusy) {
        askedHolder = true;
        await options.onBusy(readOwnerRecord(file)).catch(() => undefined);
        continue;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new PinbaseError('partition_busy', 'another worker holds this user\'s partition; it is being handed over');
      }
      await sleep(Math.min(delay, remaining));
      delay = Math.min(delay * 2, 200);
    }
  }

  private static recordOwnership(file: string, workerId: string, unlock: () => Promise<void>): PartitionLease {
    let fd: number | undefined;
    try {
      fd = openSync(ownerRecordPath(file), constants.O_RDWR | constants.O_CREAT, 0o644);
      const buffer = Buffer.alloc(OWNER_RECORD_BYTES);
      const length = readSync(fd, buffer, 0, OWNER_RECORD_BYTES, 0);
      const previous = parseOwnerRecord(buffer.subarray(0, length).toString('utf8'));
      const record: OwnerRecord = {
        // No record: the first acquisition. An unreadable one (torn, foreign)
        // is replaced by a time-based epoch, larger than any counter.
        epoch: previous === undefined ? (length === 0 ? 1 : Date.now()) : previous.epoch + 1,
        worker: workerId,
        nonce: randomBytes(8).toString('hex'),
        pid: process.pid,
        host: hostname().slice(0, 200),
        acquiredAt: new Date().toISOString(),
      };
      const text = JSON.stringify(record).padEnd(OWNER_RECORD_BYTES, ' ');
      // One write of a fixed-size record in place: a reader sees the old
      // record or the new one (or, torn, neither: then it is not theirs).
      writeSync(fd, text, 0, 'utf8');
      if (length > OWNER_RECORD_BYTES) ftruncateSync(fd, OWNER_RECORD_BYTES);
      const held = heldLocks.get(lockDirectoryPath(file));
      if (held !== undefined) held.recordBytes = Buffer.from(text, 'utf8');
      return new PartitionLease(file, record, text, unlock);
    } catch (error) {
      void unlock().catch(() => undefined);
      throw error;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /**
   * Throws PinbaseError `partition_lost` unless the owner record on storage is
   * still the one this lease wrote. Called before every commit batch: one
   * open, one read, one close (opening is what makes a network file system
   * revalidate the file), compared byte for byte.
   */
  verify(): void {
    let length: number;
    try {
      const fd = openSync(ownerRecordPath(this.file), 'r');
      try {
        length = readSync(fd, verifyBuffer, 0, verifyBuffer.length, 0);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw new PinbaseError('partition_lost', 'owner record unreadable; not committing', { cause: error });
    }
    if (length !== this.recordBytes.length || verifyBuffer.compare(this.recordBytes, 0, length, 0, length) !== 0) {
      throw new PinbaseError('partition_lost', 'another worker took over this user\'s partition; not committing');
    }
  }

  /**
   * Releases the lock. Idempotent; never throws. When another worker has
   * taken the lease over (the owner record is not ours), the lock directory
   * is theirs: refreshing it stops, but it is not removed.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const lockDirectory = lockDirectoryPath(this.file);
    heldLocks.delete(lockDirectory);
    const current = this.isCurrent();
    if (!current) keepOnUnlock.add(lockDirectory);
    try {
      await this.unlock();
    } catch (error) {
      if (current) await removeAbandonedLock(lockDirectory, error);
    } finally {
      keepOnUnlock.delete(lockDirectory);
    }
  }

  /**
   * Ends the lease of an erased partition: deletes the owner record, then
   * releases the lock and removes its directory, leaving nothing of the
   * user beside the file. Throws partition_lost (deleting nothing) unless
   * the owner record is still this lease's. Safe for fencing: a previous
   * holder's verify() compares its own record byte for byte (its nonce
   * included), so it refuses to commit whether it finds no record or the
   * record of a later acquisition (whose epoch restarts at 1).
   */
  async erase(): Promise<void> {
    this.verify();
    rmSync(ownerRecordPath(this.file), { force: true });
    this.released = true;
    const lockDirectory = lockDirectoryPath(this.file);
    heldLocks.delete(lockDirectory);
    try {
      await this.unlock();
    } catch (error) {
      await removeAbandonedLock(lockDirectory, error);
    }
  }

  /** verify() as a boolean. */
  private isCurrent(): boolean {
    try {
      this.verify();
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * After proper-lockfile gave a lock up as compromised (a refresh failed, or
 * found an mtime it could not tell from a takeover's), it forgets the lock
 * and leaves its directory, which then blocks every acquirer for the stale
 * time. The caller has just read its own owner record on storage, so nobody
 * took the lock over: the directory is removed as an unlock would. (Should
 * an acquirer have re-created it between that read and this rmdir, before
 * writing its record, its next refresh finds it gone and gives its lease up;
 * its commits are fenced by the owner record as after any stale takeover.)
 */
async function removeAbandonedLock(lockDirectory: string, unlockError: unknown): Promise<void> {
  // ERELEASED: the unlock of a lock proper-lockfile marked released when it gave it up.
  if ((unlockError as NodeJS.ErrnoException).code !== 'ERELEASED') return;
  await fs.promises.rmdir(lockDirectory).catch(() => undefined);
}

export function ownerRecordPath(file: string): string {
  return `${file}.owner`;
}

/** The owner record of `file`, or undefined if there is none or it cannot be parsed. */
export function readOwnerRecord(file: string): OwnerRecord | undefined {
  try {
    return parseOwnerRecord(readFileSync(ownerRecordPath(file), 'utf8'));
  } catch {
    return undefined;
  }
}

function parseOwnerRecord(text: string): OwnerRecord | undefined {
  try {
    const parsed = JSON.parse(text) as OwnerRecord;
    return Number.isSafeInteger(parsed.epoch) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Owner records are this long (JSON padded with spaces), written in place with one write. */
const OWNER_RECORD_BYTES = 512;
/** Scratch space for verify(): one byte more than a record, so a longer file never compares equal. */
const verifyBuffer = Buffer.alloc(OWNER_RECORD_BYTES + 1);

/**
 * The lock directory proper-lockfile creates for `file` and passes to every
 * call of lockFs: `<file>.lock` beside the resolved path (the lease locks with
 * `realpath: false`).
 */
function lockDirectoryPath(file: string): string {
  return `${resolve(file)}.lock`;
}

/**
 * Lock directories with an acquisition in flight, each with the number of
 * attempts on it (lockOnce adds one before locking, removes it once the lock
 * settled). Kept by path, not as a flag around the lock() call, so it holds
 * however late proper-lockfile makes its calls during an acquisition.
 */
const acquiring = new Map<string, number>();
/** Lock directories that an unlock must leave in place (they belong to a newer holder). */
const keepOnUnlock = new Set<string>();

/** What the refresh of a lock this process holds needs to know (see refreshStats). */
interface HeldLock {
  readonly staleMs: number;
  /** The owner record this process wrote (empty until it is written). */
  recordBytes: Buffer;
  /** The mtime (as proper-lockfile sees it: a Date's milliseconds) this process last gave the lock directory, or found at acquisition. */
  mtimeMs: number;
  /** When that was, by this process's clock. */
  refreshedAt: number;
}
/** The locks this process holds, by lock directory. */
const heldLocks = new Map<string, HeldLock>();
/** The mtime the latest stat of an acquisition in flight found, by lock directory. */
const acquisitionMtimes = new Map<string, number>();

/**
 * A refresh that finds another mtime on its lock directory keeps the lease
 * when nobody else can have taken the lock: its own last refresh is recent
 * (less than stale minus this margin, which covers clock skew between hosts),
 * so the lock never looked stale to anyone, and the owner record on storage
 * is still the one it wrote. The other mtime then comes from a late refresh
 * of a previous holder: one stopped between proper-lockfile's stat ("is the
 * mtime still mine?") and its utimes, which resumed after this process had
 * taken the stale lock over. Without this, the rightful holder would give
 * its lease up and leave its lock behind.
 */
function skewMarginMs(staleMs: number): number {
  return staleMs / 4;
}

/** `stats` of a held lock's directory as its refresh should see them (see skewMarginMs). */
function refreshStats(path: string, stats: fs.Stats): fs.Stats {
  const held = heldLocks.get(path);
  if (held === undefined || stats.mtime.getTime() === held.mtimeMs) return stats;
  if (Date.now() - held.refreshedAt >= held.staleMs - skewMarginMs(held.staleMs)) return stats;
  if (!ownerRecordIs(path.slice(0, -'.lock'.length), held.recordBytes)) return stats;
  // Still ours: let proper-lockfile see its own mtime, so that it sets it again.
  return { mtime: new Date(held.mtimeMs) } as fs.Stats; // all proper-lockfile's refresh reads
}

/** Whether the owner record of `file` on storage is byte for byte `recordBytes`. */
function ownerRecordIs(file: string, recordBytes: Buffer): boolean {
  if (recordBytes.length === 0) return false;
  try {
    const fd = openSync(ownerRecordPath(file), 'r');
    try {
      const length = readSync(fd, verifyBuffer, 0, verifyBuffer.length, 0);
      return length === recordBytes.length && verifyBuffer.compare(recordBytes, 0, length, 0, length) === 0;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * The file system proper-lockfile works through. While a lock directory is
 * being acquired, its mkdir and stat (mtime check) run synchronously, as
 * SQLite's open that follows does: a cold open costs no thread-pool round
 * trips. The refresh every updateMs stays asynchronous, so that a thousand
 * open partitions on a slow shared file system never block the event loop.
 * One object for the whole process: proper-lockfile caches the file system's
 * mtime precision on it, so only the first acquisition probes it (utimes and
 * stat) and the others make one stat.
 */
const lockFs = {
  mkdir: (path: string, callback: (error: Error | null) => void) =>
    acquiring.has(path) ? callSync(() => fs.mkdirSync(path), callback) : fs.mkdir(path, callback),
  stat: (path: string, callback: (error: Error | null, stats?: fs.Stats) => void) =>
    acquiring.has(path)
      ? callSync(() => {
          const stats = fs.statSync(path);
          acquisitionMtimes.set(path, stats.mtime.getTime());
          return stats;
        }, callback)
      : fs.stat(path, (error, stats) => (error ? callback(error) : callSync(() => refreshStats(path, stats), callback))),
  rmdir: (path: string, callback: (error: Error | null) => void) =>
    keepOnUnlock.has(path) ? callback(null) : fs.rmdir(path, callback),
  utimes: (path: string, atime: Date, mtime: Date, callback: (error: Error | null) => void) =>
    fs.utimes(path, atime, mtime, (error) => {
      const held = heldLocks.get(path);
      if (!error && held !== undefined) {
        held.mtimeMs = mtime.getTime();
        held.refreshedAt = Date.now();
      }
      callback(error);
    }),
  realpath: fs.realpath,
};

function callSync<T>(operation: () => T, callback: (error: Error | null, result?: T) => void): void {
  let result: T;
  try {
    result = operation();
  } catch (error) {
    callback(error as Error);
    return;
  }
  callback(null, result);
}

/** One attempt at the lock (no retries: the caller's loop decides). */
function lockOnce(file: string, options: LeaseAcquireOptions): Promise<() => Promise<void>> {
  const lockDirectory = lockDirectoryPath(file);
  acquiring.set(lockDirectory, (acquiring.get(lockDirectory) ?? 0) + 1);
  return lockfile
    .lock(file, {
      stale: options.timing.staleMs,
      update: options.timing.updateMs,
      realpath: false,
      retries: 0,
      fs: lockFs,
      onCompromised: (error) => {
        heldLocks.delete(lockDirectory);
        options.onCompromised(error);
      },
    })
    .then((unlock) => {
      // The mtime proper-lockfile now expects is the one its last stat of the acquisition found.
      const mtimeMs = acquisitionMtimes.get(lockDirectory) ?? Number.NaN;
      heldLocks.set(lockDirectory, { staleMs: options.timing.staleMs, recordBytes: Buffer.alloc(0), mtimeMs, refreshedAt: Date.now() });
      return unlock;
    })
    .finally(() => {
      acquisitionMtimes.delete(lockDirectory);
      const attempts = acquiring.get(lockDirectory)! - 1;
      if (attempts === 0) acquiring.delete(lockDirectory);
      else acquiring.set(lockDirectory, attempts);
    });
}
