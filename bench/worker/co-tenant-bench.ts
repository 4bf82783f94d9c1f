/**
 * What one busy tenant costs its co-tenants on a worker (see
 * docs/BENCHMARKS.md, "A busy tenant beside a quiet one"): a worker over
 * HTTP, tenant `heavy` with N objects and tenant `light` with 10; side by
 * side in one run:
 *   1. light alone: one GET at a time;
 *   2. heavy alone: C connections, each a query that sorts every object
 *      without an index (`order=-n`, first page of 20), back to back;
 *   3. both at once.
 * Printed: light's GET latency (p50, p99, max) and heavy's queries per
 * second in each phase; the ratios say what the other tenant cost.
 * Usage: npm run build && node dist/bench/worker/co-tenant-bench.js [--objects 50000] [--connections 32] [--seconds 10]
 *        node dist/bench/worker/co-tenant-bench.js --quick   # CI smoke: 2,000 objects, 2 s a phase
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort, stop, waitReady } from '../router/bench-processes.js';

const CLI = fileURLToPath(new URL('../../../bin/pinbase.cjs', import.meta.url));
const { values } = parseArgs({
  options: { objects: { type: 'string' }, connections: { type: 'string' }, seconds: { type: 'string' }, quick: { type: 'boolean' } },
});
const QUICK = values.quick === true;
const objects = Number(values.objects ?? (QUICK ? 2_000 : 50_000));
const connections = Number(values.connections ?? (QUICK ? 8 : 32));
const seconds = Number(values.seconds ?? (QUICK ? 2 : 10));
const HEAVY = '/api/users/heavy';
const LIGHT = '/api/users/light';

const scratch = mkdtempSync(join(tmpdir(), 'pinbase-co-tenant-bench-'));
const port = await freePort();
const child = spawn(process.execPath, [CLI, 'worker', '--id', 'bench', '--port', String(port), '--data', scratch, '--log-level', 'warn'], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
const url = `http://127.0.0.1:${port}`;
const heavyPool = new Pool(url, { connections });
const lightPool = new Pool(url, { connections: 1 });

async function call(pool: Pool, method: string, path: string, body?: unknown): Promise<number> {
  const response = await pool.request({
    method,
    path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${method} ${path} answered ${response.statusCode}: ${text.slice(0, 300)}`);
  return response.statusCode;
}

/** light: one GET at a time until `until`; the latencies in ms. */
async function lightLoop(until: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; Date.now() < until; i++) {
    const started = process.hrtime.bigint();
    await call(lightPool, 'GET', `${LIGHT}/notes/n${i % 10}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times;
}

/** heavy: `connections` loops of an unindexed sort until `until`; queries answered. */
async function heavyLoops(until: number): Promise<number> {
  let done = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < until) {
        await call(heavyPool, 'GET', `${HEAVY}/orders?order=-n&limit=20`);
        done++;
      }
    }),
  );
  return done;
}

function summary(times: number[]): { count: number; p50: number; p99: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

const f = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

try {
  await waitReady(url, '/readyz', 30_000, child);
  console.log(`Pinbase co-tenant benchmark — ${new Date().toISOString()} — ${cpus().length} CPUs, Node ${process.version}`);
  for (let start = 0; start < objects; start += 1000) {
    const ops = Array.from({ length: Math.min(1000, objects - start) }, (_, k) => {
      const n = start + k;
      return { op: 'put', collection: 'orders', id: `o${String(n).padStart(7, '0')}`, data: { n, customer: `c${n % 1000}`, note: 'benchmark order' } };
    });
    await call(heavyPool, 'POST', `${HEAVY}/_tx`, { ops });
  }
  for (let i = 0; i < 10; i++) await call(lightPool, 'PUT', `${LIGHT}/notes/n${i}`, { i, text: 'a small note' });
  // Warm both: the files open, the statements prepared.
  await heavyLoops(Date.now() + 500);
  await lightLoop(Date.now() + 500);

  const light = summary(await lightLoop(Date.now() + seconds * 1000));
  const heavyAlone = (await heavyLoops(Date.now() + seconds * 1000)) / seconds;
  const until = Date.now() + seconds * 1000;
  const [beside, heavyBeside] = await Promise.all([lightLoop(until), heavyLoops(until)]);
  const lightBeside = summary(beside);

  console.log(`\n## light's GETs beside heavy's unindexed sorts of ${f(objects, 0)} objects on ${connections} connections, ${seconds} s a phase`);
  console.log('| phase | light GETs | light p50 ms | light p99 ms | light max ms | heavy queries/s |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  console.log(`| light alone | ${light.count} | ${f(light.p50, 2)} | ${f(light.p99, 2)} | ${f(light.max, 2)} | |`);
  console.log(`| heavy alone | | | | | ${f(heavyAlone)} |`);
  console.log(`| both | ${lightBeside.count} | ${f(lightBeside.p50, 2)} | ${f(lightBeside.p99, 2)} | ${f(lightBeside.max, 2)} | ${f(heavyBeside / seconds)} |`);
  console.log(`\nlight's p99 beside heavy: ${f(lightBeside.p99 / light.p99)}× alone; heavy's rate beside light: ${f(heavyBeside / seconds / heavyAlone, 2)}× alone`);
} finally {
  await heavyPool.close();
  await lightPool.close();
  await stop(child);
  rmSync(scratch, { recursive: true, force: true });
}
