/**
 * The lock `pinbase up` holds on its data directory for as long as its
 * cluster runs: one cluster per data dir. Without it, a second `pinbase up`
 * on the same dir rewrote topology.json, and the first cluster's router
 * followed it to the second cluster's workers.
 *
 * The lock is the one the product already uses for partitions
 * (proper-lockfile: a directory, `<data>/up.lock`, whose mtime is refreshed
 * every few seconds), with a record beside it (`<data>/up.json`) that names
 * the holder, so that the refusal can say which cluster runs there. A lock
 * left by a process that no longer exists (a `pinbase up` killed with
 * SIGKILL) is taken over at once rather than after its stale time.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { CliError } from './command.js';

/** Who runs the cluster on a data dir (the record beside the lock). */
export interface DataDirHolder {
  pid: number;
  routerUrl: string;
  startedAt: string;
}

export interface DataDirLock {
  /** Releases the lock and removes the record. Idempotent; never throws. */
  release(): Promise<void>;
}

/** Refreshed every 2 s, taken over by the next `pinbase up` after 10 s without a refresh. */
const TIMING = { stale: 10_000, update: 2_000 };

export function dataDirLockPath(dataDir: string): string {
  return join(dataDir, 'up.lock');
}

function holderPath(dataDir: string): string {
  return join(dataDir, 'up.json');
}

/**
 * Locks `dataDir` (which must exist) for this process, or throws a CliError
 * naming the cluster that holds it. `onLost` is called if the lock is taken
 * away while held (this process was stopped for longer than the stale time
 * and another `pinbase up` took the dir over): the caller should stop.
 */
export async function lockDataDir(dataDir: string, routerUrl: string, onLost: (error: Error) => void): Promise<DataDirLock> {
  const lockPath = dataDirLockPath(dataDir);
  const attempt = () => lockfile.lock(dataDir, { lockfilePath: lockPath, realpath: false, retries: 0, ...TIMING, onCompromised: onLost });
  let unlock: () => Promise<void>;
  try {
    unlock = await attempt();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    const holder = readHolder(dataDir);
    if (holder === undefined || isAlive(holder.pid)) throw new CliError(inUseMessage(dataDir, holder));
    // Left by a process that is gone: take it over now.
    rmSync(lockPath, { recursive: true, force: true });
    try {
      unlock = await attempt();
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'ELOCKED') throw again;
      throw new CliError(inUseMessage(dataDir, readHolder(dataDir)));
    }
  }
  const holder: DataDirHolder = { pid: process.pid, routerUrl, startedAt: new Date().toISOString() };
  writeFileSync(holderPath(dataDir), `${JSON.stringify(holder)}\n`);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      rmSync(holderPath(dataDir), { force: true });
      await unlock().catch(() => undefined);
    },
  };
}

function inUseMessage(dataDir: string, holder: DataDirHolder | undefined): string {
  const who =
    holder === undefined
      ? 'another `pinbase up` (its record is not readable yet)'
      : `the cluster of \`pinbase up\` pid ${holder.pid} (router ${holder.routerUrl}, started ${holder.startedAt})`;
  return `${dataDir} is in use by ${who}; stop it first, or give this cluster another --data`;
}

function readHolder(dataDir: string): DataDirHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(holderPath(dataDir), 'utf8')) as DataDirHolder;
    return Number.isSafeInteger(parsed.pid) && parsed.pid > 0 ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
