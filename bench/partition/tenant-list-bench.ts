/**
 * What a page of the tenant list costs (GET /_worker/users,
 * tenant-directory.ts): N tenant files (copies of one real partition file
 * with a few commits, all closed, so each entry is read from its file), a
 * full page listed 5 times. Prints the time per page (the directory listing
 * cached after the first) and the longest event-loop delay seen meanwhile.
 *
 *   npm run build && node dist/bench/partition/tenant-list-bench.js 1000
 *   node dist/bench/partition/tenant-list-bench.js 100      # CI smoke (portability-bench-smoke.test.ts)
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DEFAULT_LEASE_TIMING } from '../../services/partition/lease.js';
import { PartitionStore } from '../../services/partition/partition-store.js';
import { MAX_PAGE, TenantDirectory } from '../../services/partition/tenant-directory.js';
import { fanOutDir, partitionPath } from '../../services/partition/user-id.js';
import { DAY_MS } from '../../services/worker/worker-config.js';

async function main(tenants: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-tenant-list-bench-'));
  try {
    const store = new PartitionStore({
      dataDir: dir,
      workerId: 'bench',
      maxOpen: 4,
      idleCloseMs: 600_000,
      lease: DEFAULT_LEASE_TIMING,
      database: { durability: 'pipelined', cacheKiB: 512 },
      limits: { maxDocumentBytes: 1 << 20, maxTransactionBytes: 2 << 20, maxPageBytes: 4 << 20, maxUserBytes: 0, maxPendingWrites: 1024, commitDelayMs: 0 },
      events: { opened() {}, closed() {}, lease() {}, batch() {} },
      retention: { retentionMs: 7 * DAY_MS, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 600_000, maxRowsPerBatch: 1000 },
    });
    for (let i = 0; i < 20; i++) await store.write('seed', { op: 'put', collection: 'items', id: `o${i}`, document: { i, text: 'x'.repeat(200) }, precondition: {} });
    await store.close();
    for (let i = 0; i < tenants; i++) {
      const id = `t${String(i).padStart(6, '0')}`;
      mkdirSync(join(dir, fanOutDir(id)), { recursive: true });
      copyFileSync(partitionPath(dir, 'seed'), partitionPath(dir, id));
    }
    const directory = new TenantDirectory(dir, 60_000);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const times: number[] = [];
    for (let run = 0; run < 5; run++) {
      const started = process.hrtime.bigint();
      const page = await directory.page(undefined, MAX_PAGE);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (page.users.length !== Math.min(tenants + 1, MAX_PAGE)) throw new Error(`a page of ${page.users.length} tenants`);
      if (page.users.some((user) => user.lastSeq !== 20)) throw new Error('a tenant was not read');
    }
    delay.disable();
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `${tenants + 1} tenants, page of ${Math.min(tenants + 1, MAX_PAGE)}: first ${times[0]!.toFixed(0)} ms (lists the directories), ` +
        `median ${sorted[2]!.toFixed(0)} ms, max event-loop delay ${(delay.max / 1e6).toFixed(1)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main(Number(process.argv[2] ?? 1000));
