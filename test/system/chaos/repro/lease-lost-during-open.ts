/**
 * Reproduction (product bug found by the chaos test, seed 2): when a
 * worker's lease on a user's file is lost while it is still opening the file
 * (its SQLite open was retrying SQLITE_BUSY because the previous owner still
 * had the file open), PartitionPool.open throws `partition_lost` but leaves
 * the SQLite connection open. That connection keeps SQLite's EXCLUSIVE lock
 * for the rest of the worker's life: no worker, this one included, can open
 * the user's file again (503 partition_busy on every request).
 *
 * Run: npx tsx test/system/chaos/repro/lease-lost-during-open.ts
 * Prints "BUG REPRODUCED" (exit 1) or "fixed" (exit 0).
 */
import Database from 'better-sqlite3';
import { mkdirSync, rmSync } from 'node:fs';
import { partitionPath } from '../../../../services/partition/user-id.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { openTestStore } from '../../../support/test-store.js';

const put = { op: 'put', collection: 'c', id: 'x', document: { v: 1 }, precondition: {} } as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function openExclusive(file: string): Database.Database {
  const db = new Database(file, { timeout: 0 });
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('repro', 1)").run(); // takes and keeps the lock
  return db;
}

async function main(): Promise<number> {
  const dir = makeTempDir('pinbase-repro-');
  const file = partitionPath(dir.path, 'u1');
  const lease = { staleMs: 2000, updateMs: 1000, waitMs: 4000 };
  const first = openTestStore(dir.path, { lease });
  await first.write('u1', put);
  await first.close();

  // The previous owner (paused, say) still has the file open.
  const previousOwner = openExclusive(file);
  const store = openTestStore(dir.path, { lease });
  const opening = store.write('u1', put).then(
    () => 'ok',
    (error: { code?: string }) => error.code,
  );
  // Meanwhile another worker takes the lease over (a stale takeover replaces the lock directory).
  await sleep(1200);
  rmSync(`${file}.lock`, { recursive: true });
  mkdirSync(`${file}.lock`);
  await sleep(1300); // the lease's next refresh notices: onCompromised
  previousOwner.close(); // the previous owner lets go of the file; the open now succeeds...
  console.log(`the write during the takeover: ${await opening}`); // ...but partition_lost: the lease is gone
  rmSync(`${file}.lock`, { recursive: true }); // the other worker gives the lease up again

  let verdict: string;
  try {
    openExclusive(file).close();
    verdict = 'fixed: the file can be opened again';
  } catch (error) {
    verdict = `BUG REPRODUCED: the file stays locked by the connection leaked in PartitionPool.open (${(error as { code?: string }).code})`;
  }
  const again = await store.write('u1', put).then(
    () => 'ok',
    (error: { code?: string }) => error.code,
  );
  console.log(`the same worker writing to the user again: ${again}`);
  console.log(verdict);
  await store.close();
  dir.remove();
  return verdict.startsWith('BUG') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
