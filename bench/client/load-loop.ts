/**
 * One measured run of the client benchmark, in a process of its own (so
 * that each setup starts from the same state and its CPU is its own):
 *
 *   node dist/bench/client/load-loop.js SETUP METHOD PLAN_FILE
 *
 * SETUP is one of LOAD_SETUPS, METHOD GET or PUT; PLAN_FILE is the JSON
 * LoadPlan written by run-client-bench.ts. A closed loop: `concurrency`
 * lanes, each sending one request, awaiting its answer (body read), then
 * the next, to a user picked at random among `users`. `warmupMs` of
 * unmeasured load first (connections, JIT, the client's topology), then
 * `seconds` measured. Prints one JSON LoadResult line on stdout.
 *
 * The setups send the same requests: the worker's object route for
 * (user, `bench`, `obj`), the user's bearer token, and on PUT the same body
 * with a fresh Idempotency-Key (the client adds one to every write, so the
 * raw loops do too: the workers do the same work in every setup).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Pool, type Dispatcher } from 'undici';
import { Placement } from '../../services/topology/placement.js';
import { BENCH_COLLECTION, BENCH_OBJECT, LOAD_SETUPS, PUT_BODY, type LoadMethod, type LoadPlan, type LoadResult, type LoadSetup } from './load-plan.js';

/** Sends one request for `user`; resolves once the answer is read, rejects on a failure. */
type Send = (user: string) => Promise<void>;

interface Setup {
  send: Send;
  close: () => Promise<void>;
}

async function clientSetup(plan: LoadPlan, method: LoadMethod, routing: 'direct' | 'router'): Promise<Setup> {
  // The client's own build, as an application imports it (`pinbase/client`).
  const { createClient } = await import('../../services/client/index.js');
  // As many connections per worker as the ceiling's pools (the client's default is 16).
  const client = createClient({ url: plan.routerUrl, getToken: (userId: string) => plan.tokens[userId]!, routing, connectionsPerWorker: plan.concurrency });
  const objects = new Map(plan.users.map((user) => [user, client.user(user).collection<typeof PUT_BODY>(BENCH_COLLECTION)]));
  const send: Send =
    method === 'GET'
      ? async (user) => void (await objects.get(user)!.get(BENCH_OBJECT))
      : async (user) => void (await objects.get(user)!.put(BENCH_OBJECT, PUT_BODY));
  return { send, close: () => client.close() };
}

/**
 * The minimal undici loop: `poolFor(user)` is the pool the request goes to
 * (the owner's, for the ceiling; HAProxy's for the HAProxy setup).
 */
function rawSetup(plan: LoadPlan, method: LoadMethod, pools: Pool[], poolFor: (user: string) => Pool): Setup {
  const body = JSON.stringify(PUT_BODY);
  const send: Send = async (user) => {
    const headers: Record<string, string> = { authorization: `Bearer ${plan.tokens[user]!}` };
    const options: Dispatcher.RequestOptions = { path: `/api/users/${user}/${BENCH_COLLECTION}/${BENCH_OBJECT}`, method, headers };
    if (method === 'PUT') {
      headers['content-type'] = 'application/json';
      headers['idempotency-key'] = randomUUID();
      options.body = body;
    }
    const response = await poolFor(user).request(options);
    await response.body.text();
    if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
  };
  return { send, close: async () => void (await Promise.all(pools.map((pool) => pool.close()))) };
}

async function setupFor(setup: LoadSetup, method: LoadMethod, plan: LoadPlan): Promise<Setup> {
  const poolOptions = { connections: plan.concurrency, keepAliveTimeout: 30_000 };
  switch (setup) {
    case 'client-direct':
      return clientSetup(plan, method, 'direct');
    case 'client-router':
      return clientSetup(plan, method, 'router');
    case 'ceiling': {
      // Knows each user's worker up front: one Pool per worker, no lookups beyond a Map.
      const placement = new Placement(plan.workers.map((w) => w.id));
      const byWorker = new Map(plan.workers.map((w) => [w.id, new Pool(w.url, poolOptions)]));
      const owners = new Map(plan.users.map((user) => [user, byWorker.get(placement.owner(user)!)!]));
      return rawSetup(plan, method, [...byWorker.values()], (user) => owners.get(user)!);
    }
    case 'haproxy': {
      const pool = new Pool(plan.haproxyUrl, poolOptions);
      return rawSetup(plan, method, [pool], () => pool);
    }
  }
}

/** Runs the closed loop for `ms`; records latencies (ms) and counts when `measure`. */
async function runLanes(plan: LoadPlan, send: Send, ms: number, measure: { latencies: number[]; errors: number; firstError?: string } | undefined): Promise<void> {
  const end = performance.now() + ms;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      const user = plan.users[Math.floor(Math.random() * plan.users.length)]!;
      const start = performance.now();
      try {
        await send(user);
        measure?.latencies.push(performance.now() - start);
      } catch (error) {
        if (measure === undefined) continue;
        measure.errors++;
        measure.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, lane));
}

async function runLoad(setupName: LoadSetup, method: LoadMethod, plan: LoadPlan): Promise<LoadResult> {
  const setup = await setupFor(setupName, method, plan);
  try {
    await runLanes(plan, setup.send, plan.warmupMs, undefined);
    const measure: { latencies: number[]; errors: number; firstError?: string } = { latencies: [], errors: 0 };
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await runLanes(plan, setup.send, plan.seconds * 1000, measure);
    const elapsedS = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const sorted = measure.latencies.sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return {
      setup: setupName,
      method,
      requests: sorted.length,
      errors: measure.errors,
      firstError: measure.firstError,
      rps: sorted.length / elapsedS,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, sorted.length),
    };
  } finally {
    await setup.close();
  }
}

async function main(): Promise<void> {
  const [setup, method, planFile] = process.argv.slice(2);
  if (!LOAD_SETUPS.includes(setup as LoadSetup) || (method !== 'GET' && method !== 'PUT') || planFile === undefined) {
    process.stderr.write(`usage: load-loop.js ${LOAD_SETUPS.join('|')} GET|PUT PLAN_FILE\n`);
    process.exit(2);
  }
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as LoadPlan;
  const result = await runLoad(setup as LoadSetup, method, plan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`load-loop: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
