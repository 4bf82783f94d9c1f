/**
 * The client benchmark (issue 14): the same closed-loop load of GETs and
 * durable PUTs over 1000 users against the same 2 real workers (auth on,
 * tokens signed before the run), issued by
 *   client direct  — `pinbase/client` with routing: 'direct' (straight to the owner)
 *   client router  — `pinbase/client` with routing: 'router', through a real `pinbase router`
 *   ceiling        — a minimal undici loop that already knows each user's worker
 *                    (one Pool per worker, the same concurrency)
 *   haproxy        — the same minimal loop aimed at HAProxy in front of the workers
 *                    (bench/router's configuration: bench-processes.ts startHaproxy)
 * Each run is a process of its own (load-loop.ts); the setups run
 * interleaved, BENCH_ROUNDS times, and each figure is the median over the
 * rounds. Prints req/s, p50/p99, the load process's CPU µs per request, and
 * the ratios direct/ceiling and direct/HAProxy.
 *
 *   npm run bench:client                 # the full run: 3 rounds × 4 setups × GET, PUT × 10 s (about 5 min)
 *   npm run bench:client -- --quick      # seconds: 100 users, 1 round of 0.5 s each (CI smoke test)
 *   BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_CONCURRENCY=32 BENCH_USERS=1000
 *   BENCH_SETUPS=client-direct,ceiling   # only these setups (ratios to a setup left out print as -)
 *   BENCH_PROFILE=client-direct,ceiling  # these setups' load processes run with --cpu-prof (files in BENCH_PROFILE_DIR, default .)
 *
 * Bounded: every process it starts is stopped at the end (and on failure),
 * and the temporary folder removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { generateSecret, writeSecretFile } from '../../services/auth/secret-file.js';
import { signUserToken } from '../../services/auth/token-signer.js';
import { Placement } from '../../services/topology/placement.js';
import { freePort, hasCommand, pinbase, startHaproxy, stop, waitReady } from '../router/bench-processes.js';
import { BENCH_COLLECTION, BENCH_OBJECT, LOAD_SETUPS, PUT_BODY, type LoadMethod, type LoadPlan, type LoadResult, type LoadSetup } from './load-plan.js';

const QUICK = process.argv.includes('--quick');
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 0.5 : 10));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const USER_COUNT = Number(process.env.BENCH_USERS ?? (QUICK ? 100 : 1000));
const WARMUP_MS = QUICK ? 300 : 2000;
const PROFILE = process.env.BENCH_PROFILE;
const PROFILE_DIR = resolve(process.env.BENCH_PROFILE_DIR ?? '.');
const LOAD_LOOP = fileURLToPath(new URL('./load-loop.js', import.meta.url));
const METHODS: readonly LoadMethod[] = ['GET', 'PUT'];
const SETUPS = LOAD_SETUPS.filter((setup) => (process.env.BENCH_SETUPS?.split(',') ?? LOAD_SETUPS).includes(setup));
const LABELS: Record<LoadSetup, string> = {
  'client-direct': 'client, routing: direct',
  'client-router': 'client, routing: router',
  ceiling: 'ceiling: undici to the owner',
  haproxy: 'undici via HAProxy',
};

async function main(): Promise<void> {
  if (!hasCommand('haproxy')) {
    process.stderr.write('bench: haproxy not found; install with: sudo apt-get install -y haproxy\n');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-client-bench-'));
  const children: ChildProcess[] = [];
  try {
    const plan = await startCluster(dir, children);
    const planFile = join(dir, 'plan.json');
    writeFileSync(planFile, JSON.stringify(plan));
    const runs: LoadResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const setup of SETUPS) {
        for (const method of METHODS) {
          const result = await runLoadProcess(setup, method, planFile);
          runs.push(result);
          const failed = result.errors > 0 ? ` (${result.errors} errors, first: ${result.firstError})` : '';
          process.stderr.write(`bench: round ${round}: ${LABELS[setup]} ${method}: ${result.rps.toFixed(0)} req/s${failed}\n`);
        }
      }
    }
    process.stdout.write(table(medians(runs)));
  } finally {
    for (const child of children.reverse()) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 2 workers with authentication on, a router, HAProxy; every user's object written once. */
async function startCluster(dir: string, children: ChildProcess[]): Promise<LoadPlan> {
  const dataDir = join(dir, 'data');
  const secretsDir = join(dir, 'secrets');
  mkdirSync(dataDir);
  mkdirSync(secretsDir, { mode: 0o700 });
  const secrets = { auth: generateSecret(), admin: generateSecret(), cluster: generateSecret() };
  const files = { auth: join(secretsDir, 'auth'), admin: join(secretsDir, 'admin'), cluster: join(secretsDir, 'cluster') };
  for (const name of ['auth', 'admin', 'cluster'] as const) writeSecretFile(files[name], secrets[name]);
  const shared = ['--admin-token-file', files.admin, '--cluster-secret-file', files.cluster, '--log-level', 'warn'];

  const workers = [
    { id: 'w1', port: await freePort() },
    { id: 'w2', port: await freePort() },
  ];
  const topology = join(dir, 'topology.json');
  const urls = workers.map((w) => ({ id: w.id, url: `http://127.0.0.1:${w.port}` }));
  writeFileSync(topology, JSON.stringify({ version: 1, workers: urls }));
  for (const w of workers) {
    children.push(pinbase(['worker', '--id', w.id, '--port', String(w.port), '--data', dataDir, '--topology', topology, '--auth-secret-file', files.auth, ...shared]));
  }
  await Promise.all(urls.map((w) => waitReady(w.url)));
  const routerPort = await freePort();
  children.push(pinbase(['router', '--port', String(routerPort), '--topology', topology, ...shared]));
  const routerUrl = `http://127.0.0.1:${routerPort}`;
  await waitReady(routerUrl);

  const users = Array.from({ length: USER_COUNT }, (_, i) => `u${i}`);
  const tokens: Record<string, string> = {};
  for (const user of users) tokens[user] = await signUserToken(secrets.auth, { userId: user, scopes: [], ttlSeconds: 6 * 3600 });
  const placement = new Placement(workers.map((w) => w.id));
  const owners = new Map(users.map((u) => [u, placement.owner(u)!]));
  await seed(urls, users, owners, tokens);

  const haproxyPort = await freePort();
  children.push(startHaproxy(dir, haproxyPort, workers, owners));
  const haproxyUrl = `http://127.0.0.1:${haproxyPort}`;
  await waitReady(haproxyUrl, '/readyz');
  return { routerUrl, haproxyUrl, workers: urls, users, tokens, concurrency: CONCURRENCY, warmupMs: WARMUP_MS, seconds: SECONDS };
}

/** Writes every user's benchmark object at its owner, 16 at a time, so that GETs find it. */
async function seed(workers: { id: string; url: string }[], users: string[], owners: Map<string, string>, tokens: Record<string, string>): Promise<void> {
  const pools = new Map(workers.map((w) => [w.id, new Pool(w.url, { connections: 16 })]));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < users.length) {
      const user = users[next++]!;
      const response = await pools.get(owners.get(user)!)!.request({
        path: `/api/users/${user}/${BENCH_COLLECTION}/${BENCH_OBJECT}`,
        method: 'PUT',
        headers: { authorization: `Bearer ${tokens[user]!}`, 'content-type': 'application/json' },
        body: JSON.stringify(PUT_BODY),
      });
      const text = await response.body.text();
      if (response.statusCode >= 300) throw new Error(`seeding ${user}: HTTP ${response.statusCode} ${text}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, lane));
  } finally {
    await Promise.all([...pools.values()].map((pool) => pool.close()));
  }
}

function runLoadProcess(setup: LoadSetup, method: LoadMethod, planFile: string): Promise<LoadResult> {
  const profile = PROFILE?.split(',').includes(setup) ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `${setup}-${method}-${Date.now()}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...profile, LOAD_LOOP, setup, method, planFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolvePromise(JSON.parse(out) as LoadResult);
      else reject(new Error(`the ${setup} ${method} load process exited with ${String(code)}`));
    });
  });
}

/** One result per setup and method: the median of each figure over the rounds. */
function medians(runs: LoadResult[]): LoadResult[] {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
  return SETUPS.flatMap((setup) =>
    METHODS.map((method) => {
      const group = runs.filter((r) => r.setup === setup && r.method === method);
      return {
        setup,
        method,
        requests: median(group.map((r) => r.requests)),
        errors: group.reduce((sum, r) => sum + r.errors, 0),
        firstError: group.find((r) => r.firstError !== undefined)?.firstError,
        rps: median(group.map((r) => r.rps)),
        p50Ms: median(group.map((r) => r.p50Ms)),
        p99Ms: median(group.map((r) => r.p99Ms)),
        cpuUsPerRequest: median(group.map((r) => r.cpuUsPerRequest)),
      };
    }),
  );
}

function table(rows: LoadResult[]): string {
  const rps = (setup: LoadSetup, method: LoadMethod) => rows.find((r) => r.setup === setup && r.method === method)?.rps ?? 0;
  const ratio = (a: number, b: number) => (a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '-');
  const header = ['setup', 'method', 'req/s', 'p50', 'p99', 'errors', 'load CPU µs/req', 'vs ceiling', 'vs HAProxy'];
  const lines = rows.map((r) => [
    LABELS[r.setup],
    r.method,
    r.rps.toFixed(0),
    `${r.p50Ms.toFixed(2)}ms`,
    `${r.p99Ms.toFixed(2)}ms`,
    String(r.errors),
    r.cpuUsPerRequest.toFixed(1),
    ratio(r.rps, rps('ceiling', r.method)),
    ratio(r.rps, rps('haproxy', r.method)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const summary = METHODS.map(
    (m) => `${m}: direct/ceiling ${ratio(rps('client-direct', m), rps('ceiling', m))} (target ≥ 0.95×), direct/HAProxy ${ratio(rps('client-direct', m), rps('haproxy', m))}`,
  );
  return [
    `closed loop, ${CONCURRENCY} in flight, ${USER_COUNT} users, 2 workers (auth on), ${SECONDS} s per run, median of ${ROUNDS} interleaved rounds, ${new Date().toISOString()}`,
    format(header),
    rule,
    ...lines.map(format),
    '',
    ...summary,
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
