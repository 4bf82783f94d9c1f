/**
 * The router benchmark: the same 2 workers, measured side by side with wrk
 * (-c32, requests spread over 1000 user ids), GET and PUT:
 *   direct to one worker (its own users) | Pinbase router, 1 process |
 *   Pinbase router, 2 processes | HAProxy (Debian) | two forwarding-only
 *   reference proxies (reference-proxy.ts): node:http + undici with nothing
 *   of the router on top, and node:http with a minimal raw-socket client.
 * Prints req/s, p50/p99 and the proxy's CPU µs per request.
 *
 *   npm run build && node dist/bench/router/run-router-bench.js
 *   npm run bench:router -- --quick   # CI smoke: every setup, 1 round of 1 s, no warm-up, 32 users, -c8
 *   BENCH_SECONDS=10 (per run), BENCH_ROUNDS=3, BENCH_CONNECTIONS=32
 *   BENCH_COMPARE=/path/to/other/checkout (built): its router, 1 process,
 *   measured beside this one in the same rounds (a before/after of a change)
 *
 * The setups run interleaved, BENCH_ROUNDS times, and each figure is the
 * median over the rounds: on a small shared machine one run is noisy.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Placement } from '../../services/topology/placement.js';
import { cpuSeconds, freePort, hasCommand, pinbase, runWrk, seedBenchObjects, startHaproxy, stop, waitReady, wrkScript, type WrkResult } from './bench-processes.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const QUICK = values.quick === true;
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 10));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? (QUICK ? 8 : 32));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const WARMUP_SECONDS = QUICK ? 0 : 2;
const REFERENCE_PROXY = fileURLToPath(new URL('./reference-proxy.js', import.meta.url));
const USERS = Array.from({ length: QUICK ? 32 : 1000 }, (_, i) => `u${i}`);
const COMPARE = process.env.BENCH_COMPARE;

interface Row {
  setup: string;
  method: string;
  result: WrkResult;
  cpuUsPerRequest: number | undefined;
}

async function main(): Promise<void> {
  const missing = ['wrk', 'haproxy'].filter((name) => !hasCommand(name));
  if (missing.length > 0) {
    process.stderr.write(`bench: ${missing.join(' and ')} not found; install with: sudo apt-get install -y wrk haproxy\n`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-bench-'));
  const children: ChildProcess[] = [];
  try {
    await benchmark(dir, children);
  } finally {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchmark(dir: string, children: ChildProcess[]): Promise<void> {
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const workers = [
    { id: 'w1', port: await freePort() },
    { id: 'w2', port: await freePort() },
  ];
  const topology = join(dir, 'topology.json');
  writeFileSync(topology, JSON.stringify({ version: 1, workers: workers.map((w) => ({ id: w.id, url: `http://127.0.0.1:${w.port}` })) }));
  for (const w of workers) children.push(pinbase(['worker', '--id', w.id, '--port', String(w.port), '--data', dataDir, '--topology', topology, '--log-level', 'warn']));
  const placement = new Placement(workers.map((w) => w.id));
  const owners = new Map(USERS.map((u) => [u, placement.owner(u)!]));
  const w1Users = USERS.filter((u) => owners.get(u) === 'w1');

  // Every proxy starts while the workers do (on a small machine starting
  // node processes one after the other is most of a short run's time); each
  // is waited for once the users' objects exist.
  const setups: { name: string; url: string; pid: number | undefined; direct: boolean; ready: string }[] = [
    { name: 'direct to w1 (its users)', url: `http://127.0.0.1:${workers[0]!.port}`, pid: undefined, direct: true, ready: '/readyz' },
  ];
  for (const processes of [1, 2]) {
    const port = await freePort();
    const router = pinbase(['router', '--port', String(port), '--topology', topology, '--log-level', 'warn', '--processes', String(processes)]);
    children.push(router);
    setups.push({ name: `pinbase router, ${processes} process${processes > 1 ? 'es' : ''}`, url: `http://127.0.0.1:${port}`, pid: router.pid, direct: false, ready: '/readyz' });
  }
  if (COMPARE !== undefined) {
    const bin = join(COMPARE, 'bin', 'pinbase.cjs');
    const commit = execFileSync('git', ['-C', COMPARE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const port = await freePort();
    const router = pinbase(['router', '--port', String(port), '--topology', topology, '--log-level', 'warn'], bin);
    children.push(router);
    setups.push({ name: `pinbase router, 1 process, at ${commit}`, url: `http://127.0.0.1:${port}`, pid: router.pid, direct: false, ready: '/readyz' });
  }
  // Forwarding-only reference proxies (bench/router/reference-proxy.ts): the
  // floor of a Node proxy on the router's stack, and without undici.
  for (const mode of ['undici', 'raw'] as const) {
    const port = await freePort();
    const proxy = spawn(process.execPath, [REFERENCE_PROXY, mode, String(port), topology], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(proxy);
    setups.push({ name: `reference: node:http + ${mode === 'undici' ? 'undici' : 'raw sockets'}`, url: `http://127.0.0.1:${port}`, pid: proxy.pid, direct: false, ready: '/api/users/u0/bench/obj' });
  }
  const haproxyPort = await freePort();
  const haproxy = startHaproxy(dir, haproxyPort, workers, owners);
  children.push(haproxy);
  setups.push({ name: 'haproxy (hash path,word(3,/))', url: `http://127.0.0.1:${haproxyPort}`, pid: haproxy.pid, direct: false, ready: '/api/users/u0/bench/obj' });

  await Promise.all(workers.map((w) => waitReady(`http://127.0.0.1:${w.port}`)));
  await seedBenchObjects(USERS, (user) => `http://127.0.0.1:${workers.find((w) => w.id === owners.get(user))!.port}`);
  await Promise.all(setups.map((setup) => waitReady(setup.url, setup.ready)));

  const scripts = {
    directGET: wrkScript(dir, 'direct-get', 'GET', w1Users),
    directPUT: wrkScript(dir, 'direct-put', 'PUT', w1Users),
    GET: wrkScript(dir, 'get', 'GET', USERS),
    PUT: wrkScript(dir, 'put', 'PUT', USERS),
  };

  const runs: Row[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const setup of setups) {
      for (const method of ['GET', 'PUT'] as const) {
        const script = setup.direct ? scripts[`direct${method}`] : scripts[method];
        if (WARMUP_SECONDS > 0) await runWrk(setup.url, script, WARMUP_SECONDS, CONNECTIONS);
        const before = setup.pid === undefined ? 0 : cpuSeconds(setup.pid);
        const result = await runWrk(setup.url, script, SECONDS, CONNECTIONS);
        const used = setup.pid === undefined ? undefined : cpuSeconds(setup.pid) - before;
        runs.push({ setup: setup.name, method, result, cpuUsPerRequest: used === undefined ? undefined : (used * 1e6) / Math.max(1, result.requests) });
        process.stderr.write(`bench: round ${round}: ${setup.name} ${method}: ${result.rps.toFixed(0)} req/s\n`);
      }
    }
  }
  process.stdout.write(table(medians(runs)));
}

/** One row per setup and method: the median of each figure over the rounds. */
function medians(runs: Row[]): Row[] {
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  };
  const latency = (text: string) => (text.endsWith('us') ? parseFloat(text) / 1000 : text.endsWith('ms') ? parseFloat(text) : parseFloat(text) * 1000);
  const keys = [...new Set(runs.map((r) => `${r.setup}\u0000${r.method}`))];
  return keys.map((key) => {
    const group = runs.filter((r) => `${r.setup}\u0000${r.method}` === key);
    const cpu = group.map((r) => r.cpuUsPerRequest).filter((v): v is number => v !== undefined);
    return {
      setup: group[0]!.setup,
      method: group[0]!.method,
      cpuUsPerRequest: cpu.length === 0 ? undefined : median(cpu),
      result: {
        requests: median(group.map((r) => r.result.requests)),
        rps: median(group.map((r) => r.result.rps)),
        p50: `${median(group.map((r) => latency(r.result.p50))).toFixed(2)}ms`,
        p99: `${median(group.map((r) => latency(r.result.p99))).toFixed(2)}ms`,
        errors: group.reduce((sum, r) => sum + r.result.errors, 0),
      },
    };
  });
}

function table(rows: Row[]): string {
  const haproxy = (method: string) => rows.find((r) => r.setup.startsWith('haproxy') && r.method === method);
  const header = ['setup', 'method', 'req/s', 'p50', 'p99', 'errors', 'proxy CPU µs/req', 'vs HAProxy req/s', 'vs HAProxy CPU'];
  const lines = rows.map((r) => {
    const h = haproxy(r.method);
    const cpu = r.cpuUsPerRequest;
    return [
      r.setup,
      r.method,
      r.result.rps.toFixed(0),
      r.result.p50,
      r.result.p99,
      String(r.result.errors),
      cpu === undefined ? '-' : cpu.toFixed(1),
      h === undefined ? '-' : `${(r.result.rps / h.result.rps).toFixed(2)}×`,
      cpu === undefined || h?.cpuUsPerRequest === undefined ? '-' : `${(cpu / h.cpuUsPerRequest).toFixed(2)}×`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [
    `wrk -t2 -c${CONNECTIONS} -d${SECONDS}s, ${USERS.length} users, 2 workers, median of ${ROUNDS} interleaved rounds, ${new Date().toISOString()}`,
    format(header),
    rule,
    ...lines.map(format),
    '',
  ].join('\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
