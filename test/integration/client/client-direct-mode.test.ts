/**
 * Direct routing against a real local cluster (authentication on): each
 * request goes straight to the worker Placement names as the owner; a
 * topology change (a worker added) is followed through the 421 the old
 * owner answers; a worker that is down is bypassed through the router.
 * The transport is driven through the same RetryingExchange the client uses,
 * so the answering worker (X-Pinbase-Worker) can be checked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectTransport } from '../../../services/client/direct-transport.js';
import { createClient } from '../../../services/client/index.js';
import { RetryingExchange } from '../../../services/client/retrying-exchange.js';
import { startAuthCluster, type AuthCluster } from './auth-cluster.js';

describe('the client in direct mode', () => {
  let env: AuthCluster;
  let transport: DirectTransport;
  let exchange: RetryingExchange;

  beforeAll(async () => {
    env = await startAuthCluster(2);
    transport = new DirectTransport({ routerUrl: env.cluster.url, token: undefined, attemptTimeoutMs: 5000 });
    exchange = new RetryingExchange(() => transport, { deadlineMs: 15_000, attemptTimeoutMs: 5000, token: (userId) => env.tokenFor(userId) });
  }, 60_000);
  afterAll(async () => {
    await transport?.close();
    await env?.stop();
  });

  const answeringWorker = async (userId: string) =>
    (await exchange.call(userId, 'GET', `/api/users/${userId}/_changes?since=0`)).header('x-pinbase-worker');

  it('sends each user\'s requests straight to the worker Placement names, and serves the API like router mode', async () => {
    const users = [...env.cluster.usersOwnedBy('w1', 3, 'direct-'), ...env.cluster.usersOwnedBy('w2', 3, 'direct-')];
    for (const userId of users) expect(await answeringWorker(userId)).toBe(env.cluster.ownerOf(userId));
    expect(transport.topologyVersion).toBe(1);

    const client = createClient({ url: env.cluster.url, routing: 'direct', getToken: (userId) => env.tokenFor(userId) });
    try {
      const notes = client.user(users[0]!).collection<{ title: string }>('notes');
      const created = await notes.create({ title: 'direct' });
      expect(await notes.get(created.id)).toEqual(created);
      const ids: string[] = [];
      for await (const page of notes.list()) ids.push(...page.items.map((item) => item.id));
      expect(ids).toEqual([created.id]);
    } finally {
      await client.close();
    }
  });

  it('follows a topology change: the old owner\'s 421 makes it fetch the new topology and retry at the new owner', async () => {
    const before = env.cluster.workers.map((w) => w.id);
    const moving = Array.from({ length: 400 }, (_, i) => `move-${i}`).filter((u) => env.cluster.ownerOf(u) === 'w1').slice(0, 60);
    for (const userId of moving) expect(await answeringWorker(userId)).toBe('w1');
    const added = await env.cluster.addWorker();
    await env.cluster.waitRoutable(3);
    const moved = moving.filter((u) => env.cluster.ownerOf(u) === added);
    expect(moved.length).toBeGreaterThan(0);
    expect(before).not.toContain(added);
    // Until w1 has loaded the new topology it still serves its users; then it answers 421 and the client follows.
    await expect.poll(() => answeringWorker(moved[0]!), { timeout: 15_000, interval: 100 }).toBe(added);
    for (const userId of moved) expect(await answeringWorker(userId)).toBe(added);
    expect(transport.topologyVersion).toBe(2);
  });

  it('sends the users of a worker that refuses connections through the router, which answers from the next owner', async () => {
    const userId = env.cluster.usersOwnedBy('w2', 1, 'down-')[0]!;
    expect(await answeringWorker(userId)).toBe('w2');
    await env.cluster.killWorker('w2');
    const started = Date.now();
    const worker = await answeringWorker(userId);
    expect(worker).toBe(env.cluster.ownerOf(userId, ['w2']));
    expect(Date.now() - started).toBeLessThan(5000);
    // And a write goes through too, once.
    const notes = createClient({ url: env.cluster.url, routing: 'direct', getToken: (u) => env.tokenFor(u) });
    try {
      const created = await notes.user(userId).collection('notes').create({ while: 'down' });
      expect(created.rev).toBeGreaterThan(0);
    } finally {
      await notes.close();
    }
    await sleep(0);
  });
});
