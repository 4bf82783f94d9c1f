import fs from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import type properLockfile from 'proper-lockfile';
import type { LockOptions } from 'proper-lockfile';
import { PartitionLease, type LeaseTiming } from '../../../services/partition/lease.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * The switch of the mocked proper-lockfile below: with `deferFileSystemCalls`,
 * the library's calls of mkdir and stat reach the lease's file system one
 * macrotask after the library makes them, as they would if a release of the
 * (unmaintained) library did its work across ticks.
 */
const library = vi.hoisted(() => ({ deferFileSystemCalls: false }));

type Callback = (...results: unknown[]) => void;
type FileSystemCall = (path: string, callback: Callback) => void;

vi.mock('proper-lockfile', async (importOriginal) => {
  const actual = (await importOriginal<{ default: typeof properLockfile }>()).default;
  const later =
    (call: FileSystemCall): FileSystemCall =>
    (path, callback) =>
      setImmediate(() => call(path, callback));
  // A child object, so that proper-lockfile still finds the mtime precision it cached on the lease's own.
  const deferring = (fileSystem: { mkdir: FileSystemCall; stat: FileSystemCall }): object =>
    Object.create(fileSystem, { mkdir: { value: later(fileSystem.mkdir) }, stat: { value: later(fileSystem.stat) } }) as object;
  const lock = (file: string, options: LockOptions) =>
    actual.lock(file, library.deferFileSystemCalls ? { ...options, fs: deferring(options.fs as never) } : options);
  return { ...actual, default: { ...actual, lock }, lock };
});

const timing: LeaseTiming = { staleMs: 2000, updateMs: 1000, waitMs: 300 };
const noop = () => undefined;

describe('partition lease file-system calls', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let spies: Record<'mkdirSync' | 'statSync' | 'mkdir' | 'stat' | 'utimes', MockInstance>;
  /** The paths `name` was called with, among the lock directories `paths`. */
  const callsOf = (name: keyof typeof spies, ...paths: string[]) =>
    spies[name].mock.calls.map((call) => call[0] as string).filter((path) => paths.includes(path));

  beforeEach(async () => {
    dir = makeTempDir();
    // A first acquisition has proper-lockfile probe and cache the mtime precision.
    const warmUp = await PartitionLease.acquire(join(dir.path, 'warm-up.sqlite'), { workerId: 'w1', timing, onCompromised: noop });
    await warmUp.release();
    spies = {
      mkdirSync: vi.spyOn(fs, 'mkdirSync'),
      statSync: vi.spyOn(fs, 'statSync'),
      mkdir: vi.spyOn(fs, 'mkdir'),
      stat: vi.spyOn(fs, 'stat'),
      utimes: vi.spyOn(fs, 'utimes'),
    };
  });
  afterEach(() => {
    library.deferFileSystemCalls = false;
    vi.restoreAllMocks();
    dir.remove();
  });

  it.each([
    ['as proper-lockfile 4.1.2 makes them, within lock()', false],
    ['when proper-lockfile makes them a tick later', true],
  ] as const)(
    'acquires two partitions at once with one synchronous mkdir and one synchronous stat of each lock directory (%s)',
    async (_case, defer) => {
      library.deferFileSystemCalls = defer;
      const files = [join(dir.path, 'a.sqlite'), join(dir.path, 'b.sqlite')];
      const lockDirectories = files.map((file) => `${resolve(file)}.lock`);
      const leases = await Promise.all(
        files.map((file) => PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop })),
      );
      for (const lockDirectory of lockDirectories) {
        expect(callsOf('mkdirSync', lockDirectory)).toEqual([lockDirectory]);
        expect(callsOf('statSync', lockDirectory)).toEqual([lockDirectory]);
      }
      expect(callsOf('mkdir', ...lockDirectories)).toEqual([]);
      expect(callsOf('stat', ...lockDirectories)).toEqual([]);
      expect(callsOf('utimes', ...lockDirectories)).toEqual([]);
      await Promise.all(leases.map((lease) => lease.release()));
    },
  );

  it('refreshes a held lease asynchronously', async () => {
    const file = join(dir.path, 'held.sqlite');
    const lockDirectory = `${resolve(file)}.lock`;
    const lease = await PartitionLease.acquire(file, { workerId: 'w1', timing, onCompromised: noop });
    const synchronousStats = callsOf('statSync', lockDirectory).length;
    await vi.waitFor(() => expect(callsOf('utimes', lockDirectory)).toEqual([lockDirectory]), {
      timeout: timing.updateMs * 3,
      interval: 50,
    });
    expect(callsOf('stat', lockDirectory)).toEqual([lockDirectory]);
    expect(callsOf('statSync', lockDirectory)).toHaveLength(synchronousStats);
    await lease.release();
  });
});
