/**
 * The README's "Deploy with Ansible" and "Scale out" commands, for real:
 * site.yml against the local inventory (router + two worker "hosts" on this
 * machine, start-stop-daemon services on 127.0.0.1), then a port added to
 * and a port removed from the inventory, each followed by the same command.
 * Everything the playbook started is stopped at the end, by pid.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Placement } from '../../../services/topology/placement.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { putWithRetry, unreadableWrites, WriteLoad, type Write } from '../../support/write-load.js';
import { assertInstalled, describeRun, runPlaybook, type AnsibleRun } from './ansible-runner.js';
import { isRunning, readPidfiles, stopAll, waitUntilGone } from './deployed-processes.js';
import { LocalInventory } from './local-inventory.js';

interface RouterStatus {
  topologyVersion: number;
  workers: { id: string; health: string; routable: boolean }[];
}

const USERS = Array.from({ length: 90 }, (_, i) => `deploy-user-${i}`);

let temp: ReturnType<typeof makeTempDir>;
let root: string;
let inventory: LocalInventory;
let router: string;
let ports: { router: number; a: number; b: number; c: number };
const seenPids = new Set<number>();
/** Each user's first object, and the worker that served it after the last change. */
const firsts = new Map<string, Write>();
let servedBy = new Map<string, string>();
const loadWrites: Write[] = [];

function site(): Promise<AnsibleRun> {
  return runPlaybook('site.yml', inventory.path, root);
}

function rollingRestart(): Promise<AnsibleRun> {
  return runPlaybook('rolling-restart.yml', inventory.path, root);
}

function pids(): Map<string, number> {
  const current = readPidfiles(root);
  for (const pid of current.values()) seenPids.add(pid);
  return current;
}

async function status(): Promise<RouterStatus> {
  // The status lists users: it needs the admin token the playbook generated.
  const token = readFileSync(join(root, 'lb1', 'etc', 'admin-token'), 'utf8').trim();
  const reply = await send(router, '/_router/status', { headers: { authorization: `Bearer ${token}` } });
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body) as RouterStatus;
}

function expectSuccess(run: AnsibleRun, hosts = ['lb1', 'node1', 'node2']): void {
  expect(run.code, describeRun(run)).toBe(0);
  expect([...run.recap.keys()].sort(), describeRun(run)).toEqual(hosts);
  for (const [host, recap] of run.recap) expect(recap.failed + recap.unreachable, `${host}: ${describeRun(run)}`).toBe(0);
}

/** Reads every user's first object through the router; returns user → worker that served it. */
async function readFirsts(): Promise<Map<string, string>> {
  const workers = new Map<string, string>();
  for (const [user, write] of firsts) {
    const reply = await send(router, write.path);
    expect(reply.status, `${write.path}: ${reply.body}`).toBe(200);
    expect(JSON.parse(reply.body)).toEqual(JSON.parse(write.body));
    workers.set(user, reply.header('x-pinbase-worker') ?? '');
  }
  return workers;
}

function expectPlacement(workers: Map<string, string>, workerIds: string[]): void {
  const placement = new Placement(workerIds);
  for (const [user, worker] of workers) expect(worker, user).toBe(placement.owner(user));
}

beforeAll(async () => {
  assertInstalled('ansible-playbook');
  temp = makeTempDir('pinbase-deploy-');
  root = join(temp.path, 'cluster');
  ports = { router: await freePort(), a: await freePort(), b: await freePort(), c: await freePort() };
  inventory = new LocalInventory(join(temp.path, 'inventory'), ports.router, ports.a, ports.b);
  router = `http://127.0.0.1:${ports.router}`;
});

afterAll(async () => {
  if (root) await stopAll([...seenPids, ...readPidfiles(root).values()], root);
  temp?.remove();
});

describe('ansible: site.yml deploys a cluster from the inventory and scales it by worker_ports', () => {
  it('deploys router and workers from the local inventory, and the cluster serves REST calls through the router', async () => {
    const run = await site();
    expectSuccess(run);
    console.info(`site.yml, first deploy: ${run.seconds.toFixed(1)} s`);
    expect([...pids().keys()].sort()).toEqual(['lb1/router', `node1/worker-${ports.a}`, `node2/worker-${ports.b}`]);

    const cluster = await status();
    expect(cluster.topologyVersion).toBe(1);
    expect(cluster.workers.map((w) => [w.id, w.health])).toEqual([
      [`node1-${ports.a}`, 'up'],
      [`node2-${ports.b}`, 'up'],
    ]);

    // The admin token (generated for the local cluster, from ansible-vault in
    // production) guards drain/undrain; the playbook sends it.
    const unauthorized = await send(router, `/_router/workers/node1-${ports.a}/drain`, { method: 'POST' });
    expect(unauthorized.status).toBe(401);
    expect(statSync(join(root, 'lb1', 'etc', 'admin-token')).mode & 0o777).toBe(0o600);

    for (const user of USERS) {
      const write = { path: `/api/users/${user}/notes/first`, body: JSON.stringify({ user, text: 'written after the first deploy' }) };
      const reply = await putWithRetry(router, write, `first-${user}`);
      expect(reply.status, reply.body).toBe(201);
      firsts.set(user, write);
    }
    servedBy = await readFirsts();
    expectPlacement(servedBy, [`node1-${ports.a}`, `node2-${ports.b}`]);
    expect(new Set(servedBy.values()).size).toBe(2);
  }, 420_000);

  it('changes nothing when run again with the same inventory', async () => {
    const before = pids();
    const run = await site();
    expectSuccess(run);
    console.info(`site.yml, unchanged inventory: ${run.seconds.toFixed(1)} s`);
    for (const [host, recap] of run.recap) expect(recap.changed, `${host}: ${describeRun(run)}`).toBe(0);
    expect(pids()).toEqual(before);
  }, 180_000);

  it('starts a worker for a port added to the inventory; the router reloads and moves ~1/3 of the users to it, losing nothing', async () => {
    const before = pids();
    const load = new WriteLoad(router, USERS, { name: 'grow', concurrency: 2, pauseMs: 20 });
    load.start();
    inventory.setWorkerPorts('node1', [ports.a, ports.c]);
    const run = await site();
    await load.stop();
    expectSuccess(run);
    console.info(`site.yml, port added: ${run.seconds.toFixed(1)} s; load: ${load.acks.length} writes, ${load.retries} retries`);
    expect(load.failures).toEqual([]);
    loadWrites.push(...load.acks);

    // The router and the earlier workers kept running: a reload, not a restart.
    const after = pids();
    for (const [name, pid] of before) expect(after.get(name), name).toBe(pid);
    expect(after.get(`node1/worker-${ports.c}`)).toBeDefined();

    const added = `node1-${ports.c}`;
    const cluster = await status();
    expect(cluster.topologyVersion).toBe(2);
    expect(cluster.workers.map((w) => [w.id, w.health]).sort()).toEqual(
      [[`node1-${ports.a}`, 'up'], [added, 'up'], [`node2-${ports.b}`, 'up']].sort(),
    );

    const now = await readFirsts();
    expectPlacement(now, [`node1-${ports.a}`, added, `node2-${ports.b}`]);
    const moved = USERS.filter((user) => now.get(user) !== servedBy.get(user));
    expect(moved.every((user) => now.get(user) === added)).toBe(true);
    expect(moved.length / USERS.length).toBeGreaterThan(0.15);
    expect(moved.length / USERS.length).toBeLessThan(0.55);
    servedBy = now;
    expect(await unreadableWrites(router, loadWrites)).toEqual([]);
  }, 240_000);

  it('stops the worker of a port removed from the inventory after handing its users to the others, losing nothing', async () => {
    const removed = `node1-${ports.a}`;
    const removedPid = pids().get(`node1/worker-${ports.a}`)!;
    const routerPid = pids().get('lb1/router');
    const load = new WriteLoad(router, USERS, { name: 'shrink', concurrency: 2, pauseMs: 20 });
    load.start();
    inventory.setWorkerPorts('node1', [ports.c]);
    const run = await site();
    await load.stop();
    expectSuccess(run);
    console.info(`site.yml, port removed: ${run.seconds.toFixed(1)} s; load: ${load.acks.length} writes, ${load.retries} retries`);
    expect(load.failures).toEqual([]);
    loadWrites.push(...load.acks);

    expect(await waitUntilGone(removedPid, 5000)).toBe(true);
    expect(pids().has(`node1/worker-${ports.a}`)).toBe(false);
    expect(pids().get('lb1/router')).toBe(routerPid);

    const cluster = await status();
    expect(cluster.topologyVersion).toBe(3);
    expect(cluster.workers.map((w) => w.id).sort()).toEqual([`node1-${ports.c}`, `node2-${ports.b}`].sort());

    const now = await readFirsts();
    expectPlacement(now, [`node1-${ports.c}`, `node2-${ports.b}`]);
    for (const user of USERS) {
      if (servedBy.get(user) !== removed) expect(now.get(user), user).toBe(servedBy.get(user));
    }
    expect(await unreadableWrites(router, loadWrites)).toEqual([]);
    expect(isRunning(removedPid)).toBe(false);
  }, 240_000);

  it('rolling-restart.yml restarts every worker, one at a time and drained first, without a failed request', async () => {
    const before = pids();
    const load = new WriteLoad(router, USERS, { name: 'restart', concurrency: 2, pauseMs: 20 });
    load.start();
    const run = await rollingRestart();
    await load.stop();
    expectSuccess(run, ['node1', 'node2']);
    console.info(`rolling-restart.yml: ${run.seconds.toFixed(1)} s; load: ${load.acks.length} writes, ${load.retries} retries`);
    expect(load.failures).toEqual([]);
    loadWrites.push(...load.acks);

    const after = pids();
    expect(after.get('lb1/router')).toBe(before.get('lb1/router'));
    for (const worker of [`node1/worker-${ports.c}`, `node2/worker-${ports.b}`]) {
      expect(after.get(worker), worker).toBeDefined();
      expect(after.get(worker), worker).not.toBe(before.get(worker));
    }
    const cluster = await status();
    expect(cluster.workers.map((w) => [w.id, w.health, w.routable]).sort()).toEqual(
      [[`node1-${ports.c}`, 'up', true], [`node2-${ports.b}`, 'up', true]].sort(),
    );
    expectPlacement(await readFirsts(), [`node1-${ports.c}`, `node2-${ports.b}`]);
    expect(await unreadableWrites(router, loadWrites)).toEqual([]);
  }, 240_000);
});
