/**
 * Check 3 of the chaos test, on the shared data directory:
 * - leases while the cluster is idle: every lock directory (`<file>.lock`)
 *   belongs, by its owner record (`<file>.owner`), to a live worker process
 *   of the same id that keeps refreshing it, or is stale (not refreshed for
 *   the stale time, so any worker takes it over) and belongs to a dead one:
 *   proper-lockfile removes a crashed holder's lock only when the next
 *   acquirer comes. A fresh lock whose holder is dead is a lease held by a
 *   dead process: a problem.
 * - after a graceful stop: no lock directory is left (every lease released);
 * - PRAGMA integrity_check is "ok" on every user file.
 */
import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every `*.sqlite` file under the data directory's fan-out folders. */
export function partitionFiles(dataDir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(dataDir, entry.name);
    for (const name of readdirSync(dir)) if (name.endsWith('.sqlite')) files.push(join(dir, name));
  }
  return files.sort();
}

export interface LeaseReport {
  ok: boolean;
  /** Lock directories found. */
  locks: number;
  heldByLive: number;
  /** Stale locks of processes that died (harmless: free to take). */
  staleOfDead: number;
  problems: string[];
}

/**
 * Checks every lock directory against `livePids` (pid -> worker id of the
 * worker processes alive now). `staleMs` is the lease's stale time.
 */
export function checkLeases(dataDir: string, livePids: ReadonlyMap<number, string>, staleMs: number): LeaseReport {
  const report: LeaseReport = { ok: false, locks: 0, heldByLive: 0, staleOfDead: 0, problems: [] };
  for (const file of partitionFiles(dataDir)) {
    let refreshedAt: number;
    try {
      refreshedAt = statSync(`${file}.lock`).mtimeMs;
    } catch {
      continue; // no lock: not held
    }
    report.locks++;
    const age = Date.now() - refreshedAt;
    const owner = readOwner(file);
    const name = file.slice(dataDir.length + 1);
    if (!owner) {
      report.problems.push(`${name}: locked (refreshed ${Math.round(age)} ms ago) without a readable owner record`);
      continue;
    }
    const liveWorker = livePids.get(owner.pid);
    if (liveWorker !== undefined) {
      if (liveWorker !== owner.worker) {
        report.problems.push(`${name}: owner record names worker ${owner.worker}, but pid ${owner.pid} is worker ${liveWorker}`);
      } else if (age > staleMs) {
        report.problems.push(`${name}: worker ${owner.worker} (pid ${owner.pid}) holds the lease but stopped refreshing it ${Math.round(age)} ms ago`);
      } else {
        report.heldByLive++;
      }
    } else if (isAlive(owner.pid)) {
      report.problems.push(`${name}: held by pid ${owner.pid}, which is alive but not a worker of this cluster`);
    } else if (age >= staleMs) {
      report.staleOfDead++;
    } else {
      report.problems.push(
        `${name}: lease held by dead pid ${owner.pid} (worker ${owner.worker}, epoch ${owner.epoch}), refreshed ${Math.round(age)} ms ago`,
      );
    }
  }
  report.ok = report.problems.length === 0;
  return report;
}

/** The lock directories left in the data directory (after a graceful stop there must be none). */
export function leftoverLocks(dataDir: string): string[] {
  return partitionFiles(dataDir)
    .filter((file) => existsSync(`${file}.lock`))
    .map((file) => `${file.slice(dataDir.length + 1)}.lock (owner ${JSON.stringify(readOwner(file))})`);
}

export interface IntegrityReport {
  ok: boolean;
  files: number;
  /** Files that still had a WAL beside them when the check began (not checkpointed at close). */
  withWal: number;
  problems: string[];
}

/** PRAGMA integrity_check on every user file, opened read-only (run with no worker running). */
export function checkIntegrity(dataDir: string): IntegrityReport {
  const report: IntegrityReport = { ok: false, files: 0, withWal: 0, problems: [] };
  for (const file of partitionFiles(dataDir)) {
    report.files++;
    if (existsSync(`${file}-wal`)) report.withWal++;
    let db: Database.Database | undefined;
    try {
      // Read-only in normal locking mode (SQLite creates the -shm it needs;
      // no worker runs any more). Exclusive mode cannot read a WAL file
      // read-only.
      db = new Database(file, { readonly: true, fileMustExist: true });
      const rows = db.pragma('integrity_check') as { integrity_check: string }[];
      const result = rows.map((row) => row.integrity_check);
      if (result.join() !== 'ok') report.problems.push(`${file.slice(dataDir.length + 1)}: ${result.join('; ')}`);
    } catch (error) {
      report.problems.push(`${file.slice(dataDir.length + 1)}: cannot check: ${(error as Error).message}`);
    } finally {
      db?.close();
    }
  }
  report.ok = report.problems.length === 0;
  return report;
}

interface OwnerRecord {
  epoch: number;
  worker: string;
  pid: number;
}

function readOwner(file: string): OwnerRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(`${file}.owner`, 'utf8')) as OwnerRecord;
    return Number.isSafeInteger(record.pid) ? record : undefined;
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
