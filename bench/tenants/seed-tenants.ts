/**
 * Creates many tenants' files quickly for the tenants benchmark: one
 * template partition is written through the real storage layer (a
 * PartitionStore: schema, migrations, one object `bench/o0`, closed so its
 * WAL is checkpointed into the file), then copied to every user's path
 * (`<data>/<fan-out>/<user>.sqlite`). A partition file holds nothing
 * user-specific (the owner record beside it is created at the first lease),
 * so each copy is a valid partition of its user, with the object at rev 1.
 * Going through the worker instead costs a cold open, a commit and an fsync
 * per user: ~5 ms each here (docs/BENCHMARKS.md, "Memory with many users":
 * 100,000 users in 547 s); a copy is a few tens of µs.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { partitionPath } from '../../services/partition/user-id.js';
import { benchStore } from '../worker/storage-bench.js';

export async function seedTenants(dataDir: string, scratchDir: string, users: number, userPrefix: string): Promise<{ seconds: number; templateBytes: number }> {
  const started = performance.now();
  const templateDir = mkdtempSync(join(scratchDir, 'template-'));
  const store = benchStore(templateDir, 'pipelined', 1);
  await store.write('template', { op: 'put', collection: 'bench', id: 'o0', document: { title: 'benchmark', n: 0, tags: ['a', 'b'] }, precondition: {} });
  await store.close();
  const template = partitionPath(templateDir, 'template');
  if (existsSync(`${template}-wal`)) throw new Error('the template partition kept a WAL after close');
  const made = new Set<string>();
  for (let i = 0; i < users; i++) {
    const file = partitionPath(dataDir, `${userPrefix}${i}`);
    const dir = file.slice(0, file.lastIndexOf('/'));
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    copyFileSync(template, file);
  }
  const { size } = statSync(template);
  rmSync(templateDir, { recursive: true, force: true });
  return { seconds: (performance.now() - started) / 1000, templateBytes: size };
}
