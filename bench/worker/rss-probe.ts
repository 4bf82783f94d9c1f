/**
 * Touches `--users` distinct users (one write each) through a store whose
 * LRU holds at most `--max-open` partitions, printing RSS as it goes: the
 * memory of a worker that has served many users must stay bounded.
 * Run as its own process so that nothing else is in its heap.
 */
import { parseArgs } from 'node:util';
import { benchStore } from './storage-bench.js';

const { values } = parseArgs({ options: { users: { type: 'string' }, 'max-open': { type: 'string' }, data: { type: 'string' } } });
const users = Number(values.users ?? 100_000);
const maxOpen = Number(values['max-open'] ?? 1000);
const store = benchStore(values.data!, 'pipelined', maxOpen);
const samples: { users: number; rssMiB: number; open: number }[] = [];
const started = performance.now();
const concurrency = 32;
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (let u = next++; u < users; u = next++) {
      await store.write(`rss${u}`, { op: 'put', collection: 'c', id: 'x', document: { u }, precondition: {} });
      if ((u + 1) % Math.max(1, Math.floor(users / 10)) === 0) {
        samples.push({ users: u + 1, rssMiB: process.memoryUsage.rss() / 2 ** 20, open: store.pool.openCount });
      }
    }
  }),
);
await store.close();
process.stdout.write(`${JSON.stringify({ users, maxOpen, seconds: (performance.now() - started) / 1000, samples })}\n`);
