/**
 * The router does not misroute while it starts: a worker whose first probe
 * fails (here: paused with SIGSTOP, so the probe times out) is "not probed
 * yet", not down. The router listens only once every worker's first round
 * has ended, so every user's request sent the instant its port answers lands
 * on the user's primary owner.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Placement } from '../../../services/topology/placement.js';
import { assertBuilt, CliProcess } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { HttpClient } from '../../support/http-client.js';
import { spawnWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

const dir = mkdtempSync(join(tmpdir(), 'pinbase-router-startup-'));
const workers: WorkerProcess[] = [];
let router: CliProcess | undefined;

beforeAll(async () => {
  assertBuilt();
  const ports = [await freePort(), await freePort()];
  const topologyFile = join(dir, 'topology.json');
  writeFileSync(topologyFile, JSON.stringify({ version: 1, workers: ports.map((port, i) => ({ id: `w${i + 1}`, url: `http://127.0.0.1:${port}` })) }));
  for (const [i, port] of ports.entries()) workers.push(spawnWorkerProcess({ id: `w${i + 1}`, port, dataDir: join(dir, 'data'), topologyFile }));
  await Promise.all(workers.map((worker) => worker.waitReady(20_000)));
}, 30_000);

afterAll(async () => {
  await router?.stop();
  await Promise.all(workers.map((worker) => worker.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** The local ports of the established TCP connections to 127.0.0.1:`port` (from /proc/net/tcp). */
function connectionsTo(port: number): Set<number> {
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const ports = new Set<number>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, rem, state] = line.trim().split(/\s+/);
    if (rem === remote && state === '01') ports.add(Number.parseInt(local!.split(':')[1]!, 16));
  }
  return ports;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms:\n${router?.output() ?? ''}`);
    await sleep(5);
  }
}

describe('router start-up', () => {
  it('routes every user to its primary owner from the moment its port answers, though a worker failed its first probe', async () => {
    const [w1, w2] = workers as [WorkerProcess, WorkerProcess];
    const placement = new Placement(['w1', 'w2']);
    const users = Array.from({ length: 300 }, (_, i) => `startup${i}`);
    expect(users.filter((user) => placement.owner(user) === 'w2').length).toBeGreaterThan(100);

    const before = connectionsTo(w2.port);
    w2.child.kill('SIGSTOP');
    const port = await freePort();
    router = new CliProcess(['router', '--port', String(port), '--topology', join(dir, 'topology.json'), '--log-level', 'warn',
      '--probe-interval', '200', '--probe-timeout', '1000', '--fall', '40']);
    // w2 is paused until its first probe has timed out (1 s); it resumes 3 s later, long before 40 failed probes (~9 s).
    const resumed = (async () => {
      await waitFor('the router probed w2', () => [...connectionsTo(w2.port)].some((p) => !before.has(p)), 20_000);
      await sleep(3000);
      w2.child.kill('SIGCONT');
    })();
    const client = new HttpClient(`http://127.0.0.1:${port}`, { connections: 16, timeoutMs: 20_000 });
    try {
      await waitFor('the router listened', async () => {
        try {
          return (await client.send('/healthz', { timeoutMs: 200 })).status === 200;
        } catch {
          return false;
        }
      }, 20_000);
      const writes = users.map((user) => client.send(`/api/users/${user}/notes/n1`, { method: 'PUT', json: { user } }));
      const readyz = await client.send('/readyz');
      const replies = await Promise.all(writes);
      const landed = replies.map((reply, i) => ({ user: users[i]!, status: reply.status, worker: reply.header('x-pinbase-worker') }));
      const misrouted = landed.filter(({ user, status, worker }) => status !== 201 || worker !== placement.owner(user));
      expect(misrouted, router.output()).toEqual([]);
      expect(readyz.json()).toMatchObject({ status: 'ready', routableWorkers: 2 });
    } finally {
      await resumed.catch(() => w2.child.kill('SIGCONT'));
      await client.close();
    }
    expect(w1.child.exitCode).toBeNull();
  }, 60_000);

  it('stays up and listens when no worker answers yet (as under `pinbase up`, which starts the router with its workers)', async () => {
    const topologyFile = join(dir, 'nobody.json');
    const ports = [await freePort(), await freePort()];
    writeFileSync(topologyFile, JSON.stringify({ version: 1, workers: ports.map((p, i) => ({ id: `w${i + 1}`, url: `http://127.0.0.1:${p}` })) }));
    const port = await freePort();
    const lonely = new CliProcess(['router', '--port', String(port), '--topology', topologyFile, '--log-level', 'warn', '--probe-interval', '100', '--fall', '2']);
    const client = new HttpClient(`http://127.0.0.1:${port}`, { timeoutMs: 2000 });
    try {
      await waitFor('the router listened', async () => {
        if (!lonely.running) throw new Error(`the router exited: ${lonely.output()}`);
        try {
          return (await client.send('/healthz', { timeoutMs: 200 })).status === 200;
        } catch {
          return false;
        }
      }, 20_000);
      expect((await client.send('/readyz')).status).toBe(503);
      expect(lonely.running).toBe(true);
    } finally {
      await client.close();
      await lonely.stop();
    }
  }, 30_000);
});
