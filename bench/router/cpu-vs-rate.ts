/**
 * Router CPU per request at different request rates: the same router and two
 * workers, PUT with workers that fsync (pipelined, the default) and that do
 * not (normal), and GET. A durable PUT is limited by the workers' fsyncs, so
 * the router serves it at a lower rate, where each request pays more of the
 * event loop's fixed costs (wake-ups, polls) that a busier loop shares.
 *
 *   npm run build && node dist/bench/router/cpu-vs-rate.js
 *   node dist/bench/router/cpu-vs-rate.js --quick   # CI smoke: 1 s runs over 32 users, no warm-up round
 *   BENCH_SECONDS=8 (per run)
 *
 * Both setups start together and are measured one after the other; every
 * user's object is written before the runs. `errors` counts wrk's non-2xx
 * answers and socket errors.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort, pinbase, seedBenchObjects, stop, waitReady } from './bench-processes.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const QUICK = values.quick === true;
const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 8));
const USERS = QUICK ? 32 : 1000;
const WARMUP = !QUICK;

interface Setup {
  durability: 'pipelined' | 'normal';
  dir: string;
  routerPort: number;
  router: ChildProcess;
  workers: ChildProcess[];
  ready: Promise<unknown>;
}

/** Two workers with `durability` and one router process, started (not yet ready). */
async function start(durability: Setup['durability']): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-cpu-rate-'));
  const ports = [await freePort(), await freePort()];
  const routerPort = await freePort();
  const topology = join(dir, 'topology.json');
  writeFileSync(topology, JSON.stringify({ version: 1, workers: ports.map((p, i) => ({ id: `w${i + 1}`, url: `http://127.0.0.1:${p}` })) }));
  const workers = ports.map((p, i) =>
    pinbase(['worker', '--id', `w${i + 1}`, '--port', String(p), '--data', join(dir, 'data'), '--topology', topology, '--log-level', 'warn', '--durability', durability]),
  );
  const router = pinbase(['router', '--port', String(routerPort), '--topology', topology, '--log-level', 'warn']);
  const ready = Promise.all([...ports.map((p) => waitReady(`http://127.0.0.1:${p}`)), waitReady(`http://127.0.0.1:${routerPort}`)]);
  ready.catch(() => undefined); // awaited in measure(); stopped in any case
  return { durability, dir, routerPort, router, workers, ready };
}

async function measure({ durability, dir, routerPort, router, ready }: Setup): Promise<void> {
  await ready;
  const put = `request = function() return wrk.format("PUT", "/api/users/u" .. math.random(0, ${USERS - 1}) .. "/bench/obj", {["content-type"]="application/json"}, '{"n":1,"text":"benchmark"}') end`;
  const get = `request = function() return wrk.format("GET", "/api/users/u" .. math.random(0, ${USERS - 1}) .. "/bench/obj") end`;
  writeFileSync(join(dir, 'put.lua'), put);
  writeFileSync(join(dir, 'get.lua'), get);
  // Every user's object exists before the runs (a GET of a missing one
  // answers 404); a first PUT round warms up and is not reported (not with --quick).
  await seedBenchObjects(
    Array.from({ length: USERS }, (_, i) => `u${i}`),
    () => `http://127.0.0.1:${routerPort}`,
  );
  const runs = [['warm-up', 'put'], ['PUT', 'put'], ['GET', 'get']] as const;
  for (const [label, script] of WARMUP ? runs : runs.slice(1)) {
    const before = cpuSeconds(router.pid!);
    const out = execFileSync('wrk', ['-t2', '-c32', `-d${SECONDS}s`, '-s', join(dir, `${script}.lua`), `http://127.0.0.1:${routerPort}`], { encoding: 'utf8' });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const cpu = cpuSeconds(router.pid!) - before;
    const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
    if (label !== 'warm-up') {
      console.log(`| ${durability} | ${label} | ${rps.toFixed(0)} | ${((cpu / (rps * SECONDS)) * 1e6).toFixed(1)} | ${errors} |`);
    }
  }
}

console.log(`wrk -t2 -c32 -d${SECONDS}s through one router process, ${USERS} users, ${new Date().toISOString()}`);
console.log('| worker durability | method | req/s | router CPU µs/req | errors |');
console.log('| --- | --- | ---: | ---: | ---: |');
// Both setups start together (starting node processes is most of a short
// run's time); each is measured alone, the other idle.
const setups: Setup[] = [];
try {
  for (const durability of ['normal', 'pipelined'] as const) setups.push(await start(durability));
  for (const setup of setups) await measure(setup);
} finally {
  await Promise.all(setups.flatMap((setup) => [setup.router, ...setup.workers]).map(stop));
  for (const setup of setups) rmSync(setup.dir, { recursive: true, force: true });
}
