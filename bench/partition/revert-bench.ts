/**
 * How long a revert holds the event loop: N objects, each written at seq 1
 * and again at seq 2, reverted to seq 1 (N objects changed, each compared
 * body to body and rewritten). Prints the batch time (the synchronous part:
 * the event loop is held for it) and the time to the durable answer.
 *
 *   npm run build && node dist/bench/partition/revert-bench.js 10000 100000
 *   node dist/bench/partition/revert-bench.js 100 1000      # CI smoke (portability-bench-smoke.test.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LEASE_TIMING } from '../../services/partition/lease.js';
import { PartitionStore } from '../../services/partition/partition-store.js';
import { DAY_MS } from '../../services/worker/worker-config.js';

async function measure(objects: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-revert-bench-'));
  const batches: number[] = [];
  const store = new PartitionStore({
    dataDir: dir,
    workerId: 'bench',
    maxOpen: 4,
    idleCloseMs: 600_000,
    lease: DEFAULT_LEASE_TIMING,
    database: { durability: 'pipelined', cacheKiB: 16_384 },
    limits: {
      maxDocumentBytes: 1024 * 1024,
      maxTransactionBytes: 2 * 1024 * 1024,
      maxPageBytes: 4 * 1024 * 1024,
      maxUserBytes: 0,
      maxPendingWrites: 1024,
      commitDelayMs: 0,
    },
    events: { opened() {}, closed() {}, lease() {}, batch: (_size, seconds) => batches.push(seconds) },
    retention: { retentionMs: 7 * DAY_MS, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 600_000, maxRowsPerBatch: 1000 },
  });
  try {
    await store.write('bench', { op: 'put', collection: 'items', id: 'seed', document: { v: 0 }, precondition: {} });
    const partition = await store.pool.acquire('bench');
    try {
      await partition.maintain((sql) => {
        const body = (v: number) => `'{"name":"item ' || i || '","qty":${v},"tags":["a","b"],"note":"a body of about a hundred bytes, like a small record"}'`;
        sql.get(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
          INSERT INTO versions (rev, collection, id, prev, deleted, committed_at, body, live, ixgen)
          SELECT 2, 'items', 'o' || i, NULL, 0, 0, ${body(1)}, 0, 0 FROM n`).run(objects);
        sql.get(`INSERT INTO versions (rev, collection, id, prev, deleted, committed_at, body, live, ixgen)
          SELECT 3, collection, id, vid, 0, 0, replace(body, '"qty":1', '"qty":2'), 1, 0 FROM versions WHERE rev = 2`).run();
        sql.get('INSERT INTO objects (collection, id, vid, rev, deleted) SELECT collection, id, vid, rev, 0 FROM versions WHERE rev = 3').run();
      });
      partition.seq = 3;
    } finally {
      store.pool.release(partition);
    }
    batches.length = 0;
    const started = process.hrtime.bigint();
    const outcome = await store.write('bench', { op: 'revert', to: 2 });
    const total = Number(process.hrtime.bigint() - started) / 1e6;
    if (outcome.result.kind !== 'revert' || outcome.result.reverted !== objects) throw new Error(`unexpected ${JSON.stringify(outcome.result)}`);
    console.log(`${objects} objects reverted: event loop held ${(batches[0]! * 1000).toFixed(0)} ms (the batch), durable answer after ${total.toFixed(0)} ms`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const arg of process.argv.slice(2)) await measure(Number(arg));
