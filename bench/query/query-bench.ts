/**
 * Query benchmark (see docs/BENCHMARKS.md): one tenant of N objects (100k by
 * default) on one worker over HTTP, the same queries unindexed (a scan) and
 * indexed, side by side in one run:
 *   equality  {"customer":"c42"}            (N/1000 matches)
 *   range     {"n":{"$gte":x,"$lt":x+20}}   (20 matches)
 *   order     order=-n, first page of 20
 * A query answers a page of at most 20; an unindexed one may end a page early
 * on its examination budget and go on with a cursor: what is timed is the
 * whole walk to the first 20 matches (or the end), as a client sees it.
 * Usage: npm run bench:query -- [--objects 100000] [--runs 200]
 *        npm run bench:query -- --quick   # CI smoke: 5,000 objects, 20 runs
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort, stop, waitReady } from '../router/bench-processes.js';

const CLI = fileURLToPath(new URL('../../../bin/pinbase.cjs', import.meta.url));
const { values } = parseArgs({ options: { objects: { type: 'string' }, runs: { type: 'string' }, quick: { type: 'boolean' } } });
const QUICK = values.quick === true;
const objects = Number(values.objects ?? (QUICK ? 5_000 : 100_000));
const runs = Number(values.runs ?? (QUICK ? 20 : 200));
const scanRuns = Math.max(5, Math.min(runs, 30));
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const USER = '/api/users/bench';

const scratch = mkdtempSync(join(tmpdir(), 'pinbase-query-bench-'));
const port = await freePort();
const child = spawn(
  process.execPath,
  [CLI, 'worker', '--id', 'bench', '--port', String(port), '--data', scratch, '--log-level', 'warn'],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
const url = `http://127.0.0.1:${port}`;
const pool = new Pool(url, { connections: 8 });

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, unknown>; json: unknown }> {
  const response = await pool.request({
    method: method,
    path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, json: text === '' ? undefined : JSON.parse(text) };
}

/** Walks pages until 20 items or the end; returns the ms taken and the index header of the first page. */
async function query(params: string): Promise<{ ms: number; index: string; items: number }> {
  const started = process.hrtime.bigint();
  let cursor: string | null = null;
  let items = 0;
  let index = '';
  for (;;) {
    const target = `${USER}/orders?limit=20&${params}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const { status, headers, json } = await call('GET', target);
    if (status !== 200) throw new Error(`${target} answered ${status}: ${JSON.stringify(json)}`);
    index ||= String(headers['x-pinbase-index']);
    const page = json as { items: unknown[]; next: string | null };
    items += page.items.length;
    if (items >= 20 || page.next === null) break;
    cursor = page.next;
  }
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, index, items };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(params: string, count: number): Promise<{ p50: number; p99: number; index: string; items: number }> {
  await query(params);
  const times: number[] = [];
  let last = { index: '', items: 0 };
  for (let i = 0; i < count; i++) {
    const result = await query(params);
    times.push(result.ms);
    last = result;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), ...last };
}

try {
  await waitReady(url, '/readyz', 30_000, child);
  console.log(`Pinbase query benchmark — ${new Date().toISOString()} — ${cpus().length} CPUs, Node ${process.version}`);
  const loadStarted = Date.now();
  for (let start = 0; start < objects; start += 1000) {
    const ops = Array.from({ length: Math.min(1000, objects - start) }, (_, k) => {
      const n = start + k;
      return {
        op: 'put',
        collection: 'orders',
        id: `o${String(n).padStart(7, '0')}`,
        data: { customer: `c${n % 1000}`, n, status: n % 3 === 0 ? 'open' : 'closed', total: (n * 7919) % 10_000, note: 'benchmark order' },
      };
    });
    const { status, json } = await call('POST', `${USER}/_tx`, { ops });
    if (status !== 200) throw new Error(`load answered ${status}: ${JSON.stringify(json)}`);
  }
  console.log(`\nLoaded ${fmt(objects)} objects into one tenant in ${fmt((Date.now() - loadStarted) / 1000, 1)} s (transactions of 1000 puts).`);

  const mid = Math.floor(objects / 2);
  const queries: [string, string][] = [
    ['equality', `filter=${encodeURIComponent(JSON.stringify({ customer: 'c42' }))}`],
    ['range', `filter=${encodeURIComponent(JSON.stringify({ n: { $gte: mid, $lt: mid + 20 } }))}`],
    ['order by, first page', 'order=-n'],
  ];
  const scans: Awaited<ReturnType<typeof measure>>[] = [];
  for (const [, params] of queries) scans.push(await measure(params, scanRuns));

  const built: [string, number][] = [];
  for (const [name, paths] of [
    ['by_customer', ['customer']],
    ['by_n', ['n']],
  ] as const) {
    const started = Date.now();
    const created = await call('PUT', `${USER}/_indexes/orders/${name}`, { paths });
    if (created.status >= 300) throw new Error(`index ${name}: ${created.status} ${JSON.stringify(created.json)}`);
    for (;;) {
      const state = await call('GET', `${USER}/_indexes/orders/${name}`);
      const { state: s } = state.json as { state: string };
      if (s === 'ready') break;
      if (s === 'failed') throw new Error(`index ${name} failed: ${JSON.stringify(state.json)}`);
      await sleep(20);
    }
    built.push([name, Date.now() - started]);
  }
  const indexed: Awaited<ReturnType<typeof measure>>[] = [];
  for (const [, params] of queries) indexed.push(await measure(params, runs));

  console.log(`\n## ${fmt(objects)} objects in one tenant: first 20 matches, unindexed (${scanRuns} runs) vs indexed (${runs} runs)`);
  console.log('| query | scan p50 ms | scan p99 ms | indexed p50 ms | indexed p99 ms | X-Pinbase-Index (scan / indexed) | p50 speed-up |');
  console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: |');
  queries.forEach(([name], i) => {
    const scan = scans[i]!;
    const hit = indexed[i]!;
    console.log(
      `| ${name} | ${fmt(scan.p50, 2)} | ${fmt(scan.p99, 2)} | ${fmt(hit.p50, 3)} | ${fmt(hit.p99, 3)} | ${scan.index} / ${hit.index} | ${fmt(scan.p50 / hit.p50)}× |`,
    );
  });
  console.log(`\nIndex builds (PUT to ready, background batches): ${built.map(([name, ms]) => `${name} ${fmt(ms)} ms`).join(', ')}`);
} finally {
  await pool.close();
  await stop(child);
  rmSync(scratch, { recursive: true, force: true });
}
