/**
 * `pinbase/client` against a real cluster under faults (router + worker
 * processes from dist/, authentication on): automatic idempotent retries
 * under a worker pause (attempts timed out, applied later) and a kill -9,
 * checked with the chaos test's counter check and linearizability checker
 * (test/system/chaos), `changes()` resuming across a worker restart and a
 * topology change, direct routing following a topology change and falling
 * back to the router while a worker is down.
 *
 * One cluster for the file; the tests run in order and each leaves it with
 * every worker of its topology up, except the last (a worker left down).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, writeSecretFile } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { createClient, type ChangeEvent, type PinbaseClient } from '../../../services/client/index.js';
import { Placement } from '../../../services/topology/placement.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { verifyCounters } from '../../system/chaos/counter-check.js';
import { checkLinearizability } from '../../system/chaos/linearizability.js';
import { casRegisterModel } from '../../system/chaos/models.js';
import { RouterClient } from '../../system/chaos/router-client.js';
import { RealCluster } from '../router/real-cluster.js';
import { ClientWorkload } from './client-workload.js';

const secretsDir = makeTempDir('pinbase-client-faults-');
const secrets = { auth: generateSecret(), admin: generateSecret(), cluster: generateSecret() };
let cluster: RealCluster;
const clients: PinbaseClient[] = [];
const tokens = new Map<string, string>();

async function tokenFor(userId: string): Promise<string> {
  let token = tokens.get(userId);
  if (token === undefined) {
    token = await signUserToken(secrets.auth, { userId, scopes: [], ttlSeconds: 3600 });
    tokens.set(userId, token);
  }
  return token;
}

/** `attemptTimeoutMs`: short ones make the client give up on attempts the worker still applies, and retry them. */
function client(routing: 'direct' | 'router', attemptTimeoutMs = 5000): PinbaseClient {
  const made = createClient({ url: cluster.url, getToken: tokenFor, routing, deadlineMs: 20_000, attemptTimeoutMs });
  clients.push(made);
  return made;
}

/** Sum of a Prometheus counter's samples whose labels contain `labels` (e.g. `worker="w3"`), from `url`/metrics. */
async function counterSum(url: string, name: string, labels = ''): Promise<number> {
  const reply = await send(url, '/metrics', { headers: { authorization: `Bearer ${secrets.admin}` } });
  expect(reply.status).toBe(200);
  let sum = 0;
  for (const line of reply.body.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Users whose owner is `now` over `workers`, and `after` once `added` joins. */
function movingUsers(workers: string[], added: string, now: string, after: string, count: number, salt: string): string[] {
  const before = new Placement(workers);
  const later = new Placement([...workers, added]);
  const users: string[] = [];
  for (let i = 0; users.length < count; i++) {
    const user = `${salt}${i}`;
    if (before.owner(user) === now && later.owner(user) === after) users.push(user);
  }
  return users;
}

beforeAll(async () => {
  const dir = join(secretsDir.path, 'secrets');
  mkdirSync(dir, { mode: 0o700 });
  const files = { auth: join(dir, 'auth'), admin: join(dir, 'admin'), cluster: join(dir, 'cluster') };
  for (const name of ['auth', 'admin', 'cluster'] as const) writeSecretFile(files[name], secrets[name]);
  const shared = ['--admin-token-file', files.admin, '--cluster-secret-file', files.cluster];
  cluster = await RealCluster.start(2, shared, ['--auth-secret-file', files.auth, ...shared]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await cluster?.stop();
  secretsDir.remove();
});

describe('the client under faults', () => {
  it('retries writes through a worker kill -9: no increment applied twice or lost, registers linearizable', async () => {
    const users = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    const victim = cluster.ownerOf('k0');
    const workload = new ClientWorkload(`run${Date.now()}`, users);
    // Two more clients give up on an attempt after 200 ms. While the victim is paused (shorter than a lease's
    // stale time), their attempts there time out and are retried, and the worker applies the first ones when
    // it resumes: the retries must be recognised as the same writes (the Idempotency-Key), or the checks
    // find writes applied twice.
    const running = workload.run([client('direct'), client('router'), client('direct', 200), client('router', 200)], 12, 6000);
    await sleep(1500);
    const paused = cluster.workers.find((w) => w.id === victim)!.process!.child;
    paused.kill('SIGSTOP');
    await sleep(900);
    paused.kill('SIGCONT');
    await sleep(1000);
    const killedAt = performance.now();
    await cluster.killWorker(victim, 'SIGKILL');
    await cluster.startWorker(victim).waitReady(20_000);
    await running;
    await cluster.waitRoutable(2);
    await workload.readEveryRegister(clients[0]!);

    const checker = new RouterClient(cluster.url, 5000, new Map(await Promise.all(users.map(async (u) => [u, await tokenFor(u)] as const))));
    const counters = await verifyCounters(checker, workload.increments, users);
    await checker.close();
    const context = JSON.stringify({ counters, errors: [...workload.errors] }, null, 1);
    expect(counters.problems, context).toEqual([]);
    expect(counters.acked, context).toBeGreaterThan(5);
    const verdict = checkLinearizability(casRegisterModel, workload.history, { timeoutMs: 10_000 });
    expect(verdict.ok, JSON.stringify(verdict).slice(0, 2000)).toBe(true);
    const writes = [...workload.history.filter((op) => op.input.type !== 'read'), ...workload.increments];
    expect(writes.filter((op) => op.status === 'ok').length).toBeGreaterThan(10);
    // The kill hit writes in flight, and the client carried some of them to an acknowledgement.
    expect(writes.filter((op) => op.status === 'ok' && op.call < killedAt && op.return! > killedAt).length, context).toBeGreaterThan(0);
  });

  it('changes() delivers every commit once, in order, across a worker restart and a topology change', async () => {
    const workers = cluster.workers.map((w) => w.id);
    const added = `w${workers.length + 1}`;
    const [user] = movingUsers(workers, added, 'w1', added, 1, 'feed');
    const writer = client('router');
    const notes = writer.user(user!).collection<{ n: number }>('notes');
    const controller = new AbortController();
    const delivered: number[] = [];
    const reading = (async () => {
      for await (const event of client('direct').user(user!).changes({ since: 0, signal: controller.signal }) as AsyncIterable<ChangeEvent>) {
        delivered.push(event.seq);
      }
    })();
    const acked: number[] = [];
    let writing = true;
    const writes = (async () => {
      for (let n = 0; writing; n++) {
        acked.push((await notes.put(`n${n % 5}`, { n })).seq);
        await sleep(25);
      }
    })();

    await sleep(800);
    await cluster.killWorker('w1', 'SIGKILL');
    await cluster.startWorker('w1').waitReady(20_000);
    await cluster.waitRoutable(workers.length);
    await sleep(800);
    await cluster.addWorker();
    await cluster.workers.at(-1)!.process!.waitReady(20_000);
    await cluster.waitRoutable(workers.length + 1);
    await sleep(800);
    writing = false;
    await writes;
    const last = acked.at(-1)!;
    for (const deadline = Date.now() + 15_000; (delivered.at(-1) ?? 0) < last && Date.now() < deadline; ) await sleep(50);
    controller.abort();
    await reading;

    expect(acked.length).toBeGreaterThan(20);
    expect(new Set(acked).size).toBe(acked.length);
    // Every commit of the partition, each once, in order: the seqs 1..last with no gap.
    expect(delivered).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  });

  it('direct routing follows a topology change and falls back to the router while a worker is down', async () => {
    const workers = cluster.workers.map((w) => w.id);
    const added = `w${workers.length + 1}`;
    const moving = movingUsers(workers, added, 'w1', added, 4, 'move');
    const direct = client('direct');
    const roundTrip = async (user: string, n: number) => {
      const notes = direct.user(user).collection<{ n: number }>('notes');
      await notes.put('a', { n });
      expect((await notes.get('a')).data.n).toBe(n);
    };
    for (const user of moving) await roundTrip(user, 1);

    await cluster.addWorker();
    await cluster.workers.at(-1)!.process!.waitReady(20_000);
    await cluster.waitRoutable(workers.length + 1);
    const routedBefore = await counterSum(cluster.url, 'pinbase_router_responses_total');
    const servedBefore = await counterSum(cluster.workerUrl(added), 'pinbase_http_requests_total');
    for (let n = 2; n < 7; n++) for (const user of moving) await roundTrip(user, n);
    const routed = (await counterSum(cluster.url, 'pinbase_router_responses_total')) - routedBefore;
    const served = (await counterSum(cluster.workerUrl(added), 'pinbase_http_requests_total')) - servedBefore;
    // 40 requests for users that moved to the new worker: served there, not through the router
    // (beyond a few: the topology refresh, a 421 retried through the router).
    expect(served).toBeGreaterThanOrEqual(40);
    expect(routed).toBeLessThan(10);

    const victim = workers.find((id) => id !== 'w1') ?? 'w2';
    const stranded = cluster.usersOwnedBy(victim, 4, 'down');
    for (const user of stranded) await roundTrip(user, 1);
    await cluster.killWorker(victim, 'SIGKILL');
    // Every request still succeeds: the client falls back to the router, which moves the users.
    for (let n = 2; n < 5; n++) for (const user of stranded) await roundTrip(user, n);
  });
});
