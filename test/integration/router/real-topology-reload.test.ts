import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealCluster } from './real-cluster.js';
import { send } from '../../support/http-client.js';
import { unreadableWrites, WriteLoad } from '../../support/write-load.js';

let cluster: RealCluster;
beforeAll(async () => {
  cluster = await RealCluster.start(3);
});
afterAll(async () => {
  await cluster?.stop();
});

describe('router + real workers: a 4th worker is added by a topology reload', () => {
  it('finishes a steady load of idempotent writes with no failed request and every acknowledged write readable', async () => {
    const users = Array.from({ length: 40 }, (_, i) => `grow${i}`);
    const load = new WriteLoad(cluster.url, users, { concurrency: 6 });
    load.start();
    await sleep(800);
    const added = await cluster.addWorker();
    await cluster.waitRoutable(4);
    await sleep(1500);
    await load.stop();

    expect(load.failures).toEqual([]);
    const moved = users.filter((u) => cluster.ownerOf(u) === added);
    expect(moved.length).toBeGreaterThan(0);
    for (const user of users) {
      const reply = await send(cluster.url, `/api/users/${user}/load/latest`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect([200, 201]).toContain(reply.status);
      expect(reply.headers['x-pinbase-worker']).toBe(cluster.ownerOf(user));
    }
    expect(load.acks.some((ack) => ack.worker === added)).toBe(true);
    expect(await unreadableWrites(cluster.url, load.acks)).toEqual([]);
  });
});
