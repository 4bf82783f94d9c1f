import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partitionPath } from '../../../services/partition/user-id.js';
import { Placement } from '../../../services/topology/placement.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { openSse } from '../../support/sse-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

const placement = new Placement(['w1', 'w2']);
/** The first user id the placement gives to `worker`. */
function userOf(worker: string, skip = 0): string {
  for (let i = 0; ; i++) if (placement.owner(`user-${i}`) === worker && skip-- === 0) return `user-${i}`;
}

function writeTopology(file: string, version: number, workers: { id: string; port: number }[]): void {
  writeFileSync(file, JSON.stringify({ version, workers: workers.map((w) => ({ id: w.id, url: `http://127.0.0.1:${w.port}` })) }));
}

async function put(url: string, userId: string, id: string, headers: Record<string, string> = {}) {
  return send(url, `/api/users/${userId}/notes/${id}`, { method: 'PUT', headers, json: { id } });
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('ownership by topology, and handover between workers', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let dataDir: string;
  let topologyFile: string;
  let ports: { w1: number; w2: number };
  const workers: WorkerProcess[] = [];
  beforeEach(async () => {
    dir = makeTempDir();
    dataDir = join(dir.path, 'data');
    topologyFile = join(dir.path, 'topology.json');
    ports = { w1: await freePort(), w2: await freePort() };
    writeTopology(topologyFile, 1, [
      { id: 'w1', port: ports.w1 },
      { id: 'w2', port: ports.w2 },
    ]);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop('SIGKILL')));
    dir.remove();
  });

  it('answers 421 misdirected_request for a user another worker owns, and serves it when the router says that one is down', async () => {
    const w1 = await startWorkerProcess({ id: 'w1', dataDir, port: ports.w1, topologyFile });
    workers.push(w1);
    const response = await put(w1.url, userOf('w2'), 'a');
    expect(response.status).toBe(421);
    expect(response.header('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: 'misdirected_request', owner: 'w2', topologyVersion: 1 });
    expect((await put(w1.url, userOf('w1'), 'a')).status).toBe(201);
    expect((await put(w1.url, userOf('w2'), 'b', { 'x-pinbase-down': 'w2' })).status).toBe(201);
  });

  it('hands a partition over: the new owner asks the holder to release it and serves its data at once', async () => {
    const w1 = await startWorkerProcess({ id: 'w1', dataDir, port: ports.w1, topologyFile });
    const w2 = await startWorkerProcess({ id: 'w2', dataDir, port: ports.w2, topologyFile });
    workers.push(w1, w2);
    const user = userOf('w1');
    expect((await put(w1.url, user, 'written-on-w1')).status).toBe(201);
    const started = Date.now();
    const onW2 = await send(w2.url, `/api/users/${user}/notes/written-on-w1`, { headers: { 'x-pinbase-down': 'w1' } });
    expect(onW2.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1500);
    expect((await put(w2.url, user, 'written-on-w2', { 'x-pinbase-down': 'w1' })).status).toBe(201);
    // w1 is back: it takes the partition back the same way.
    const back = await send(w1.url, `/api/users/${user}/notes/written-on-w2`);
    expect(back.status).toBe(200);
    expect(back.header('x-pinbase-worker')).toBe('w1');
  });

  it('on a topology change releases the partitions it no longer owns and ends their live streams', async () => {
    const w1 = await startWorkerProcess({ id: 'w1', dataDir, port: ports.w1, topologyFile });
    workers.push(w1);
    const user = userOf('w1');
    expect((await put(w1.url, user, 'a')).status).toBe(201);
    const stream = await openSse(`${w1.url}/api/users/${user}/_changes`);
    const lock = `${partitionPath(dataDir, user)}.lock`;
    expect(existsSync(lock)).toBe(true);
    writeTopology(topologyFile, 2, [{ id: 'w2', port: ports.w2 }]);
    w1.child.kill('SIGHUP');
    await eventually(() => !existsSync(lock));
    await stream.ended;
    const status = (await send(w1.url, '/readyz')).json() as { topologyVersion: number };
    expect(status.topologyVersion).toBe(2);
    expect((await put(w1.url, user, 'b')).status).toBe(421);
  });

  it('keeps the old topology when the new file is invalid', async () => {
    const w1 = await startWorkerProcess({ id: 'w1', dataDir, port: ports.w1, topologyFile, args: ['--log-level', 'error'] });
    workers.push(w1);
    writeFileSync(topologyFile, '{"version": 3, "workers": [{"id": "bad id!", "url": "x"}]}');
    w1.child.kill('SIGHUP');
    await eventually(() => w1.output().includes('rejected'));
    expect(w1.output()).toContain('keeping version 1');
    expect((await put(w1.url, userOf('w1'), 'a')).status).toBe(201);
    expect((await put(w1.url, userOf('w2'), 'a')).status).toBe(421);
  });

  it('hands over with the cluster admin token, which a request without it cannot use', async () => {
    const tokenFile = join(dir.path, 'admin-token');
    writeFileSync(tokenFile, 'cluster-admin-token-0123456789\n');
    const args = ['--admin-token-file', tokenFile];
    const w1 = await startWorkerProcess({ id: 'w1', dataDir, port: ports.w1, topologyFile, args });
    const w2 = await startWorkerProcess({ id: 'w2', dataDir, port: ports.w2, topologyFile, args });
    workers.push(w1, w2);
    const user = userOf('w1');
    expect((await put(w1.url, user, 'a')).status).toBe(201);
    expect((await send(w1.url, `/_worker/partitions/${user}/release`, { method: 'POST' })).status).toBe(401);
    const started = Date.now();
    const onW2 = await send(w2.url, `/api/users/${user}/notes/a`, { headers: { 'x-pinbase-down': 'w1' } });
    expect(onW2.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
