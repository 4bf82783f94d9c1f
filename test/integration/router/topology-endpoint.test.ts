/**
 * GET /api/users/:userId/_topology through the router, at real workers that
 * verify the router's signed hints: what a client in direct mode routes by.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { RealCluster } from './real-cluster.js';

const secrets = makeTempDir('pinbase-topology-secret-');
let cluster: RealCluster;

beforeAll(async () => {
  const file = join(secrets.path, 'cluster-secret');
  writeFileSync(file, `${generateSecret()}\n`, { mode: 0o600 });
  const flags = ['--cluster-secret-file', file];
  cluster = await RealCluster.start(2, flags, flags);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  secrets.remove();
});

describe('the topology endpoint through the router', () => {
  it('answers the topology file, then names a stopped worker as down once the router has noticed', async () => {
    const file = JSON.parse(readFileSync(cluster.topologyPath, 'utf8')) as { version: number; workers: unknown[] };
    const [user] = cluster.usersOwnedBy('w1', 1, 'topo');
    const path = `/api/users/${user}/_topology`;

    const first = await send(cluster.url, path);
    expect(first.status, first.body).toBe(200);
    expect(first.json()).toEqual({ version: file.version, workers: file.workers, down: [] });
    expect(first.header('x-pinbase-topology')).toBe(String(file.version));
    expect(first.header('x-pinbase-worker')).toBe('w1');
    // Straight at the worker (no router hint): the same workers, nothing down.
    expect((await send(cluster.workerUrl('w1'), path)).json()).toEqual({ version: file.version, workers: file.workers, down: [] });

    await cluster.killWorker('w2', 'SIGKILL');
    const deadline = Date.now() + 15_000;
    let down: unknown = [];
    while (Date.now() < deadline) {
      const reply = await send(cluster.url, path);
      expect(reply.status, reply.body).toBe(200);
      down = (reply.json() as { down: unknown }).down;
      if (Array.isArray(down) && down.length > 0) break;
      await sleep(100);
    }
    expect(down).toEqual(['w2']);
    // The worker believes the list only from the router: a client that sends it itself learns nothing.
    const direct = await send(cluster.workerUrl('w1'), path, { headers: { 'x-pinbase-down': 'w2' } });
    expect(direct.json()).toMatchObject({ down: [] });
  }, 30_000);
});
