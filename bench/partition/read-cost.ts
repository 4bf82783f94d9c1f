/**
 * What a primary-key read of an object's current version costs as more
 * partitions are open at once (the object cache's reason to be): N partition
 * files, one object each, read in random order straight from SQLite
 * (readObject), then through the worker's ObjectCache once every object is
 * in it. Prints ns per read for each.
 *
 *   npm run build && node dist/bench/partition/read-cost.js 1 1000
 *   node dist/bench/partition/read-cost.js --quick 1 50    # CI smoke: 10,000 reads per measure instead of 200,000
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectCache } from '../../services/partition/object-cache.js';
import { readObject } from '../../services/partition/object-reads.js';
import { openPartitionDatabase } from '../../services/partition/partition-database.js';
import { Statements } from '../../services/partition/statements.js';

const QUICK = process.argv.includes('--quick');
const READS = QUICK ? 10_000 : 200_000;

function measure(partitions: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-read-cost-'));
  const connections: Statements[] = [];
  try {
    for (let i = 0; i < partitions; i++) {
      const db = openPartitionDatabase(join(dir, `u${i}.sqlite`), { durability: 'normal', cacheKiB: 1024 });
      db.prepare("INSERT INTO versions (vid, rev, collection, id, prev, deleted, committed_at, body) VALUES (1, 1, 'notes', 'n1', NULL, 0, 1, ?)").run(
        '{"title":"hello","n":1,"tags":["a","b"]}',
      );
      db.prepare("INSERT INTO objects (collection, id, vid, rev, deleted) VALUES ('notes', 'n1', 1, 1, 0)").run();
      connections.push(new Statements(db));
    }
    const cache = new ObjectCache(32 * 1024 * 1024);
    const generations = connections.map(() => cache.generation());
    connections.forEach((sql, i) => cache.set(generations[i]!, 'notes', 'n1', readObject(sql, 'notes', 'n1')!));
    const time = (read: (i: number) => unknown) => {
      const started = process.hrtime.bigint();
      for (let k = 0; k < READS; k++) read(Math.floor(Math.random() * partitions));
      return Number(process.hrtime.bigint() - started) / READS;
    };
    time((i) => readObject(connections[i]!, 'notes', 'n1')); // warm-up
    const sqlite = time((i) => readObject(connections[i]!, 'notes', 'n1'));
    const cached = time((i) => cache.get(generations[i]!, 'notes', 'n1'));
    console.log(`${partitions} partitions open: SQLite ${sqlite.toFixed(0)} ns per read, object cache ${cached.toFixed(0)} ns`);
  } finally {
    for (const sql of connections) sql.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const partitions of process.argv.slice(2).filter((arg) => arg !== '--quick').map(Number)) measure(partitions);
