/**
 * Reproduction (product bug found by the chaos test, seeds 2 and 3): a
 * worker whose lease was taken over while it was paused (SIGSTOP, a long
 * GC) closes the partition when its fencing check fails and calls
 * PartitionLease.release(). proper-lockfile's unlock removes the lock
 * directory without checking that it is still its own, so it deletes the
 * NEW holder's lock (which is then "compromised" at its next refresh, and a
 * third worker may take the lease meanwhile).
 *
 * Two cases, as seen in the chaos runs:
 * (a) the takeover replaced the lock directory (a stale takeover: rmdir +
 *     mkdir);
 * (b) the old holder's refresh was already under way when it was paused
 *     (proper-lockfile stats the directory, then utimes it): on resume it
 *     re-stamps the new holder's directory, so by mtime the directory looks
 *     like the old holder's, while the owner record names the new holder.
 * A correct release leaves the directory to the holder the owner record
 * names, and stops refreshing it. (Skipping the unlock altogether is not
 * enough: in case (b) proper-lockfile keeps refreshing the directory for
 * ever, and no worker, this one included, can take the lease again.)
 *
 * Run: npx tsx test/system/chaos/repro/release-after-takeover.ts
 * Prints "BUG" lines (exit 1) or "fixed" (exit 0).
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PartitionLease } from '../../../../services/partition/lease.js';
import { partitionPath } from '../../../../services/partition/user-id.js';
import { makeTempDir } from '../../../support/temp-dir.js';

const timing = { staleMs: 2000, updateMs: 1000, waitMs: 100 };

async function releaseAfterTakeover(dataDir: string, userId: string, replaceDirectory: boolean): Promise<string> {
  const file = partitionPath(dataDir, userId);
  mkdirSync(dirname(file), { recursive: true });
  const old = await PartitionLease.acquire(file, { workerId: 'w3', timing, onCompromised: () => undefined });
  // While w3 is paused past the stale time, w2 takes the lease over: the next epoch in the owner record.
  if (replaceDirectory) {
    rmSync(`${file}.lock`, { recursive: true });
    mkdirSync(`${file}.lock`);
  }
  const record = { epoch: old.epoch + 1, worker: 'w2', nonce: 'n', pid: 1, host: 'h', acquiredAt: new Date().toISOString() };
  writeFileSync(`${file}.owner`, JSON.stringify(record).padEnd(512, ' '));
  const takenOverAt = statSync(`${file}.lock`).mtimeMs;
  // w3 resumes; its next commit fails the fencing check, it closes the partition and releases.
  try {
    old.verify();
    return 'BUG: the fencing check did not notice the takeover';
  } catch {
    // partition_lost, as it should
  }
  await old.release();
  await new Promise((resolve) => setTimeout(resolve, 1500)); // past the old lease's refresh period
  if (!existsSync(`${file}.lock`)) return "BUG REPRODUCED: releasing the old lease deleted the new holder's lock directory";
  if (statSync(`${file}.lock`).mtimeMs !== takenOverAt) return 'BUG: the released lease still refreshes the lock directory';
  return 'fixed: the new holder keeps its lock, and the released lease no longer touches it';
}

async function main(): Promise<number> {
  const dir = makeTempDir('pinbase-repro-');
  const verdicts = [
    `(a) lock directory replaced by the takeover: ${await releaseAfterTakeover(dir.path, 'u1', true)}`,
    `(b) lock directory re-stamped by the old holder: ${await releaseAfterTakeover(dir.path, 'u2', false)}`,
  ];
  for (const verdict of verdicts) console.log(verdict);
  dir.remove();
  return verdicts.every((verdict) => verdict.includes('fixed')) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
