/**
 * The peer benchmark: Pinbase against what a team would build
 * instead, side by side, the same request mix, interleaved rounds, medians.
 *   pinbase   a Pinbase worker (`pinbase worker`, default durability: pipelined, an fsync of
 *             the user's WAL before the answer), authentication on
 *   postgres  fastify + PostgreSQL 15 (peer-server.ts --store postgres): started here in a
 *             temporary directory, fsync=on, synchronous_commit=on (a commit answers after
 *             its WAL flush), a pg.Pool of BENCH_PG_POOL (16) connections
 *   memory    fastify answering the same routes from a Map (peer-server.ts --store memory):
 *             the framework's ceiling
 * All three check the same bearer tokens with the same code (TokenVerifier and its cache
 * of verified tokens; each user sends its own token on every request, so after the first
 * request a user's token costs a SHA-256 and a map lookup, not a signature check).
 *
 * Load: wrk -t2 -c64, a random user of BENCH_USERS (1000) per request, GET of the user's
 * small JSON object (44 bytes) or a durable PUT of a new version of it. One process each
 * (PostgreSQL itself: its postmaster plus one backend per pool connection). Each round
 * runs every stack's GET then PUT; the figures are medians over the rounds. CPU µs per
 * request: user + system time of the stack's processes (PostgreSQL's included) during
 * the run, from /proc, divided by the requests. errors: non-2xx answers and socket
 * errors over all rounds; timeouts (no answer within wrk's 2 s) apart: a loaded machine.
 *
 *   npm run bench:peer                          # 3 rounds × 3 stacks × GET, PUT × 10 s (about 4 min)
 *   npm run bench:peer -- --quick               # CI smoke: 50 users, 1 round of 1 s
 *   npm run bench:peer -- --profile DIR         # then a --cpu-prof of the worker under GET and under PUT,
 *                                               # its top self-time items printed (profiles kept in DIR)
 *   BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_USERS=1000 BENCH_CONNECTIONS=64 BENCH_PG_POOL=16
 *   BENCH_STACKS=pinbase,memory                 # only these stacks (ratios to one left out print as -)
 *   BENCH_COMPARE=/path/to/checkout             # one more stack: that built checkout's worker (a before/after
 *                                               # of a change, measured in the same interleaved rounds)
 *
 * Bounded: every process is stopped at the end and on failure (PostgreSQL by
 * `pg_ctl stop`), temporary directories removed; each wrk run lasts BENCH_SECONDS.
 * Exits 2 with a message when wrk or PostgreSQL's binaries are missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { cpuSeconds, freePort, MAIN, stop, waitReady } from '../router/bench-processes.js';
import { benchSecrets } from '../support/bench-auth.js';
import { topSelfTime } from '../support/cpu-profile.js';
import { postgresBinDir, startPostgres, type BenchPostgres } from '../support/postgres.js';
import { BENCH_OBJECT_PATH, benchBody, userLoadLua } from '../support/user-load-lua.js';
import { assertWrkInstalled, runWrk, type WrkResult } from '../support/wrk.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, profile: { type: 'string' } } });
const QUICK = values.quick === true;
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 10));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const USERS = Number(process.env.BENCH_USERS ?? (QUICK ? 50 : 1000));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PG_POOL = Number(process.env.BENCH_PG_POOL ?? 16);
const WARMUP_SECONDS = QUICK ? 0 : 2;
const PEER_SERVER = fileURLToPath(new URL('./peer-server.js', import.meta.url));

const ALL_STACKS = ['pinbase', 'compare', 'postgres', 'memory'] as const;
type Stack = (typeof ALL_STACKS)[number];
type Method = 'GET' | 'PUT';
const METHODS: readonly Method[] = ['GET', 'PUT'];
/** Another built checkout whose worker runs as the `compare` stack. */
const COMPARE = process.env.BENCH_COMPARE === undefined ? undefined : resolve(process.env.BENCH_COMPARE);
const STACKS = ALL_STACKS.filter(
  (s) => (s === 'compare' ? COMPARE !== undefined : (process.env.BENCH_STACKS?.split(',') ?? ALL_STACKS).includes(s)),
);
const LABELS: Record<Stack, string> = {
  pinbase: 'Pinbase worker (pipelined: fsync before the answer)',
  compare: `Pinbase worker of ${COMPARE ?? '-'}`,
  postgres: `fastify + PostgreSQL 15 (synchronous_commit=on, pg.Pool ${PG_POOL})`,
  memory: 'fastify from memory (the framework ceiling)',
};

interface Run {
  stack: Stack;
  method: Method;
  result: WrkResult;
  cpuUsPerRequest: number;
}

interface Running {
  url: string;
  /** The processes whose CPU (theirs and their children's) counts for this stack. */
  pids: () => number[];
}

const children: ChildProcess[] = [];
let postgres: BenchPostgres | undefined;

function node(args: string[], nodeFlags: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

async function main(): Promise<void> {
  assertWrkInstalled();
  const pgBin = STACKS.includes('postgres') ? postgresBinDir() : undefined;
  if (STACKS.includes('postgres') && pgBin === undefined) {
    process.stderr.write('bench:peer: PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin (or $PG_BIN): apt-get install -y postgresql-15\n');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-peer-bench-'));
  try {
    const secrets = benchSecrets(dir);
    const users = Array.from({ length: USERS }, (_, i) => `u${i}`);
    const tokens = await Promise.all(users.map((u) => secrets.userToken(u)));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);

    const running = new Map<Stack, Running>();
    let worker: ChildProcess | undefined;
    if (STACKS.includes('pinbase')) {
      worker = await startWorker(dataDir, secrets.workerFlags, []);
      running.set('pinbase', { url: workerUrl(worker), pids: () => [worker!.pid!] });
    }
    if (COMPARE !== undefined) {
      const compareData = join(dir, 'compare-data');
      mkdirSync(compareData);
      const other = await startWorker(compareData, secrets.workerFlags, [], join(COMPARE, 'dist/services/cli/main.js'));
      running.set('compare', { url: workerUrl(other), pids: () => [other.pid!] });
    }
    if (STACKS.includes('postgres')) {
      postgres = startPostgres(pgBin!);
      const port = await freePort();
      const pgArgs = ['--pg-host', postgres.socketDir, '--pg-user', postgres.user, '--pg-database', postgres.database, '--pool', String(PG_POOL)];
      const child = node([PEER_SERVER, '--store', 'postgres', '--port', String(port), ...secrets.workerFlags, ...pgArgs]);
      const url = `http://127.0.0.1:${port}`;
      await waitReady(url);
      const pg = postgres;
      running.set('postgres', { url, pids: () => [child.pid!, pg.postmasterPid()] });
    }
    if (STACKS.includes('memory')) {
      const port = await freePort();
      const child = node([PEER_SERVER, '--store', 'memory', '--port', String(port), ...secrets.workerFlags]);
      const url = `http://127.0.0.1:${port}`;
      await waitReady(url);
      running.set('memory', { url, pids: () => [child.pid!] });
    }
    for (const [stack, r] of running) await seed(stack, r.url, users, tokens);

    const lua = (method: Method) => userLoadLua({ method, users: USERS, userPrefix: 'u', tokens });
    if (WARMUP_SECONDS > 0) {
      for (const [, r] of running) for (const method of METHODS) await runWrk({ baseUrl: r.url, connections: CONNECTIONS, seconds: WARMUP_SECONDS, requestLua: lua(method) });
    }
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [stack, r] of running) {
        for (const method of METHODS) {
          const cpuBefore = sum(r.pids().map(cpuSeconds));
          const result = await runWrk({ baseUrl: r.url, connections: CONNECTIONS, seconds: SECONDS, requestLua: lua(method) });
          const cpu = sum(r.pids().map(cpuSeconds)) - cpuBefore;
          const cpuUsPerRequest = result.requests > 0 ? (cpu * 1e6) / result.requests : 0;
          runs.push({ stack, method, result, cpuUsPerRequest });
          process.stderr.write(`bench:peer: round ${round}: ${stack} ${method}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99ms.toFixed(2)} ms, ${result.errors} errors (${result.timeouts} timeouts)\n`);
        }
      }
    }
    process.stdout.write(table(runs));

    if (values.profile !== undefined && worker !== undefined) {
      await stop(worker);
      await profileWorker(dataDir, secrets.workerFlags, resolve(values.profile), lua, users, tokens);
    }
  } finally {
    for (const child of children.reverse()) await stop(child);
    postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const workerPorts = new WeakMap<ChildProcess, number>();
const workerUrl = (child: ChildProcess) => `http://127.0.0.1:${workerPorts.get(child)!}`;

async function startWorker(dataDir: string, flags: string[], nodeFlags: string[], main = MAIN): Promise<ChildProcess> {
  const port = await freePort();
  const child = node([main, 'worker', '--id', 'bench', '--port', String(port), '--data', dataDir, ...flags, '--log-level', 'warn'], nodeFlags);
  workerPorts.set(child, port);
  await waitReady(`http://127.0.0.1:${port}`);
  return child;
}

/** Every user's object written once (or, with GET, read once), 16 at a time, so that GETs find it. */
async function seed(stack: Stack, url: string, users: string[], tokens: string[], method: Method = 'PUT'): Promise<void> {
  const pool = new Pool(url, { connections: 16 });
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < users.length; i = next++) {
      const response = await pool.request({
        path: `/api/users/${users[i]!}${BENCH_OBJECT_PATH}`,
        method,
        headers: { authorization: `Bearer ${tokens[i]!}`, 'content-type': 'application/json' },
        body: method === 'PUT' ? benchBody(i) : null,
      });
      const text = await response.body.text();
      if (response.statusCode !== 200 && response.statusCode !== 201) throw new Error(`seeding ${stack} ${users[i]!}: HTTP ${response.statusCode} ${text}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, lane));
  } finally {
    await pool.close();
  }
}

/**
 * The worker alone under GET, then under PUT, each in a process of its own
 * started with --cpu-prof (the profile is written when it exits), the top
 * self-time items of the samples taken while wrk ran (not start-up or shutdown) printed. The data directory is the one of the runs above.
 */
async function profileWorker(
  dataDir: string,
  flags: string[],
  profileDir: string,
  lua: (method: Method) => string,
  users: string[],
  tokens: string[],
): Promise<void> {
  mkdirSync(profileDir, { recursive: true });
  for (const method of METHODS) {
    const name = `pinbase-worker-${method}-${Date.now()}.cpuprofile`;
    const child = await startWorker(dataDir, flags, ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', name]);
    // Every user's partition open and the code warm before the profiled window, as in the runs above.
    await seed('pinbase', workerUrl(child), users, tokens, 'GET');
    if (WARMUP_SECONDS > 0) await runWrk({ baseUrl: workerUrl(child), connections: CONNECTIONS, seconds: WARMUP_SECONDS, requestLua: lua(method) });
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const result = await runWrk({ baseUrl: workerUrl(child), connections: CONNECTIONS, seconds: SECONDS, requestLua: lua(method) });
    const toUs = Number(process.hrtime.bigint() / 1000n);
    // The profile is written at exit, after the graceful stop closes every open partition: give it time.
    const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    await exited;
    clearTimeout(timer);
    const file = join(profileDir, name);
    if (!existsSync(file)) throw new Error(`no profile written: ${file}`);
    const top = topSelfTime(file, 15, { fromUs, toUs });
    process.stdout.write(
      [
        '',
        `Pinbase worker under ${method} (wrk -c${CONNECTIONS}, ${SECONDS} s, ${result.rps.toFixed(0)} req/s while profiled): top self time in the ${(top.totalMs / 1000).toFixed(1)} s of samples during the load (${file})`,
        '| self ms | share | function |',
        '| ---: | ---: | --- |',
        ...top.items.map((item) => `| ${item.ms.toFixed(0)} | ${(item.share * 100).toFixed(1)}% | \`${item.name}\` |`),
        '',
      ].join('\n'),
    );
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
}

function table(runs: Run[]): string {
  const of = (stack: Stack, method: Method) => runs.filter((r) => r.stack === stack && r.method === method);
  const rps = (stack: Stack, method: Method) => median(of(stack, method).map((r) => r.result.rps));
  const ratio = (a: number, b: number) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '-');
  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `wrk -t2 -c${CONNECTIONS}, ${USERS} users (each its own token), ${SECONDS} s per run, median of ${ROUNDS} interleaved rounds, ${cpus().length} CPUs, Node ${process.version}, ${new Date().toISOString()}`,
    '',
    '| stack | GET req/s | GET p50 / p99 ms | GET CPU µs/req | PUT req/s | PUT p50 / p99 ms | PUT CPU µs/req | errors | timeouts |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const stack of STACKS) {
    const cells = METHODS.map((method) => {
      const group = of(stack, method);
      const p50 = median(group.map((r) => r.result.p50ms));
      const p99 = median(group.map((r) => r.result.p99ms));
      return `${fmt(rps(stack, method))} | ${fmt(p50, 2)} / ${fmt(p99, 2)} | ${fmt(median(group.map((r) => r.cpuUsPerRequest)))}`;
    });
    const mine = runs.filter((r) => r.stack === stack);
    const timeouts = sum(mine.map((r) => r.result.timeouts));
    lines.push(`| ${LABELS[stack]} | ${cells.join(' | ')} | ${sum(mine.map((r) => r.result.errors)) - timeouts} | ${timeouts} |`);
  }
  lines.push('');
  for (const method of METHODS) {
    lines.push(
      `${method}: Pinbase/PostgreSQL ${ratio(rps('pinbase', method), rps('postgres', method))}, Pinbase/ceiling ${ratio(rps('pinbase', method), rps('memory', method))}`,
    );
  }
  lines.push('targets: GET ≥ 2× PostgreSQL and ≥ 0.6× ceiling; PUT ≥ 1.2× PostgreSQL', '');
  return lines.join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:peer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
