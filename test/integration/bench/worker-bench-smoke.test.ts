/**
 * The worker and storage benchmarks still run end to end, at their quickest
 * settings (`--quick`):
 *   bench/worker/worker-bench.ts     `npm run bench:worker`: every section (storage, cold, http, rss) and every durability
 *   bench/worker/fsync-scaling.ts    the four libuv pool sizes (docs/BENCHMARKS.md)
 *   bench/worker/json-patch-cost.ts  the six costliest patches (docs/ARCHITECTURE.md), each refused or applied as expected
 *   bench/storage/glusterfs-bench.ts `npm run bench:glusterfs`: local disk and a real GlusterFS volume, cold opens and HTTP
 *   bench/worker/co-tenant-bench.ts a quiet tenant's GETs alone and beside a busy one's unindexed sorts (fair turns)
 *   bench/partition/json-numbers.ts  the number check beside JSON.parse, per kind of number (positional size and runs)
 * Every table's rows are checked to be there with finite figures (> 0 where
 * they must be) and no errors; the figures themselves are not judged (a
 * shared CI machine).
 *
 * The GlusterFS benchmark's glusterd must listen on port 24007, as every
 * glusterd the tests start does: like the storage-check and deployment
 * tests, the benchmark runs in a network namespace of its own (`nsenter
 * --net` only, so its FUSE mount stays in this machine's mount namespace),
 * where 24007 is free whatever other GlusterFS test runs beside it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { assertBuilt } from '../../support/cli-process.js';
import { runQuickBench, tableCells } from './quick-bench.js';

/** A figure as the benchmarks print it (`12,345`, `0.37`). */
const figure = (cell: string | undefined) => Number((cell ?? '').replace(/,/g, ''));

/** The text of the section whose `## ` title starts with `title`, up to the next section. */
function section(out: string, title: string): string {
  const start = out.indexOf(`\n## ${title}`);
  expect(start, `no section "## ${title}" in:\n${out}`).toBeGreaterThanOrEqual(0);
  const end = out.indexOf('\n## ', start + 1);
  return out.slice(start, end < 0 ? undefined : end);
}

it('the worker benchmark prints every section (writes per durability and the raw SQLite ceiling, cold opens, HTTP GET and PUT per durability, RSS under the LRU cap) with non-zero figures and no errors', async () => {
  const { out, err } = await runQuickBench('worker/worker-bench.js');
  const context = `${out}\n${err}`;

  const storage = tableCells(section(out, 'Durable writes to one partition'), 'durability');
  expect(storage.map((row) => row[0]), context).toEqual(['pipelined', 'inline', 'normal', 'raw SQLite, same rows, 64 per transaction, no fsync']);
  for (const [durability, one, many, ratio] of storage.slice(0, 3)) {
    expect(figure(one), `${durability}\n${context}`).toBeGreaterThan(0);
    expect(figure(many), `${durability}\n${context}`).toBeGreaterThan(0);
    expect(ratio, `${durability}\n${context}`).toMatch(/^\d[\d,]*\.\d×$/);
  }
  expect(figure(storage[3]![2]), context).toBeGreaterThan(0);

  const cold = tableCells(section(out, 'Cold open of a partition'), 'pool');
  expect(cold.map(([pool, opens]) => `${pool!.split(' ')[0]} ${opens}`), context).toEqual(['filling 20', 'full 40']);
  for (const [pool, , ...times] of cold) {
    for (const ms of times) expect(figure(ms), `${pool}\n${context}`).toBeGreaterThan(0);
  }

  const steps = tableCells(section(out, 'Cold open step by step'), 'lease acquire');
  expect(steps, context).toHaveLength(1);
  expect(steps[0], context).toHaveLength(7);
  for (const us of steps[0]!) expect(figure(us), context).toBeGreaterThan(0);

  const http = tableCells(section(out, 'One worker over HTTP'), 'durability');
  expect(http.map((row) => row[0]), context).toEqual(['pipelined', 'inline', 'normal']);
  for (const [durability, getRps, getLatency, putRps, putLatency, ratio] of http) {
    const what = `${durability}\n${context}`;
    expect(figure(getRps), what).toBeGreaterThan(0);
    expect(figure(putRps), what).toBeGreaterThan(0);
    for (const latency of [getLatency, putLatency]) {
      const [p50, p99] = latency!.split(' / ').map(figure);
      expect(p50, what).toBeGreaterThan(0);
      expect(p99, what).toBeGreaterThanOrEqual(p50!);
    }
    // Errors would follow the ratio: "0.37× (12 errors)".
    expect(ratio, what).toMatch(/^\d[\d,]*\.\d\d×$/);
  }

  const rss = tableCells(section(out, 'RSS while touching'), 'users touched');
  expect(
    rss.map(([users]) => figure(users)).sort((a, b) => a - b),
    context,
  ).toEqual([12, 24, 36, 48, 60, 72, 84, 96, 108, 120]);
  for (const [users, open, rssMiB] of rss) {
    expect(figure(open), `${users}\n${context}`).toBeGreaterThan(0);
    expect(figure(open), `the LRU cap (--max-open 40) at ${users} users\n${context}`).toBeLessThanOrEqual(40);
    expect(figure(rssMiB), `${users}\n${context}`).toBeGreaterThan(0);
  }
}, 240_000);

it('the fsync scaling benchmark prints a non-zero fdatasync rate for each of the four thread pool sizes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-fsync-smoke-'));
  try {
    const { out, err } = await runQuickBench('worker/fsync-scaling.js', { args: ['--quick', dir] });
    expect(out, err).toContain(`fdatasync of 100 files, 16 concurrent appenders, 0.5 s per row, in ${dir}`);
    const rows = tableCells(out, 'UV_THREADPOOL_SIZE');
    expect(rows.map(([size]) => size), out).toEqual(['4', '16', '32', '64']);
    for (const [size, rate] of rows) expect(figure(rate), `UV_THREADPOOL_SIZE=${size}\n${out}`).toBeGreaterThan(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);

it('the JSON Patch cost benchmark times its six costliest patches, each refused or applied as the budgets say', async () => {
  // The script itself exits non-zero when a patch that must be refused applies, or the other way round.
  const { out, err } = await runQuickBench('worker/json-patch-cost.js');
  const lines = out.trim().split('\n');
  const expected = [
    /^\d+ copies of a \d+-node subtree \(refused at the copy budget\)$/,
    /^\d+ moves of a \d+-node subtree, deeper and back \(refused at the walk budget\)$/,
    /^\d+ inserts at the front of a \d+-item array \(1 MiB of numbers; refused at the shift budget\)$/,
    /^\d+ inserts at the front of a \d+-item array \(refused at the shift budget\)$/,
    /^a test of a whole \d+-node document$/,
    /^\d+ replaces of members of a \d+-node document$/,
  ];
  expect(lines, `${out}\n${err}`).toHaveLength(expected.length);
  lines.forEach((line, i) => {
    const match = /^\s*(\S+) ms {2}(.+)$/.exec(line);
    expect(match, out).not.toBeNull();
    expect(Number(match![1]), line).toBeGreaterThan(0);
    expect(match![2], out).toMatch(expected[i]!);
  });
}, 60_000);

/** Runs `node dist/bench/<script> args` inside a new network namespace (loopback up); its output once it exits 0. */
async function runInNetns(script: string, args: string[], timeoutMs: number): Promise<{ out: string; err: string }> {
  assertBuilt();
  const bench = fileURLToPath(new URL(`../../../dist/bench/${script}`, import.meta.url));
  expect(existsSync(bench), `${bench}: run npm run build`).toBe(true);
  const name = `pbbench${process.pid}`;
  const run = (command: string, commandArgs: string[]) => {
    const result = spawnSync(command, commandArgs, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')}: ${result.stderr}${result.error?.message ?? ''}`);
  };
  run('ip', ['netns', 'add', name]);
  try {
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    // nsenter execs node: the child's pid is the benchmark's, whose SIGTERM handler tears its volume down.
    const child = spawn('nsenter', [`--net=/run/netns/${name}`, process.execPath, bench, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    expect(code, `${script} ${args.join(' ')} exited ${code}:\n${out}\n${err}`).toBe(0);
    return { out, err };
  } finally {
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  }
}

it('the GlusterFS benchmark sets up a real volume and prints cold opens and HTTP GET and PUT for the local disk and the mount, with no errors', async () => {
  const { out, err } = await runInNetns('storage/glusterfs-bench.js', ['--quick'], 100_000);
  const context = `${out}\n${err}`;
  expect(out, context).toContain('mounted with --fopen-keep-cache=false --attribute-timeout=0 --entry-timeout=0');
  expect(out, context).toContain('client.strict-locks=on');

  const cold = tableCells(section(out, 'Cold open of a partition'), 'storage');
  expect(cold.map(([storage]) => storage), context).toEqual(['local disk', 'GlusterFS mount']);
  for (const [storage, ...times] of cold) {
    expect(times, context).toHaveLength(3);
    for (const ms of times) expect(figure(ms), `${storage}\n${context}`).toBeGreaterThan(0);
  }

  const http = tableCells(section(out, 'One worker over HTTP'), 'storage');
  expect(http.map(([storage]) => storage), context).toEqual(['local disk', 'GlusterFS mount']);
  for (const [storage, getRps, getLatency, putRps, putLatency] of http) {
    const what = `${storage}\n${context}`;
    expect(figure(getRps), what).toBeGreaterThan(0);
    expect(figure(putRps), what).toBeGreaterThan(0);
    expect(getLatency, what).toMatch(/^[\d,]+\.\d\d \/ [\d,]+\.\d\d$/);
    // Errors would follow the PUT latencies: "12.00 / 30.00 (3 errors)".
    expect(putLatency, what).toMatch(/^[\d,]+\.\d\d \/ [\d,]+\.\d\d$/);
  }
}, 150_000);

it('the co-tenant benchmark prints the quiet tenant\'s GET latency alone and beside the busy one, and the busy one\'s rate alone and beside it', async () => {
  const { out, err } = await runQuickBench('worker/co-tenant-bench.js');
  const what = `${out}\n${err}`;
  const rows = tableCells(out, 'phase');
  expect(rows.map(([phase]) => phase), what).toEqual(['light alone', 'heavy alone', 'both']);
  const [alone, heavy, both] = rows;
  for (const row of [alone!, both!]) for (const cell of row.slice(1, 5)) expect(figure(cell), `${row.join(' | ')}\n${what}`).toBeGreaterThan(0);
  expect(figure(heavy![5]), what).toBeGreaterThan(0);
  expect(figure(both![5]), what).toBeGreaterThan(0);
  expect(out, what).toMatch(/^light's p99 beside heavy: \S+× alone; heavy's rate beside light: \S+× alone$/m);
}, 120_000);

it('the JSON numbers benchmark times the number check beside JSON.parse for each kind of number', async () => {
  const { out, err } = await runQuickBench('partition/json-numbers.js', { args: ['65536', '3'] });
  const lines = out.trim().split('\n');
  expect(lines[0], err).toBe('body of 65536 bytes, median of 3 runs');
  expect(lines.slice(1).map((line) => line.split(':')[0]), out).toEqual(['typical doubles', 'integers above 2^53', '17 digits, exponent beyond 280']);
  for (const line of lines.slice(1)) {
    const [, check, parse] = /: check (\S+) ms, JSON\.parse (\S+) ms, \S+×$/.exec(line) ?? [];
    expect(figure(check), line).toBeGreaterThan(0);
    expect(figure(parse), line).toBeGreaterThan(0);
  }
}, 60_000);
