import { mkdirSync, rmdirSync } from 'node:fs';
import { DEFAULT_LEASE_TIMING, PartitionLease } from '../../services/partition/lease.js';
import { openPartitionDatabase, type Durability } from '../../services/partition/partition-database.js';
import type { PoolEvents } from '../../services/partition/partition-pool.js';
import { PartitionStore } from '../../services/partition/partition-store.js';
import { partitionPath } from '../../services/partition/user-id.js';
import { DAY_MS } from '../../services/worker/worker-config.js';

const quietEvents: PoolEvents = {
  opened: () => undefined,
  closed: () => undefined,
  lease: () => undefined,
  batch: () => undefined,
};

export function benchStore(dataDir: string, durability: Durability, maxOpen = 1000): PartitionStore {
  return new PartitionStore({
    dataDir,
    workerId: 'bench',
    maxOpen,
    idleCloseMs: 3_600_000,
    lease: DEFAULT_LEASE_TIMING,
    database: { durability, cacheKiB: 1024 },
    limits: {
      maxDocumentBytes: 1 << 20,
      maxTransactionBytes: 2 << 20,
      maxPageBytes: 4 << 20,
      maxUserBytes: 0,
      maxPendingWrites: 100_000,
      commitDelayMs: 0,
    },
    events: quietEvents,
    retention: { retentionMs: 7 * DAY_MS, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 3_600_000, maxRowsPerBatch: 1000 },
  });
}

/** Durable single-row writes to one partition by `writers` concurrent loops for `seconds`; rows/s. */
export async function writeThroughput(dataDir: string, durability: Durability, writers: number, seconds: number): Promise<number> {
  const store = benchStore(dataDir, durability);
  await store.write('bench-user', { op: 'put', collection: 'c', id: 'warm', document: {}, precondition: {} });
  const deadline = performance.now() + seconds * 1000;
  let rows = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let n = 0; performance.now() < deadline; n++) {
        await store.write('bench-user', {
          op: 'put',
          collection: 'c',
          id: `w${w}-${n % 100}`,
          document: { writer: w, n, title: 'benchmark row' },
          precondition: {},
        });
        rows++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await store.close();
  return rows / elapsed;
}

export interface Timings {
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

function timings(times: number[]): Timings {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { meanMs: times.reduce((s, t) => s + t, 0) / times.length, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/**
 * Cold-open cost: creates `users` partitions, closes them all, then times
 * opening each again (lease + SQLite open + first read), one at a time, in a
 * pool of `maxOpen`: the first `maxOpen` opens fill the pool (every
 * connection on memory the process has never touched), the rest find it full
 * and each closes the least recently used partition first (the steady state
 * of a worker with more users than --max-open).
 */
export async function coldOpen(dataDir: string, users: number, maxOpen: number): Promise<{ filling: Timings; full: Timings }> {
  await createClosedPartitions(dataDir, 'cold', users);
  const reopened = benchStore(dataDir, 'pipelined', maxOpen);
  const times: number[] = [];
  for (let u = 0; u < users; u++) {
    const started = performance.now();
    await reopened.read(`cold${u}`, (view) => view.object('c', 'x'));
    times.push(performance.now() - started);
  }
  await reopened.close();
  return { filling: timings(times.slice(0, maxOpen)), full: timings(times.slice(maxOpen)) };
}

/** Creates partitions `${prefix}0` … with one object `c/x` each, and closes them all. */
async function createClosedPartitions(dataDir: string, prefix: string, users: number): Promise<void> {
  const store = benchStore(dataDir, 'pipelined', users + 1);
  for (let u = 0; u < users; u++) {
    await store.write(`${prefix}${u}`, { op: 'put', collection: 'c', id: 'x', document: { u }, precondition: {} });
  }
  await store.close();
}

/** Mean microseconds of each step of a cold open and of a close, over `users` partitions closed beforehand. */
export interface ColdOpenParts {
  leaseAcquire: number;
  sqliteOpen: number;
  firstRead: number;
  sqliteClose: number;
  leaseRelease: number;
  /** The file-system calls under the lease, alone: mkdir and rmdir of a directory beside each file. */
  bareMkdir: number;
  bareRmdir: number;
}

/**
 * Where a cold open's time goes: creates `users` partitions, closes them,
 * then for each one times the steps a PartitionPool open and close take, in
 * order (lease, SQLite open with its settings and migrations check, first
 * read, SQLite close, lease release), and separately a bare mkdir/rmdir of
 * a directory beside the file (what the lease's lock costs the file system).
 */
export async function coldOpenParts(dataDir: string, users: number): Promise<ColdOpenParts> {
  await createClosedPartitions(dataDir, 'parts', users);
  const files = Array.from({ length: users }, (_, u) => partitionPath(dataDir, `parts${u}`));
  const sums: ColdOpenParts = { leaseAcquire: 0, sqliteOpen: 0, firstRead: 0, sqliteClose: 0, leaseRelease: 0, bareMkdir: 0, bareRmdir: 0 };
  const timing = { ...DEFAULT_LEASE_TIMING, staleMs: 60_000, updateMs: 30_000 };
  for (const file of files) {
    let t = performance.now();
    const step = (key: keyof ColdOpenParts) => {
      const now = performance.now();
      sums[key] += now - t;
      t = now;
    };
    const lease = await PartitionLease.acquire(file, { workerId: 'bench', timing, onCompromised: () => undefined });
    step('leaseAcquire');
    const db = openPartitionDatabase(file, { durability: 'pipelined', cacheKiB: 1024 });
    step('sqliteOpen');
    db.prepare('SELECT vid FROM objects WHERE collection = ? AND id = ?').get('c', 'x');
    step('firstRead');
    db.close();
    step('sqliteClose');
    await lease.release();
    step('leaseRelease');
    mkdirSync(`${file}.probe`);
    step('bareMkdir');
    rmdirSync(`${file}.probe`);
    step('bareRmdir');
  }
  // Milliseconds summed over all users → mean microseconds.
  for (const key of Object.keys(sums) as (keyof ColdOpenParts)[]) sums[key] = (sums[key] * 1000) / users;
  return sums;
}

/**
 * The ceiling under Pinbase's write path: the same MVCC row writes (read the
 * current version, append the new one to `versions`, move the object's head),
 * 64 per SQLite transaction, straight through better-sqlite3 with
 * synchronous=NORMAL and no fsync: what the schema itself costs, before group
 * commit, leases and fsyncs.
 */
export function rawSqliteCeiling(dataDir: string, seconds: number): number {
  const db = openPartitionDatabase(`${dataDir}/ceiling.sqlite`, { durability: 'normal', cacheKiB: 1024 });
  const get = db.prepare(
    'SELECT v.vid, v.rev, v.deleted, v.body, v.committed_at FROM objects o JOIN versions v ON v.vid = o.vid WHERE o.collection = ? AND o.id = ?',
  );
  const append = db.prepare(
    'INSERT INTO versions (rev, collection, id, prev, deleted, committed_at, body) VALUES (?, ?, ?, ?, 0, ?, ?)',
  );
  const point = db.prepare(
    `INSERT INTO objects (collection, id, vid, rev, deleted) VALUES (?, ?, ?, ?, 0)
     ON CONFLICT (collection, id) DO UPDATE SET vid = excluded.vid, rev = excluded.rev, deleted = excluded.deleted`,
  );
  let seq = 0;
  const batch = db.transaction((round: number) => {
    for (let w = 0; w < 64; w++) {
      const id = `w${w}-${round % 100}`;
      const current = get.get('c', id) as { vid: number } | undefined;
      seq++;
      const body = JSON.stringify({ writer: w, n: round, title: 'benchmark row' });
      const vid = append.run(seq, 'c', id, current?.vid ?? null, Date.now(), body).lastInsertRowid;
      point.run('c', id, vid, seq);
    }
  });
  const started = performance.now();
  let round = 0;
  while (performance.now() - started < seconds * 1000) batch(round++);
  const elapsed = (performance.now() - started) / 1000;
  db.close();
  return (round * 64) / elapsed;
}
