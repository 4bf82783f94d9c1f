import { closeSync, fdatasync, openSync } from 'node:fs';

/**
 * Makes WAL commits durable off the event loop. SQLite commits with
 * synchronous=NORMAL (its commit writes the WAL but does not fsync it); this
 * class then fdatasyncs the WAL file on libuv's thread pool and resolves the
 * commit's waiters only after that returned. fsync flushes the file's inode,
 * whichever descriptor it is called on, so syncing our own descriptor of the
 * WAL covers the frames SQLite wrote through its own.
 *
 * Syncs of one partition are coalesced: while one fdatasync runs, later
 * commits queue; one more fdatasync then covers all of them. Syncs of
 * different partitions run in parallel on the thread pool.
 */
export class WalSync {
  private fd: number | undefined;
  private committedSeq = 0;
  private durableSeq = 0;
  private syncing = false;
  private waiters: { seq: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  private failure: Error | undefined;

  /** `walPath`: the WAL of a just-opened database, whose earlier commits are durable. */
  constructor(private readonly walPath: string) {}

  /** True when every commit so far is durable (no wait needed). */
  get isDurable(): boolean {
    return this.durableSeq >= this.committedSeq;
  }

  /**
   * Resolves once commit `seq` (just written to the WAL) is on stable
   * storage. Rejects if an fdatasync fails: the commit's durability is then
   * unknown, and every later call rejects too (the partition must be closed
   * and reopened from what is on disk).
   */
  commit(seq: number): Promise<void> {
    this.committedSeq = Math.max(this.committedSeq, seq);
    return this.waitFor(seq);
  }

  /** Resolves once everything committed so far is durable. */
  whenDurable(): Promise<void> {
    return this.waitFor(this.committedSeq);
  }

  private waitFor(seq: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (seq <= this.durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
      if (!this.syncing) this.startSync();
    });
  }

  private startSync(): void {
    const target = this.committedSeq;
    let fd: number;
    try {
      fd = this.fd ??= openSync(this.walPath, 'r+');
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    this.syncing = true;
    fdatasync(fd, (error) => {
      this.syncing = false;
      if (error) {
        this.fail(error);
        return;
      }
      this.durableSeq = Math.max(this.durableSeq, target);
      const pending = this.waiters;
      this.waiters = [];
      for (const waiter of pending) {
        if (waiter.seq <= this.durableSeq) waiter.resolve();
        else this.waiters.push(waiter);
      }
      if (this.waiters.length > 0) this.startSync();
    });
  }

  private fail(error: Error): void {
    this.failure = error;
    const pending = this.waiters;
    this.waiters = [];
    for (const waiter of pending) waiter.reject(error);
  }

  /** Closes the descriptor once no sync is running. Call before SQLite closes the WAL. */
  async close(): Promise<void> {
    if (this.syncing || this.waiters.length > 0) await this.whenDurable().catch(() => undefined);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
