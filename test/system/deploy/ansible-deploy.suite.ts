/**
 * The README's "Deploy with Ansible" and "Scale out" commands, for real:
 * site.yml against the local inventory (router + two worker "hosts" on this
 * machine, start-stop-daemon services on 127.0.0.1, authentication on with
 * the inventory's test secrets), then a port added to and a port removed
 * from the inventory, each followed by the same command, a rolling restart,
 * and a rotation of the users' token secret. Every user request carries a
 * token signed with the inventory's secret. Everything the playbook started
 * is stopped at the end, by pid. `npm test` runs the first deploy and the
 * port added; the unchanged run, the port removed, the rolling restart and
 * the rotation run with PINBASE_DEPLOY_SCENARIOS=all (CI, `npm run test:all`;
 * ansible-runner.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { Placement } from '../../../services/topology/placement.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { putWithRetry, unreadableWrites, WriteLoad, type UserAuthorization, type Write } from '../../support/write-load.js';
import { ALL_DEPLOY_SCENARIOS, assertInstalled, describeRun, runPlaybook, type AnsibleRun } from './ansible-runner.js';
import { commandLine, isRunning, readPidfiles, stopAll, waitUntilGone } from './deployed-processes.js';
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
/** Each user's Authorization header, signed with the inventory's current signing secret. */
let authorization: UserAuthorization;

function site(extraVars?: Record<string, unknown>): Promise<AnsibleRun> {
  return runPlaybook('site.yml', inventory.path, root, extraVars);
}

/** The users' token secrets the inventory gives the workers, the signing one first. */
function authSecrets(): string[] {
  const value = inventory.groupVar('pinbase_auth_secret');
  return typeof value === 'string' ? [value] : value;
}

/** Every user's Authorization header, each with a token signed with `secret`. */
async function bearerTokens(secret: string): Promise<UserAuthorization> {
  const tokens = new Map<string, string>();
  for (const user of USERS) tokens.set(user, `Bearer ${await signUserToken(secret, { userId: user, scopes: [], ttlSeconds: 3600 })}`);
  return (user) => tokens.get(user) ?? '';
}

/** The secret files on `host` (its prefix's etc/secrets/): name → content and mode. */
function secretFiles(host: string): Map<string, { content: string; mode: number }> {
  const dir = join(root, host, 'etc', 'secrets');
  expect(statSync(dir).mode & 0o777, dir).toBe(0o700);
  const files = new Map<string, { content: string; mode: number }>();
  for (const name of ['auth-secret', 'jwks.json', 'admin-token', 'cluster-secret']) {
    const path = join(dir, name);
    if (existsSync(path)) files.set(name, { content: readFileSync(path, 'utf8'), mode: statSync(path).mode & 0o777 });
  }
  return files;
}

/** The value that follows `flag` in a process's command line (undefined when absent). */
function flagValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index < 0 ? undefined : args[index + 1];
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
  // The status lists users: it needs the admin token the playbook wrote.
  const token = readFileSync(join(root, 'lb1', 'etc', 'secrets', 'admin-token'), 'utf8').trim();
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
    const reply = await send(router, write.path, { headers: { authorization: authorization(user) } });
    expect(reply.status, `${write.path}: ${reply.body}`).toBe(200);
    expect(JSON.parse(reply.body)).toEqual(JSON.parse(write.body));
    workers.set(user, reply.header('x-pinbase-worker') ?? '');
  }
  return workers;
}

/**
 * unreadableWrites for every write of `writes`, read back by four readers at
 * once (a quarter of the list each) rather than one request at a time: by the
 * last scenario the list holds some 20 000 writes.
 */
async function unreadable(writes: readonly Write[], sign: UserAuthorization): Promise<string[]> {
  const readers = 4;
  const size = Math.ceil(writes.length / readers);
  const parts = Array.from({ length: readers }, (_, i) => writes.slice(i * size, (i + 1) * size));
  return (await Promise.all(parts.map((part) => unreadableWrites(router, part, sign)))).flat();
}

function expectPlacement(workers: Map<string, string>, workerIds: string[]): void {
  const placement = new Placement(workerIds);
  for (const [user, worker] of workers) expect(worker, user).toBe(placement.owner(user));
}

/** The origin of a browser app the inventory allows. */
const APP_ORIGIN = 'https://app.example';

describe('ansible: site.yml deploys a cluster from the inventory and scales it by worker_ports', () => {
  beforeAll(async () => {
    assertInstalled('ansible-playbook');
    temp = makeTempDir('pinbase-deploy-');
    root = join(temp.path, 'cluster');
    ports = { router: await freePort(), a: await freePort(), b: await freePort(), c: await freePort() };
    inventory = new LocalInventory(join(temp.path, 'inventory'), ports.router, ports.a, ports.b);
    // A browser app's origin, as an operator allows it (CORS on the workers and the router).
    inventory.addGroupVars({ pinbase_cors_origins: [APP_ORIGIN] });
    router = `http://127.0.0.1:${ports.router}`;
    authorization = await bearerTokens(authSecrets()[0]!);
  });

  afterAll(async () => {
    if (root) await stopAll([...seenPids, ...readPidfiles(root).values()], root);
    temp?.remove();
  });

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

    // The admin token (a test value in the local inventory, from ansible-vault
    // in production) guards drain/undrain; the playbook sends it.
    const unauthorized = await send(router, `/_router/workers/node1-${ports.a}/drain`, { method: 'POST' });
    expect(unauthorized.status).toBe(401);

    // pinbase_cors_origins reached both: a browser app's preflight is allowed through the router and at a worker.
    const preflight = { method: 'OPTIONS', headers: { origin: APP_ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization' } };
    for (const origin of [router, `http://127.0.0.1:${ports.a}`]) {
      const allowed = await send(origin, `/api/users/${USERS[0]}/notes/n1`, preflight);
      expect([allowed.status, allowed.header('access-control-allow-origin')], origin).toEqual([204, APP_ORIGIN]);
    }

    for (const user of USERS) {
      const write = { path: `/api/users/${user}/notes/first`, body: JSON.stringify({ user, text: 'written after the first deploy' }) };
      const reply = await putWithRetry(router, write, `first-${user}`, authorization);
      expect(reply.status, reply.body).toBe(201);
      firsts.set(user, write);
    }
    servedBy = await readFirsts();
    expectPlacement(servedBy, [`node1-${ports.a}`, `node2-${ports.b}`]);
    expect(new Set(servedBy.values()).size).toBe(2);
  }, 420_000);

  it('gives each host only the secret files its processes read (0600 in a 0700 directory) and runs them with those files', () => {
    const admin = inventory.groupVar('pinbase_admin_token') as string;
    const cluster = inventory.groupVar('pinbase_cluster_secret') as string;
    for (const node of ['node1', 'node2']) {
      const files = secretFiles(node);
      expect([...files.keys()].sort(), node).toEqual(['admin-token', 'auth-secret', 'cluster-secret']);
      for (const [name, file] of files) expect(file.mode, `${node}/${name}`).toBe(0o600);
      expect(files.get('auth-secret')!.content).toBe(`${authSecrets().join('\n')}\n`);
      expect(files.get('admin-token')!.content).toBe(`${admin}\n`);
      expect(files.get('cluster-secret')!.content).toBe(`${cluster}\n`);
    }
    // The router passes users' tokens through: it never gets their key.
    const routerFiles = secretFiles('lb1');
    expect([...routerFiles.keys()].sort()).toEqual(['admin-token', 'cluster-secret']);
    for (const [name, file] of routerFiles) expect(file.mode, `lb1/${name}`).toBe(0o600);

    const running = pids();
    for (const [node, port] of [['node1', ports.a], ['node2', ports.b]] as const) {
      const args = commandLine(running.get(`${node}/worker-${port}`)!);
      const secrets = join(root, node, 'etc', 'secrets');
      // The host's private address (the inventory's pinbase_private_address), never a wildcard.
      expect(flagValue(args, '--host'), args.join(' ')).toBe('127.0.0.1');
      expect(flagValue(args, '--auth-secret-file')).toBe(join(secrets, 'auth-secret'));
      expect(flagValue(args, '--admin-token-file')).toBe(join(secrets, 'admin-token'));
      expect(flagValue(args, '--cluster-secret-file')).toBe(join(secrets, 'cluster-secret'));
      expect(args).not.toContain('--insecure');
    }
    const routerArgs = commandLine(running.get('lb1/router')!);
    expect(flagValue(routerArgs, '--admin-token-file'), routerArgs.join(' ')).toBe(join(root, 'lb1', 'etc', 'secrets', 'admin-token'));
    expect(flagValue(routerArgs, '--cluster-secret-file')).toBe(join(root, 'lb1', 'etc', 'secrets', 'cluster-secret'));
    expect(routerArgs).not.toContain('--auth-secret-file');
    expect(routerArgs).not.toContain('--insecure');
  });

  it('refuses a user request without a token or with a token from another secret (401), through the router and at the worker', async () => {
    const user = USERS[0]!;
    const path = firsts.get(user)!.path;
    const owner = servedBy.get(user)!;
    const worker = `http://127.0.0.1:${owner === `node1-${ports.a}` ? ports.a : ports.b}`;
    const forged = `Bearer ${await signUserToken(randomBytes(32).toString('base64url'), { userId: user, scopes: [], ttlSeconds: 3600 })}`;
    for (const origin of [router, worker]) {
      const missing = await send(origin, path);
      expect(missing.status, `${origin}: ${missing.body}`).toBe(401);
      expect(missing.header('content-type')).toMatch(/^application\/problem\+json/);
      expect(missing.json().code).toBe('missing_token');
      expect(missing.header('www-authenticate')).toMatch(/^Bearer/);

      const invalid = await send(origin, path, { headers: { authorization: forged } });
      expect(invalid.status, `${origin}: ${invalid.body}`).toBe(401);
      expect(invalid.json().code).toBe('invalid_token');

      const valid = await send(origin, path, { headers: { authorization: authorization(user) } });
      expect(valid.status, `${origin}: ${valid.body}`).toBe(200);
    }
  });

  it.runIf(ALL_DEPLOY_SCENARIOS)('changes nothing when run again with the same inventory', async () => {
    const before = pids();
    const run = await site();
    expectSuccess(run);
    console.info(`site.yml, unchanged inventory: ${run.seconds.toFixed(1)} s`);
    for (const [host, recap] of run.recap) expect(recap.changed, `${host}: ${describeRun(run)}`).toBe(0);
    expect(pids()).toEqual(before);
  }, 420_000);

  it('stops before changing anything when a secret is missing or too short, naming the vault variable to set', async () => {
    const before = pids();
    const filesBefore = ['lb1', 'node1', 'node2'].map((host) => secretFiles(host));
    const run = await site({ pinbase_admin_token: '', pinbase_cluster_secret: 'too-short' });
    expect(run.code, describeRun(run)).not.toBe(0);
    expect(run.output).toContain('pinbase_admin_token (vault_pinbase_admin_token) is not set');
    expect(run.output).toContain('pinbase_cluster_secret (vault_pinbase_cluster_secret) is too short');
    expect(run.output).not.toContain('too-short');
    for (const host of ['lb1', 'node1', 'node2']) {
      const recap = run.recap.get(host);
      expect(recap?.failed, `${host}: ${describeRun(run)}`).toBe(1);
      expect(recap?.changed, host).toBe(0);
    }
    expect(pids()).toEqual(before);
    expect(['lb1', 'node1', 'node2'].map((host) => secretFiles(host))).toEqual(filesBefore);
  }, 120_000);

  it('starts a worker for a port added to the inventory; the router reloads and moves ~1/3 of the users to it, losing nothing', async () => {
    const before = pids();
    const load = new WriteLoad(router, USERS, { name: 'grow', concurrency: 2, pauseMs: 20, authorization });
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
    expect(await unreadable(loadWrites, authorization)).toEqual([]);
  }, 420_000);

  it.runIf(ALL_DEPLOY_SCENARIOS)('stops the worker of a port removed from the inventory after handing its users to the others, losing nothing', async () => {
    const removed = `node1-${ports.a}`;
    const removedPid = pids().get(`node1/worker-${ports.a}`)!;
    const routerPid = pids().get('lb1/router');
    const load = new WriteLoad(router, USERS, { name: 'shrink', concurrency: 2, pauseMs: 20, authorization });
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
    expect(await unreadable(loadWrites, authorization)).toEqual([]);
    expect(isRunning(removedPid)).toBe(false);
  }, 420_000);

  it.runIf(ALL_DEPLOY_SCENARIOS)('rolling-restart.yml restarts every worker, one at a time and drained first, without a failed request', async () => {
    const before = pids();
    const load = new WriteLoad(router, USERS, { name: 'restart', concurrency: 2, pauseMs: 20, authorization });
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
    expect(await unreadable(loadWrites, authorization)).toEqual([]);
  }, 420_000);

  it.runIf(ALL_DEPLOY_SCENARIOS)('rotates the users\' token secret as the inventory documents it (new one first, roll, old one removed, roll) without a failed request', async () => {
    const [old] = authSecrets();
    const fresh = randomBytes(32).toString('base64url');
    const workers = [`node1/worker-${ports.c}`, `node2/worker-${ports.b}`];
    const user = USERS[0]!;
    const path = firsts.get(user)!.path;
    const withOld = authorization;
    const withNew = await bearerTokens(fresh);
    const routerPid = pids().get('lb1/router');

    /** site.yml writes the secrets without restarting anyone, then rolling-restart.yml restarts the workers drained. */
    async function roll(name: string, sign: UserAuthorization): Promise<void> {
      const before = pids();
      const load = new WriteLoad(router, USERS, { name, concurrency: 2, pauseMs: 20, authorization: sign });
      load.start();
      const written = await site({ worker_restart_on_change: false });
      const between = pids();
      const restarted = await rollingRestart();
      await load.stop();
      expectSuccess(written);
      expectSuccess(restarted, ['node1', 'node2']);
      console.info(
        `${name}: site.yml ${written.seconds.toFixed(1)} s, rolling-restart.yml ${restarted.seconds.toFixed(1)} s; ` +
          `load: ${load.acks.length} writes, ${load.retries} retries`,
      );
      expect(load.failures).toEqual([]);
      loadWrites.push(...load.acks);
      expect(between).toEqual(before);
      const after = pids();
      for (const worker of workers) expect(after.get(worker), worker).not.toBe(before.get(worker));
      // The router does not read the users' secret: it keeps running.
      expect(after.get('lb1/router')).toBe(routerPid);
    }

    // 1. The new secret first: tokens signed with either verify.
    inventory.setGroupVar('pinbase_auth_secret', [fresh, old!]);
    await roll('rotate-add', withOld);
    expect(secretFiles('node1').get('auth-secret')!.content).toBe(`${fresh}\n${old}\n`);
    for (const sign of [withOld, withNew]) {
      const reply = await send(router, path, { headers: { authorization: sign(user) } });
      expect(reply.status, reply.body).toBe(200);
    }

    // 2. The old secret removed: its tokens are refused.
    authorization = withNew;
    inventory.setGroupVar('pinbase_auth_secret', fresh);
    await roll('rotate-remove', withNew);
    expect(secretFiles('node2').get('auth-secret')!.content).toBe(`${fresh}\n`);
    expect(await unreadable(loadWrites, withNew)).toEqual([]);
    // Last, as it needs workers that enforce tokens.
    const refused = await send(router, path, { headers: { authorization: withOld(user) } });
    expect(refused.status, refused.body).toBe(401);
  }, 480_000);
});
