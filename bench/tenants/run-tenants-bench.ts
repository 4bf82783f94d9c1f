/**
 * Cost as tenants grow: one Pinbase worker (authentication on,
 * default durability, `--max-open` at its default), GET and durable PUT of
 * one small object per user, over 1k, 10k and 100k distinct users, each
 * user drawn uniformly or Zipf-skewed (s = 1.1: with 100k users the top 1%
 * of users get ~74% of the requests); wrk -t2 -c64.
 *
 * Beside throughput and latency, from the worker's /metrics and /proc:
 *   cold opens/req  partitions opened during the run per request the worker answered
 *                   (its own counters, read once the requests in flight are answered): the LRU's miss rate
 *                   (a request whose user is not among the --max-open open partitions
 *                   opens its file: lease + SQLite open; when the pool is full the
 *                   least recently used partition is closed first)
 *   open ms         mean time of those opens (pinbase_partition_open_duration_seconds)
 *   open            partitions open at the end of the run (pinbase_open_partitions)
 *   RSS MiB         the worker's resident memory at the end of the run (VmRSS)
 *   errors          non-2xx answers and socket errors; timeouts (no answer within wrk's 2 s) apart
 *
 * The users' files are made before the worker starts by copying one template
 * partition (seed-tenants.ts; the time is printed). Every request carries one
 * service-scope token (a backend acting for many users): per-user tokens for
 * 100k users would overflow the worker's cache of verified tokens (10,000
 * entries) and measure signature checks instead of tenants.
 *
 *   npm run bench:tenants                            # 1k, 10k, 100k users × uniform, zipf × GET, PUT × 10 s (about 6 min)
 *   npm run bench:tenants -- --quick                 # CI smoke: 200 users, 1 s runs, --max-open 64
 *   BENCH_TENANTS=1000,10000 BENCH_SECONDS=10 BENCH_ZIPF=1.1 BENCH_CONNECTIONS=64
 *   BENCH_MAX_OPEN=N                                 # instead of the worker's default
 *
 * Bounded: one worker at a time, stopped at the end of its user count and on
 * failure; each user count's files (~22 KB each: 2.2 GB for 100k) are removed
 * before the next count is seeded, and the temporary directory at the end.
 */
import { readFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import { Pool } from 'undici';
import { defaultMaxOpen } from '../../services/worker/worker-config.js';
import { freePort, MAIN, stop, waitReady } from '../router/bench-processes.js';
import { benchSecrets } from '../support/bench-auth.js';
import { BENCH_OBJECT_PATH, userLoadLua } from '../support/user-load-lua.js';
import { assertWrkInstalled, runWrk, type WrkResult } from '../support/wrk.js';
import { seedTenants } from './seed-tenants.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const QUICK = values.quick === true;
const TENANTS = (process.env.BENCH_TENANTS ?? (QUICK ? '200' : '1000,10000,100000')).split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 10));
const ZIPF = Number(process.env.BENCH_ZIPF ?? 1.1);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const MAX_OPEN = process.env.BENCH_MAX_OPEN ?? (QUICK ? '64' : undefined);
const WARMUP_SECONDS = QUICK ? 0 : 2;
const PREFIX = 't';
const DISTRIBUTIONS = ['uniform', 'zipf'] as const;
const METHODS = ['GET', 'PUT'] as const;

interface Row {
  users: number;
  distribution: (typeof DISTRIBUTIONS)[number];
  method: (typeof METHODS)[number];
  result: WrkResult;
  opensPerRequest: number;
  openMs: number;
  open: number;
  rssMiB: number;
}

interface WorkerMetrics {
  /** /api/users requests the worker answered (pinbase_http_requests_total). */
  requests: number;
  opens: number;
  openSeconds: number;
  open: number;
}

async function metrics(url: string): Promise<WorkerMetrics> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  let requests = 0;
  for (const match of text.matchAll(/^pinbase_http_requests_total\{[^}]*route="\/api\/users[^}]*\} (\S+)$/gm)) requests += Number(match[1]);
  return {
    requests,
    opens: value('pinbase_partition_open_duration_seconds_count'),
    openSeconds: value('pinbase_partition_open_duration_seconds_sum'),
    open: value('pinbase_open_partitions'),
  };
}

/**
 * The worker's figures once the requests wrk left in flight are answered:
 * when two reads 100 ms apart show the same answered requests and opens (at
 * most 10 s), so that opens and requests cover the same requests. (The
 * in-flight gauge is no guide: requests whose connection wrk closed may
 * stay counted.)
 */
async function settledMetrics(url: string): Promise<WorkerMetrics> {
  const deadline = Date.now() + 10_000;
  let last = await metrics(url);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const m = await metrics(url);
    if ((m.requests === last.requests && m.opens === last.opens) || Date.now() > deadline) return m;
    last = m;
  }
}

/**
 * One GET of users 0..count-1 (16 at a time), before any measured run: with
 * count = min(users, --max-open) the LRU starts full of the users a Zipf
 * load hits most (the lowest ranks), and with users ≤ --max-open every
 * user is open, as in a worker that has run for a while.
 */
async function touchUsers(url: string, token: string, count: number): Promise<void> {
  const pool = new Pool(url, { connections: 16 });
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const response = await pool.request({ path: `/api/users/${PREFIX}${i}${BENCH_OBJECT_PATH}`, method: 'GET', headers: { authorization: `Bearer ${token}` } });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`GET of ${PREFIX}${i}: HTTP ${response.statusCode} ${text}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, lane));
  } finally {
    await pool.close();
  }
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  assertWrkInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-tenants-bench-'));
  let worker: ChildProcess | undefined;
  const rows: Row[] = [];
  const seeding: { users: number; seconds: number }[] = [];
  try {
    const secrets = benchSecrets(dir);
    const token = await secrets.serviceToken();
    for (const users of TENANTS) {
      const dataDir = join(dir, `data-${users}`);
      mkdirSync(dataDir);
      const seeded = await seedTenants(dataDir, dir, users, PREFIX);
      seeding.push({ users, seconds: seeded.seconds });
      process.stderr.write(`bench:tenants: ${users} users' files made in ${seeded.seconds.toFixed(1)} s (${seeded.templateBytes} bytes each)\n`);

      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const maxOpen = MAX_OPEN === undefined ? [] : ['--max-open', MAX_OPEN];
      worker = spawn(process.execPath, [MAIN, 'worker', '--id', 'bench', '--port', String(port), '--data', dataDir, ...secrets.workerFlags, ...maxOpen, '--log-level', 'warn'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitReady(url);
      // The worker inherits this process's fd limit, so its default --max-open is this one.
      await touchUsers(url, token, Math.min(users, Number(MAX_OPEN ?? defaultMaxOpen())));
      for (const distribution of DISTRIBUTIONS) {
        const lua = (method: 'GET' | 'PUT') => userLoadLua({ method, users, userPrefix: PREFIX, tokens: token, ...(distribution === 'zipf' ? { zipf: ZIPF } : {}) });
        if (WARMUP_SECONDS > 0) await runWrk({ baseUrl: url, connections: CONNECTIONS, seconds: WARMUP_SECONDS, requestLua: lua('GET') });
        for (const method of METHODS) {
          const before = await settledMetrics(url);
          const result = await runWrk({ baseUrl: url, connections: CONNECTIONS, seconds: SECONDS, requestLua: lua(method) });
          const after = await settledMetrics(url);
          const opens = after.opens - before.opens;
          const served = after.requests - before.requests;
          rows.push({
            users,
            distribution,
            method,
            result,
            opensPerRequest: served > 0 ? opens / served : 0,
            openMs: opens > 0 ? ((after.openSeconds - before.openSeconds) * 1000) / opens : 0,
            open: after.open,
            rssMiB: rssMiB(worker.pid!),
          });
          process.stderr.write(`bench:tenants: ${users} ${distribution} ${method}: ${result.rps.toFixed(0)} req/s, ${opens} opens, ${result.errors} errors (${result.timeouts} timeouts)\n`);
        }
      }
      await stop(worker);
      worker = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    }
    process.stdout.write(table(rows, seeding));
  } finally {
    await stop(worker);
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(rows: Row[], seeding: { users: number; seconds: number }[]): string {
  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return [
    `one worker, --max-open ${MAX_OPEN ?? `${defaultMaxOpen()} (the default here)`}, wrk -t2 -c${CONNECTIONS}, ${SECONDS} s per run, zipf s=${ZIPF}, ` +
      `one service token, ${cpus().length} CPUs, Node ${process.version}, ${new Date().toISOString()}`,
    '',
    '| users | distribution | method | req/s | p50 / p99 ms | cold opens / req | LRU hit rate | open ms (mean) | open partitions | RSS MiB | errors | timeouts |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${fmt(r.users)} | ${r.distribution} | ${r.method} | ${fmt(r.result.rps)} | ${fmt(r.result.p50ms, 2)} / ${fmt(r.result.p99ms, 2)} | ` +
        `${fmt(r.opensPerRequest, 3)} | ${fmt((1 - r.opensPerRequest) * 100, 1)}% | ${fmt(r.openMs, 2)} | ${fmt(r.open)} | ${fmt(r.rssMiB)} | ${r.result.errors - r.result.timeouts} | ${r.result.timeouts} |`,
    ),
    '',
    `users' files made (template copies): ${seeding.map((s) => `${fmt(s.users)} in ${fmt(s.seconds, 1)} s`).join(', ')}`,
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:tenants: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
