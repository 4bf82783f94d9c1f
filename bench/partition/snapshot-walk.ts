/**
 * What a snapshot read of one object costs as the object's versions grow,
 * with anchors (every ANCHOR_EVERY-th version links to the one before) and
 * without them (the same chain walked one version at a time, as a chain
 * written before migration 4 is): one partition file, one object written
 * N times through StoredObjects.append in one transaction (µs per append
 * printed), then readObject at the newest, a middle and the oldest
 * snapshot, each both ways, side by side.
 *
 *   npm run build && node dist/bench/partition/snapshot-walk.js 1000000
 *   node dist/bench/partition/snapshot-walk.js 20000    # CI smoke (test/integration/bench/portability-bench-smoke.test.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainAt, readHead } from '../../services/partition/object-reads.js';
import { openPartitionDatabase } from '../../services/partition/partition-database.js';
import { Statements } from '../../services/partition/statements.js';
import { StoredObjects } from '../../services/partition/stored-objects.js';

const versions = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'pinbase-snapshot-walk-'));
const db = openPartitionDatabase(join(dir, 'u.sqlite'), { durability: 'normal', cacheKiB: 2048 });
try {
  const sql = new Statements(db);
  const objects = new StoredObjects(sql);
  const started = process.hrtime.bigint();
  db.transaction(() => {
    for (let v = 1; v <= versions; v++) objects.append('notes', 'n1', `{"n":${v}}`, objects.head('notes', 'n1'), v, v);
  })();
  console.log(`${versions} versions of one object: ${(Number(process.hrtime.bigint() - started) / versions / 1e3).toFixed(2)} µs per append`);
  const head = readHead(sql, 'notes', 'n1')!;
  const ms = (walk: () => number | undefined, at: number) => {
    const start = process.hrtime.bigint();
    const vid = walk();
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    if (vid !== at) throw new Error(`the walk to ${at} found version ${vid}`);
    return elapsed.toFixed(3);
  };
  for (const at of [versions - 1, Math.ceil(versions / 2), 1]) {
    const anchored = ms(() => chainAt(sql, head.vid, head.rev, at, head.anchor), at);
    const linear = ms(() => chainAt(sql, head.vid, head.rev, at, null), at);
    console.log(`at=${at}: ${anchored} ms with anchors, ${linear} ms one version at a time`);
  }
} finally {
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
