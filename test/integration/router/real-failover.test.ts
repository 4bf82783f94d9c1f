import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { send } from '../../support/http-client.js';
import { unreadableWrites, WriteLoad } from '../../support/write-load.js';
import { RealCluster } from './real-cluster.js';

let cluster: RealCluster;
beforeEach(async () => {
  cluster = await RealCluster.start(3);
});
afterEach(async () => {
  await cluster?.stop();
});

const victims = () => cluster.usersOwnedBy('w2', 6, 'victim');

/** A steady load on w2's users (and two of w1's) while w2 is killed with SIGKILL; stopped 3.5 s after the kill. */
async function loadThroughKill(users: readonly string[]): Promise<{ load: WriteLoad; killedAt: number; goneAt: number }> {
  const load = new WriteLoad(cluster.url, [...users, ...cluster.usersOwnedBy('w1', 2, 'bystander')]);
  load.start();
  await sleep(700);
  expect(load.acks.some((ack) => ack.worker === 'w2')).toBe(true);
  const killedAt = Date.now();
  await cluster.killWorker('w2', 'SIGKILL');
  // Writes sent before this may still be acknowledged by w2 (served before it died).
  const goneAt = Date.now();
  await sleep(3500);
  await load.stop();
  return { load, killedAt, goneAt };
}

describe('router + 3 real workers: a worker is killed and returns', () => {
  it('serves a killed worker\'s users on another worker within 3 s and loses no acknowledged write', async () => {
    const users = victims();
    const { load, killedAt, goneAt } = await loadThroughKill(users);

    expect(load.failures).toEqual([]);
    for (const user of users) {
      const ack = load.firstAckSentAfter(user, goneAt);
      expect(ack, `a write for ${user} after the kill`).toBeDefined();
      expect(ack!.at - killedAt).toBeLessThanOrEqual(3000);
      expect(ack!.worker).toBe(cluster.ownerOf(user, ['w2']));
      const read = await send(cluster.url, ack!.path);
      expect(read.status).toBe(200);
      expect(read.headers['x-pinbase-worker']).toBe(cluster.ownerOf(user, ['w2']));
    }
    expect(await unreadableWrites(cluster.url, load.acks)).toEqual([]);
  });

  it('gives the users back to the worker when it returns, with every acknowledged write readable there', async () => {
    const users = victims();
    const duringFailover = await loadThroughKill(users);

    cluster.startWorker('w2');
    await cluster.waitRoutable(3);
    const deadline = Date.now() + 5000;
    for (const user of users) {
      for (;;) {
        const reply = await send(cluster.url, `/api/users/${user}/load/probe`, { method: 'PUT', json: {} });
        if (reply.status < 300 && reply.headers['x-pinbase-worker'] === 'w2') break;
        expect([200, 201, 503], reply.body).toContain(reply.status);
        expect(Date.now()).toBeLessThan(deadline);
        await sleep(50);
      }
    }
    const load = new WriteLoad(cluster.url, users);
    load.start();
    await sleep(300);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.acks.every((ack) => ack.worker === 'w2')).toBe(true);
    const reads = await Promise.all(users.map((user) => send(cluster.url, `/api/users/${user}/load/probe`)));
    expect(reads.map((r) => r.headers['x-pinbase-worker'])).toEqual(users.map(() => 'w2'));
    expect(duringFailover.load.acks.length).toBeGreaterThan(0);
    expect(await unreadableWrites(cluster.url, duringFailover.load.acks)).toEqual([]);
  });
});
