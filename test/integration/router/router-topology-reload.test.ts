import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeFileSync } from 'node:fs';
import { FakeCluster } from './fake-cluster.js';
import { send } from '../../support/http-client.js';
import type { WorkerStatus } from '../../../router/status-report.js';

let cluster: FakeCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const users = Array.from({ length: 200 }, (_, i) => `reload${i}`);

async function ownersThroughRouter(c: FakeCluster): Promise<string[]> {
  const replies = await Promise.all(users.map((u) => send(c.url, `/api/users/${u}/x`)));
  return replies.map((r) => String(r.headers['x-pinbase-worker']));
}

describe('router topology reload (fake workers)', () => {
  it('picks up an added worker from the file and moves users only to it', async () => {
    cluster = await FakeCluster.start(3);
    const before = await ownersThroughRouter(cluster);
    await cluster.addWorker();
    await vi.waitFor(async () => expect((await send(cluster!.url, '/_router/status')).json().topologyVersion).toBe(2), { timeout: 3000 });
    await vi.waitFor(async () => expect((await send(cluster!.url, '/_router/status')).json().workers[3].routable).toBe(true), { timeout: 3000 });
    const after = await ownersThroughRouter(cluster);
    let moved = 0;
    after.forEach((owner, i) => {
      if (owner === before[i]) return;
      moved++;
      expect(owner).toBe('w4');
    });
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThanOrEqual(users.length * (1 / 4 + 0.02) + 5);
  });

  it('keeps the old topology when the new file is bad, and on reload() of an unchanged file', async () => {
    cluster = await FakeCluster.start(2);
    writeFileSync(cluster.topologyPath, '{"version": 9, "workers": "nope"}');
    cluster.router.control.reload();
    const status = (await send(cluster.url, '/_router/status')).json();
    expect(status.topologyVersion).toBe(1);
    expect((status.workers as WorkerStatus[]).map((w) => w.id)).toEqual(['w1', 'w2']);
    expect((await send(cluster.url, '/api/users/alice/x')).status).toBe(200);
  });

  it('lets requests in flight on a removed worker finish', async () => {
    cluster = await FakeCluster.start(2);
    const user = cluster.userOwnedBy('w2');
    const w2 = cluster.worker('w2');
    let finish: (() => void) | undefined;
    w2.behavior = (req, res) => {
      if (!req.url?.includes('/slow')) return false;
      finish = () => res.end('{"slow":true}');
      return true;
    };
    const pending = send(cluster.url, `/api/users/${user}/slow`);
    await vi.waitFor(() => expect(finish).toBeDefined(), { timeout: 2000 });
    cluster.workers.splice(1, 1);
    cluster.version++;
    cluster.writeTopology();
    await vi.waitFor(async () => expect((await send(cluster!.url, '/_router/status')).json().topologyVersion).toBe(2), { timeout: 3000 });
    finish!();
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('{"slow":true}');
    expect((await send(cluster.url, `/api/users/${user}/x`)).headers['x-pinbase-worker']).toBe('w1');
    expect(cluster.worker('w1').received.at(-1)!.headers['x-pinbase-down']).toBe('w2');
    await w2.kill();
  });
});
