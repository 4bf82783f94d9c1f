/**
 * What the query cost bounds cost here: one tenant, 100,000 objects of about
 * 200 bytes in one collection, no index. Wall and CPU time of this process
 * (median of 5; CPU time is what the request takes from the event loop
 * when the machine is busy with other work) of:
 *  - a page ordered by an unindexed number (SQLite sorts every live object:
 *    the MAX_SORTED_OBJECTS bound);
 *  - a page of a filter that matches nothing, in id order (ends at the
 *    MAX_EXAMINED_PER_PAGE budget);
 *  - the same two on a snapshot (`at`, evaluated in JavaScript).
 *
 *   npm run build && node dist/bench/query/query-cost.js [objects]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PoolEvents } from '../../services/partition/partition-pool.js';
import { PartitionStore } from '../../services/partition/partition-store.js';
import { DEFAULT_LEASE_TIMING } from '../../services/partition/lease.js';
import { parseQuerySpec } from '../../services/query/query-spec.js';
import { DAY_MS } from '../../services/worker/worker-config.js';

const objects = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'pinbase-query-cost-'));
const events: PoolEvents = { opened() {}, closed() {}, lease() {}, batch() {} };
const store = new PartitionStore({
  dataDir: dir,
  workerId: 'bench',
  maxOpen: 4,
  idleCloseMs: 600_000,
  lease: { ...DEFAULT_LEASE_TIMING, waitMs: 300 },
  database: { durability: 'pipelined', cacheKiB: 64 * 1024 },
  limits: { maxDocumentBytes: 1 << 20, maxTransactionBytes: 64 << 20, maxPageBytes: 4 << 20, maxUserBytes: 0, maxPendingWrites: 1024, commitDelayMs: 0 },
  events,
  retention: { retentionMs: 7 * DAY_MS, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 3_600_000, maxRowsPerBatch: 1000 },
});

const statuses = ['open', 'done', 'late', 'draft'];
for (let start = 0; start < objects; start += 1000) {
  const ops = [];
  for (let i = start; i < Math.min(objects, start + 1000); i++) {
    ops.push({
      op: 'put' as const,
      collection: 'orders',
      id: `o${String(i).padStart(7, '0')}`,
      data: { status: statuses[i % 4], total: (i * 7919) % 100_003, customer: `c${i % 997}`, note: 'x'.repeat(120), tags: [`t${i % 10}`] },
    });
  }
  await store.write('bench', { op: 'tx', reads: [], ops });
}

async function median(label: string, run: () => Promise<unknown>): Promise<void> {
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    const startedCpu = process.cpuUsage();
    await run();
    const used = process.cpuUsage(startedCpu);
    cpu.push((used.user + used.system) / 1000);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  console.log(`${label}: wall median ${times[2]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}), CPU median ${cpu[2]!.toFixed(1)} ms (min ${cpu[0]!.toFixed(1)})`);
}

const page = (params: { filter?: string; order?: string }, at?: number) =>
  store.read('bench', (view) => view.query('orders', parseQuerySpec(params), { limit: 100, at }));
const seq = await store.read('bench', (view) => view.seq);
console.log(`${objects} objects in one collection, no index`);
await median('order=-total, first page of 100 (sort of every object)', () => page({ order: '-total' }));
await median('filter matching nothing, id order (one page: the examination budget)', () => page({ filter: '{"status":"none"}' }));
await median('order=-total at a snapshot (JavaScript, every object)', () => page({ order: '-total' }, seq));
await median('filter matching nothing at a snapshot (one page: the examination budget)', () => page({ filter: '{"status":"none"}' }, seq));
await store.close();
rmSync(dir, { recursive: true, force: true });
