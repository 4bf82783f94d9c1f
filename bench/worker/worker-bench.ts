/**
 * Worker benchmarks, side by side in one run (see docs/BENCHMARKS.md):
 *   storage  in-process durable writes to one partition, 1 and 64 writers
 *   cold     cost of opening a closed partition
 *   http     one worker over HTTP (wrk, 64 connections, 1000 users): GET vs PUT
 *   rss      RSS while 100k users are touched under the LRU cap
 * Usage: npm run bench:worker -- [--only storage,cold,http,rss] [--seconds 10] [--users 100000]
 *        npm run bench:worker -- --quick   # CI smoke: every section and setup, smaller: storage 0.25 s per run,
 *                                          # cold 60 users (--max-open 20, 20 step by step), http 1 s per wrk run
 *                                          # over 20 users x 2 objects, rss 120 users under --max-open 40
 *                                          # (--seconds and --users still apply)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Durability } from '../../services/partition/partition-database.js';
import { assertWrkInstalled, runWrk, spreadOverUsersLua, type WrkResult } from '../support/wrk.js';
import { startBenchWorker } from './bench-worker.js';
import { coldOpen, coldOpenParts, rawSqliteCeiling, writeThroughput } from './storage-bench.js';

const { values } = parseArgs({
  options: { only: { type: 'string' }, seconds: { type: 'string' }, users: { type: 'string' }, quick: { type: 'boolean' } },
});
const QUICK = values.quick === true;
const sections = new Set((values.only ?? 'storage,cold,http,rss').split(','));
const seconds = Number(values.seconds ?? (QUICK ? 1 : 10));
const rssUsers = Number(values.users ?? (QUICK ? 120 : 100_000));
/** The LRU cap while the RSS section touches its users (above rss-probe's 32 concurrent writers, which each hold one). */
const rssMaxOpen = QUICK ? 40 : 1000;
/** Each in-process write run (storage). */
const storageSeconds = QUICK ? 0.25 : Math.max(2, seconds / 2);
/** Cold opens: partitions, the pool's size, and partitions timed step by step. */
const coldUsers = QUICK ? 60 : 3000;
const coldMaxOpen = QUICK ? 20 : 1000;
const partsUsers = QUICK ? 20 : 1000;
/** The HTTP worker's preloaded users × objects. */
const httpUsers = QUICK ? 20 : 1000;
const httpObjects = QUICK ? 2 : 10;
const scratch = mkdtempSync(join(tmpdir(), 'pinbase-bench-'));
const fresh = (name: string) => mkdtempSync(join(scratch, `${name}-`));
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

console.log(`Pinbase worker benchmark — ${new Date().toISOString()} — ${cpus().length} CPUs, Node ${process.version}`);

try {
  if (sections.has('storage')) {
    console.log(`\n## Durable writes to one partition, in process (${storageSeconds} s each)`);
    console.log('| durability | 1 writer (rows/s) | 64 writers (rows/s) | 64 vs 1 |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const durability of ['pipelined', 'inline', 'normal'] as Durability[]) {
      const one = await writeThroughput(fresh('one'), durability, 1, storageSeconds);
      const many = await writeThroughput(fresh('many'), durability, 64, storageSeconds);
      console.log(`| ${durability} | ${fmt(one)} | ${fmt(many)} | ${fmt(many / one, 1)}× |`);
    }
    const ceiling = rawSqliteCeiling(fresh('ceiling'), storageSeconds);
    console.log(`| raw SQLite, same rows, 64 per transaction, no fsync | | ${fmt(ceiling)} | |`);
  }

  if (sections.has('cold')) {
    const users = coldUsers;
    const maxOpen = coldMaxOpen;
    const result = await coldOpen(fresh('cold'), users, maxOpen);
    console.log(`\n## Cold open of a partition (lease + SQLite open + first read), ${users} users, one at a time, --max-open ${maxOpen}`);
    console.log('| pool | opens | mean ms | p50 ms | p99 ms |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const [name, opens, t] of [
      ['filling (first opens of the process)', maxOpen, result.filling],
      ['full (each open closes the least recently used)', users - maxOpen, result.full],
    ] as const) {
      console.log(`| ${name} | ${opens} | ${fmt(t.meanMs, 3)} | ${fmt(t.p50Ms, 3)} | ${fmt(t.p99Ms, 3)} |`);
    }
    const parts = await coldOpenParts(fresh('cold-parts'), partsUsers);
    console.log(`\n## Cold open step by step (mean µs over ${partsUsers} closed partitions, one at a time)`);
    console.log('| lease acquire | SQLite open | first read | SQLite close | lease release | bare mkdir | bare rmdir |');
    console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(
      `| ${[parts.leaseAcquire, parts.sqliteOpen, parts.firstRead, parts.sqliteClose, parts.leaseRelease, parts.bareMkdir, parts.bareRmdir].map((us) => fmt(us)).join(' | ')} |`,
    );
  }

  if (sections.has('http')) {
    assertWrkInstalled();
    console.log(`\n## One worker over HTTP: wrk -t2 -c64 -d${seconds}s, ${httpUsers} users x ${httpObjects} objects`);
    console.log('| durability | GET req/s | GET p50 / p99 ms | PUT req/s | PUT p50 / p99 ms | PUT / GET |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const durability of ['pipelined', 'inline', 'normal'] as Durability[]) {
      const worker = await startBenchWorker(fresh('http'), durability, httpUsers, httpObjects);
      let get: WrkResult;
      let put: WrkResult;
      try {
        get = await runWrk({ baseUrl: worker.url, connections: 64, seconds, requestLua: spreadOverUsersLua('GET', httpUsers, httpObjects) });
        put = await runWrk({ baseUrl: worker.url, connections: 64, seconds, requestLua: spreadOverUsersLua('PUT', httpUsers, httpObjects) });
      } finally {
        await worker.stop();
      }
      const errors = get.errors + put.errors;
      console.log(
        `| ${durability} | ${fmt(get.rps)} | ${fmt(get.p50ms, 2)} / ${fmt(get.p99ms, 2)} | ${fmt(put.rps)} | ${fmt(put.p50ms, 2)} / ${fmt(put.p99ms, 2)} | ${fmt(put.rps / get.rps, 2)}×${errors > 0 ? ` (${errors} errors)` : ''} |`,
      );
    }
  }

  if (sections.has('rss')) {
    const probe = fileURLToPath(new URL('./rss-probe.js', import.meta.url));
    const output = execFileSync(process.execPath, [probe, '--users', String(rssUsers), '--max-open', String(rssMaxOpen), '--data', fresh('rss')], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    const result = JSON.parse(output.trim().split('\n').pop()!) as {
      seconds: number;
      samples: { users: number; rssMiB: number; open: number }[];
    };
    console.log(`\n## RSS while touching ${fmt(rssUsers)} users (one write each) with --max-open ${rssMaxOpen} (${fmt(result.seconds, 1)} s)`);
    console.log('| users touched | open partitions | RSS MiB |');
    console.log('| ---: | ---: | ---: |');
    for (const s of result.samples) console.log(`| ${fmt(s.users)} | ${s.open} | ${fmt(s.rssMiB)} |`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
