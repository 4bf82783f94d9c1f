import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
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

  private constructor(
    readonly file: string,
    readonly record: OwnerRecord,
    private readonly recordText: string,
    private readonly unlock: () => Promise<void>,
  ) {}

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
        const unlock = await lockfile.lock(file, {
          stale: options.timing.staleMs,
          update: options.timing.updateMs,
          realpath: false,
          retries: 0,
          onCompromised: options.onCompromised,
        });
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
        throw new PinbaseError('partition_busy', 'another worker holds this user\'s partition; it is being handed over', {
          retryAfter: 1,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, remaining)));
      delay = Math.min(delay * 2, 200);
    }
  }

  private static recordOwnership(file: string, workerId: string, unlock: () => Promise<void>): PartitionLease {
    try {
      const previous = readOwnerRecord(file);
      const record: OwnerRecord = {
        // A missing record means the first acquisition; an unreadable one is
        // replaced by a time-based epoch, which is larger than any counter.
        epoch: previous === undefined ? (ownerRecordExists(file) ? Date.now() : 1) : previous.epoch + 1,
        worker: workerId,
        nonce: randomBytes(8).toString('hex'),
        pid: process.pid,
        host: hostname(),
        acquiredAt: new Date().toISOString(),
      };
      const text = JSON.stringify(record);
      const temporary = `${ownerRecordPath(file)}.${record.nonce}.tmp`;
      writeFileSync(temporary, text);
      renameSync(temporary, ownerRecordPath(file));
      return new PartitionLease(file, record, text, unlock);
    } catch (error) {
      void unlock().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Throws PinbaseError `partition_lost` unless the owner record on storage is
   * still the one this lease wrote. Called before every commit batch.
   */
  verify(): void {
    let current: string;
    try {
      current = readFileSync(ownerRecordPath(this.file), 'utf8');
    } catch (error) {
      throw new PinbaseError('partition_lost', 'owner record unreadable; not committing', { cause: error });
    }
    if (current !== this.recordText) {
      throw new PinbaseError('partition_lost', 'another worker took over this user\'s partition; not committing');
    }
  }

  /** Releases the lock. Idempotent; never throws (a compromised lock is already gone). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.unlock().catch(() => undefined);
  }
}

export function ownerRecordPath(file: string): string {
  return `${file}.owner`;
}

/** The owner record of `file`, or undefined if there is none or it cannot be parsed. */
export function readOwnerRecord(file: string): OwnerRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(ownerRecordPath(file), 'utf8')) as OwnerRecord;
    return Number.isSafeInteger(parsed.epoch) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function ownerRecordExists(file: string): boolean {
  try {
    readFileSync(ownerRecordPath(file));
    return true;
  } catch {
    return false;
  }
}
