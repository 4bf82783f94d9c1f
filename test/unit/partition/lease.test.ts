import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PartitionLease, readOwnerRecord, type LeaseTiming } from '../../../services/partition/lease.js';
import { makeTempDir } from '../../support/temp-dir.js';

const timing: LeaseTiming = { staleMs: 2000, updateMs: 1000, waitMs: 300 };
const noop = () => undefined;

describe('partition lease', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  beforeEach(() => {
    dir = makeTempDir();
    file = join(dir.path, 'u.sqlite');
  });
  afterEach(() => dir.remove());

  it('writes an owner record whose epoch grows at every acquisition', async () => {
    const first = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop });
    expect(first.epoch).toBe(1);
    expect(readOwnerRecord(file)).toMatchObject({ epoch: 1, worker: 'w1', pid: process.pid });
    await first.release();
    const second = await PartitionLease.acquire(file, { workerId: 'w2', timing, onCompromised: noop });
    expect(second.epoch).toBe(2);
    expect(readOwnerRecord(file)).toMatchObject({ epoch: 2, worker: 'w2' });
    await second.release();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('keeps its lease when a late refresh of a previous holder moved its lock\'s mtime, and sets its own again', async () => {
    const compromised: Error[] = [];
    const lease = await PartitionLease.acquire(file, { workerId: 'w2', timing, onCompromised: (error) => compromised.push(error) });
    // A previous holder, stopped between its stat and its utimes, resumes and touches the lock this worker now holds.
    const foreign = new Date(Date.now() + 400);
    utimesSync(`${file}.lock`, foreign, foreign);
    await sleep(1300);
    expect(compromised).toEqual([]);
    expect(statSync(`${file}.lock`).mtimeMs).not.toBe(foreign.getTime());
    lease.verify();
    await lease.release();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('gives its lease up when its lock\'s mtime moved and the owner record is no longer its own', async () => {
    const compromised: Error[] = [];
    const lease = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: (error) => compromised.push(error) });
    writeFileSync(`${file}.owner`, JSON.stringify({ epoch: 99, worker: 'w2', nonce: 'x', pid: 1, host: 'h', acquiredAt: '' }).padEnd(512, ' '));
    const foreign = new Date(Date.now() + 400);
    utimesSync(`${file}.lock`, foreign, foreign);
    await sleep(1300);
    expect(compromised).toHaveLength(1);
    await lease.release();
  });

  it('removes its lock directory when it releases a lease it gave up while the owner record was still its own', async () => {
    const compromised: Error[] = [];
    const lease = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: (error) => compromised.push(error) });
    const foreign = new Date(Date.now() + 400);
    utimesSync(`${file}.lock`, foreign, foreign);
    // Stalled past the skew margin: the refresh cannot tell the moved mtime from a takeover and gives the lease up.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1700);
    await sleep(300);
    expect(compromised).toHaveLength(1);
    await lease.release();
    // Nobody took the lock over (the owner record is this lease's): it is not left behind to go stale.
    expect(existsSync(`${file}.lock`)).toBe(false);
    const next = await PartitionLease.acquire(file, { workerId: 'w2', timing, onCompromised: noop });
    expect(next.epoch).toBe(2);
    await next.release();
  });

  it('leaves the lock directory of a lease it gave up to the worker that took it over', async () => {
    const lease = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop });
    writeFileSync(`${file}.owner`, JSON.stringify({ epoch: 99, worker: 'w2', nonce: 'x', pid: 1, host: 'h', acquiredAt: '' }).padEnd(512, ' '));
    const foreign = new Date(Date.now() + 400);
    utimesSync(`${file}.lock`, foreign, foreign);
    await sleep(1300);
    await lease.release();
    expect(existsSync(`${file}.lock`)).toBe(true);
  });

  it('makes a second acquirer wait, ask the holder once, then fail with retryable partition_busy', async () => {
    const held = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop });
    const asked: (string | undefined)[] = [];
    const started = Date.now();
    const attempt = PartitionLease.acquire(file, {
      workerId: 'w2',
      timing,
      onCompromised: noop,
      onBusy: async (holder) => {
        asked.push(holder?.worker);
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'partition_busy', status: 503, retryable: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(timing.waitMs - 50);
    expect(asked).toEqual(['w1']);
    await held.release();
  });

  it('gets the lease as soon as the holder releases it while waiting', async () => {
    const held = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop });
    const attempt = PartitionLease.acquire(file, {
      workerId: 'w2',
      timing: { ...timing, waitMs: 2000 },
      onCompromised: noop,
      onBusy: () => held.release(),
    });
    const lease = await attempt;
    expect(lease.record.worker).toBe('w2');
    await lease.release();
  });

  it('takes over a lease whose lock was not refreshed within the stale time', async () => {
    const lockDir = `${file}.lock`;
    mkdirSync(lockDir);
    const old = new Date(Date.now() - timing.staleMs - 1000);
    utimesSync(lockDir, old, old);
    const lease = await PartitionLease.acquire(file, { workerId: 'w2', timing, onCompromised: noop });
    expect(lease.record.worker).toBe('w2');
    await lease.release();
  });

  it('verify() passes while the owner record is ours and fails with partition_lost once another owner wrote it', async () => {
    const lease = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop });
    expect(() => lease.verify()).not.toThrow();
    const record = readOwnerRecord(file)!;
    writeFileSync(`${file}.owner`, JSON.stringify({ ...record, epoch: record.epoch + 1, worker: 'w2', nonce: 'other' }));
    expect(() => lease.verify()).toThrow(expect.objectContaining({ code: 'partition_lost', retryable: true }) as Error);
    await lease.release();
  });

  it('continues the epoch sequence from an unreadable owner record with a larger, time-based epoch', async () => {
    writeFileSync(`${file}.owner`, 'garbage');
    const lease = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop });
    expect(lease.epoch).toBeGreaterThan(1_600_000_000_000);
    await lease.release();
  });

  it.each([
    ['replaced', true],
    ['re-stamped by the old holder', false],
  ] as const)(
    'releasing a lease that was taken over leaves the new holder\'s lock directory (%s) and stops refreshing it',
    async (_case, replaceDirectory) => {
      const old = await PartitionLease.acquire(file, { workerId: 'w3', timing, onCompromised: noop });
      if (replaceDirectory) {
        rmSync(`${file}.lock`, { recursive: true });
        mkdirSync(`${file}.lock`);
      }
      const record = { epoch: old.epoch + 1, worker: 'w2', nonce: 'n', pid: 1, host: 'h', acquiredAt: new Date().toISOString() };
      writeFileSync(`${file}.owner`, JSON.stringify(record).padEnd(512, ' '));
      const takenOverAt = statSync(`${file}.lock`).mtimeMs;
      expect(() => old.verify()).toThrow();
      await old.release();
      await sleep(1500);
      expect(existsSync(`${file}.lock`)).toBe(true);
      expect(statSync(`${file}.lock`).mtimeMs).toBe(takenOverAt);
    },
  );
});
