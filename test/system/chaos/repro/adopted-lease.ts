/**
 * Reproduction (product bug found by the chaos test, seed 6, with the fixes
 * for lease-lost-during-open.ts and release-after-takeover.ts applied):
 * proper-lockfile refreshes a lease in two steps, stat (is the mtime still
 * mine?) then utimes. A worker paused (SIGSTOP, a long GC) between the two
 * resumes and stamps the lock directory that the worker which took its
 * lease over has created meanwhile: it has "adopted" the new holder's lock
 * and keeps refreshing it. The fencing check stops its commits, but only
 * when it next commits; until then (idle-close: 60 s by default) it keeps
 * the user's file open, so SQLite's exclusive lock keeps the rightful owner
 * (the one the owner record names) out, with 503 partition_busy; and as the
 * owner record names the rightful owner itself, it never asks anyone to
 * hand the partition over.
 *
 * The state after the adoption is set up directly: a worker holds the user
 * (open partition, lease refreshed), and the owner record names another
 * worker with the next epoch. Run:
 *   npx tsx test/system/chaos/repro/adopted-lease.ts
 * Prints "BUG REPRODUCED" (exit 1) or "fixed" (exit 0).
 */
import Database from 'better-sqlite3';
import { statSync, writeFileSync } from 'node:fs';
import { readOwnerRecord } from '../../../../services/partition/lease.js';
import { partitionPath } from '../../../../services/partition/user-id.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { openTestStore } from '../../../support/test-store.js';

const put = { op: 'put', collection: 'c', id: 'x', document: { v: 1 }, precondition: {} } as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<number> {
  const dir = makeTempDir('pinbase-repro-');
  const file = partitionPath(dir.path, 'u1');
  const store = openTestStore(dir.path, { workerId: 'w3', lease: { staleMs: 2000, updateMs: 1000, waitMs: 300 } });
  await store.write('u1', put);

  // The takeover w3 slept through: w1 wrote the next epoch; w3's refresh adopted w1's lock directory.
  const record = readOwnerRecord(file)!;
  writeFileSync(`${file}.owner`, JSON.stringify({ ...record, epoch: record.epoch + 1, worker: 'w1', pid: 1 }).padEnd(512, ' '));
  await sleep(3500); // longer than the stale time, with w3 sending nothing for the user

  const lock = statSync(`${file}.lock`, { throwIfNoEntry: false });
  const refreshedAgo = lock === undefined ? Infinity : Date.now() - lock.mtimeMs;
  let ownerCanOpen: string;
  try {
    const db = new Database(file, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.close();
    ownerCanOpen = 'yes';
  } catch (error) {
    ownerCanOpen = `no (${(error as { code?: string }).code})`;
  }
  const stillOpen = store.pool.isOpen('u1');
  console.log(`3.5 s later: w3 still has the partition open: ${stillOpen}; lock refreshed ${lock === undefined ? 'never (no lock)' : `${Math.round(refreshedAgo)} ms ago`}; w1 can open the file: ${ownerCanOpen}`);
  const fixed = !stillOpen && ownerCanOpen === 'yes' && refreshedAgo >= 2000;
  console.log(
    fixed
      ? 'fixed: the worker whose lease was taken over let go of the file and of the lock'
      : 'BUG REPRODUCED: a lease whose owner record names another worker is kept, refreshed, with the file open',
  );
  await store.close();
  dir.remove();
  return fixed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
