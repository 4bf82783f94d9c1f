/**
 * What building a secondary index costs (numbers in docs/ARCHITECTURE.md,
 * "Secondary indexes"): one partition of N objects (default 100k), an index
 * created with PUT semantics (IndexBuilder.put) and built in the background,
 * while one writer keeps writing to another collection of the same partition.
 * Reports the creating job's time, the whole build's time, the build steps'
 * group-commit batch times, and the writer's latency during the build next
 * to its latency without one (the longest a write waits behind a step).
 *
 * Usage: npm run build && node dist/bench/query/index-build-bench.js [--objects 100000]
 *        node dist/bench/query/index-build-bench.js --quick   # CI smoke: 5,000 objects (10 steps), 0.5 s of writes without a build
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_LEASE_TIMING } from '../../services/partition/lease.js';
import type { TxOperation } from '../../services/partition/write-request.js';
import { PartitionStore } from '../../services/partition/partition-store.js';
import { INDEX_BUILD_BATCH } from '../../services/query/index-catalog.js';
import { DAY_MS } from '../../services/worker/worker-config.js';

const { values } = parseArgs({ options: { objects: { type: 'string' }, quick: { type: 'boolean' } } });
const QUICK = values.quick === true;
const objects = Number(values.objects ?? (QUICK ? 5_000 : 100_000));
const BASELINE_MS = QUICK ? 500 : 2000;
const USER = 'bench';
const scratch = mkdtempSync(join(tmpdir(), 'pinbase-index-bench-'));
const batchSeconds: number[] = [];
const store = new PartitionStore({
  dataDir: scratch,
  workerId: 'bench',
  maxOpen: 10,
  idleCloseMs: 3_600_000,
  lease: DEFAULT_LEASE_TIMING,
  database: { durability: 'pipelined', cacheKiB: 8192 },
  limits: {
    maxDocumentBytes: 1 << 20,
    maxTransactionBytes: 8 << 20,
    maxPageBytes: 4 << 20,
    maxUserBytes: 0,
    maxPendingWrites: 100_000,
    commitDelayMs: 0,
  },
  events: { opened: () => undefined, closed: () => undefined, lease: () => undefined, batch: (_size, seconds) => batchSeconds.push(seconds) },
  retention: { retentionMs: 7 * DAY_MS, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 3_600_000, maxRowsPerBatch: 1000 },
});

const ms = (seconds: number) => (seconds * 1000).toFixed(2);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
const now = () => Number(process.hrtime.bigint()) / 1e9;

/** One writer writing to `other` until `until()` says stop; the latency of each write, seconds. */
async function writer(until: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; !until(); i++) {
    const started = now();
    await store.write(USER, { op: 'put', collection: 'other', id: `w${i % 1000}`, document: { i }, precondition: {} });
    latencies.push(now() - started);
  }
  return latencies.sort((a, b) => a - b);
}

try {
  console.log(`Index build benchmark — ${new Date().toISOString()} — ${cpus().length} CPUs, Node ${process.version}, ${objects} objects`);
  for (let start = 0; start < objects; start += 1000) {
    const ops: TxOperation[] = [];
    for (let i = start; i < Math.min(objects, start + 1000); i++) {
      ops.push({ op: 'put', collection: 'orders', id: `o${String(i).padStart(7, '0')}`, data: { status: ['open', 'paid', 'sent', 'done', 'void'][i % 5], total: i, customer: { id: i % 1000 } } });
    }
    await store.write(USER, { op: 'tx', reads: [], ops });
  }

  let stopBaseline = false;
  setTimeout(() => (stopBaseline = true), BASELINE_MS);
  const baseline = await writer(() => stopBaseline);

  batchSeconds.length = 0;
  let building = true;
  const during = writer(() => !building);
  const started = now();
  const { entry } = await store.putIndex(USER, { collection: 'orders', name: 'by_status', paths: [['status'], ['total']], unique: false });
  const createSeconds = now() - started;
  const partition = await store.pool.acquire(USER);
  store.pool.release(partition);
  await partition.indexBuilds.idle();
  const buildSeconds = now() - started;
  building = false;
  const latencies = await during;
  const batches = [...batchSeconds].sort((a, b) => a - b);
  const final = partition.index('orders', 'by_status')!;

  console.log(`\nindex ${entry.name}: ${final.state}, ${Math.ceil(objects / INDEX_BUILD_BATCH)} steps of ${INDEX_BUILD_BATCH} objects`);
  console.log('| measure | value |');
  console.log('| --- | ---: |');
  console.log(`| PUT (CREATE INDEX + first step), ms | ${ms(createSeconds)} |`);
  console.log(`| whole build, ms | ${ms(buildSeconds)} |`);
  console.log(`| group-commit batches during the build: count / p50 / p99 / max, ms | ${batches.length} / ${ms(percentile(batches, 50))} / ${ms(percentile(batches, 99))} / ${ms(batches[batches.length - 1] ?? 0)} |`);
  console.log(`| a write without a build: p50 / p99 / max, ms (${baseline.length} writes) | ${ms(percentile(baseline, 50))} / ${ms(percentile(baseline, 99))} / ${ms(baseline[baseline.length - 1] ?? 0)} |`);
  console.log(`| a write during the build: p50 / p99 / max, ms (${latencies.length} writes) | ${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 99))} / ${ms(latencies[latencies.length - 1] ?? 0)} |`);
} finally {
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
}
