/**
 * The cost of the worker's tenant list (GET /_worker/users) with N tenants:
 * building the sorted listing from the 256 fan-out directories (what a page
 * costs at most once per CACHE_MS), and paging through all of it.
 *   npx tsx bench/portability/tenant-list-bench.ts [tenants=10000]
 *   npm run build && node dist/bench/portability/tenant-list-bench.js [tenants=10000]
 *   node dist/bench/portability/tenant-list-bench.js 1100   # CI smoke (portability-bench-smoke.test.ts): two pages
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTenantIds, MAX_PAGE, TenantDirectory } from '../../services/partition/tenant-directory.js';
import { fanOutDir } from '../../services/partition/user-id.js';

const tenants = Number(process.argv[2] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'pinbase-tenant-list-'));
try {
  for (let i = 0; i < tenants; i++) {
    const id = `user-${i}`;
    mkdirSync(join(dir, fanOutDir(id)), { recursive: true });
    writeFileSync(join(dir, fanOutDir(id), `${id}.sqlite`), '');
  }
  for (let round = 1; round <= 3; round++) {
    const start = performance.now();
    await listTenantIds(dir);
    console.log(`listing of ${tenants} tenants (256 readdir calls), round ${round}: ${(performance.now() - start).toFixed(1)} ms`);
  }
  const directory = new TenantDirectory(dir);
  await directory.page(undefined, 1);
  const start = performance.now();
  let after: string | undefined;
  let pages = 0;
  let listed = 0;
  do {
    const page = await directory.page(after, MAX_PAGE);
    after = page.next ?? undefined;
    pages++;
    listed += page.users.length;
  } while (after !== undefined);
  const ms = performance.now() - start;
  if (listed !== tenants) throw new Error(`the pages listed ${listed} tenants, not ${tenants}`);
  console.log(`${pages} pages of ${MAX_PAGE} from the cached listing (one stat per entry): ${ms.toFixed(1)} ms, ${(ms / pages).toFixed(1)} ms per page`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
