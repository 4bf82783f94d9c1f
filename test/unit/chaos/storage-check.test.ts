import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partitionPath } from '../../../services/partition/user-id.js';
import { checkIntegrity, checkLeases, leftoverLocks } from '../../system/chaos/storage-check.js';
import { makeTempDir } from '../../support/temp-dir.js';

/** A pid that was alive a moment ago and is not any more. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

describe('storage checks', () => {
  let dir: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => dir.remove());

  /** A user file, optionally locked (refreshed `ageMs` ago) with an owner record for `pid`. */
  function userFile(user: string, lock?: { pid: number; worker: string; ageMs: number }): string {
    const file = partitionPath(dir.path, user);
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    db.close();
    if (lock) {
      mkdirSync(`${file}.lock`);
      const at = (Date.now() - lock.ageMs) / 1000;
      utimesSync(`${file}.lock`, at, at);
      writeFileSync(`${file}.owner`, JSON.stringify({ epoch: 3, worker: lock.worker, pid: lock.pid }).padEnd(512, ' '));
    }
    return file;
  }

  it('accepts leases held by live workers and stale leases of dead processes', () => {
    userFile('free');
    userFile('held', { pid: process.pid, worker: 'w1', ageMs: 100 });
    userFile('stale', { pid: deadPid(), worker: 'w2', ageMs: 5000 });
    const report = checkLeases(dir.path, new Map([[process.pid, 'w1']]), 2000);
    expect(report).toMatchObject({ ok: true, locks: 2, heldByLive: 1, staleOfDead: 1, problems: [] });
  });

  it('reports a fresh lease of a dead process, a wrong worker id and a lease its holder stopped refreshing', () => {
    const dead = deadPid();
    userFile('dead', { pid: dead, worker: 'w2', ageMs: 100 });
    userFile('wrong', { pid: process.pid, worker: 'w9', ageMs: 100 });
    userFile('unrefreshed', { pid: process.pid, worker: 'w1', ageMs: 5000 });
    const report = checkLeases(dir.path, new Map([[process.pid, 'w1']]), 2000);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(new RegExp(`dead.sqlite: lease held by dead pid ${dead} \\(worker w2, epoch 3\\)`));
    expect(report.problems.join('\n')).toContain(`wrong.sqlite: owner record names worker w9, but pid ${process.pid} is worker w1`);
    expect(report.problems.join('\n')).toContain('unrefreshed.sqlite: worker w1');
  });

  it('lists the lock directories left behind', () => {
    userFile('a');
    userFile('b', { pid: 1, worker: 'w1', ageMs: 0 });
    expect(leftoverLocks(dir.path)).toEqual([expect.stringMatching(/\/b\.sqlite\.lock \(owner .*"worker":"w1"/)]);
  });

  it('passes intact files through integrity_check and reports a damaged one', () => {
    userFile('good');
    const bad = userFile('bad');
    const bytes = Buffer.alloc(4096, 0xab);
    writeFileSync(bad, Buffer.concat([Buffer.from('SQLite format 3\0'), bytes]));
    const report = checkIntegrity(dir.path);
    expect(report.files).toBe(2);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatch(/bad\.sqlite: /);
  });
});
