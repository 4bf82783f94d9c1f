/**
 * The router signs the down list of every attempt that carries one, with a
 * new nonce each time, and adds nothing when no worker is down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NO_AUTH } from '../../../services/auth/auth-options.js';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

const auth = { ...NO_AUTH, clusterSecret: 'cluster-secret-for-the-fake-cluster-0123456789' };
let cluster: FakeCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('the router\'s signed hints', () => {
  it('sends no down list and no hint while every worker is up', async () => {
    cluster = await FakeCluster.start(2, { auth });
    expect((await send(cluster.url, '/api/users/alice/notes/1')).status).toBe(200);
    const headers = cluster.workers.flatMap((w) => w.received).at(-1)!.headers;
    expect(headers['x-pinbase-down']).toBeUndefined();
    expect(headers['x-pinbase-hint']).toBeUndefined();
  });

  it('signs the down list for a drained worker\'s users, a new nonce per request', async () => {
    cluster = await FakeCluster.start(2, { auth });
    const user = cluster.userOwnedBy('w1');
    expect((await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST' })).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const reply = await send(cluster.url, `/api/users/${user}/notes/${i}?x=${i}`);
      expect(reply.header('x-pinbase-worker')).toBe('w2');
    }
    expect(cluster.worker('w2').hintVerdicts).toEqual(['valid', 'valid', 'valid']);
  });

  it('signs the down list of a retry after a refused connection, with the refused worker in it', async () => {
    cluster = await FakeCluster.start(3, { auth, probeIntervalMs: 60_000 });
    const user = cluster.userOwnedBy('w1');
    await cluster.worker('w1').kill();
    const next = cluster.ownerOf(user, ['w1']);
    const reply = await send(cluster.url, `/api/users/${user}/notes/1`, { method: 'PUT', body: '{}' });
    expect(reply.status).toBe(200);
    expect(reply.header('x-pinbase-worker')).toBe(next);
    expect(cluster.worker(next).received.at(-1)!.headers['x-pinbase-down']).toBe('w1');
    expect(cluster.worker(next).hintVerdicts).toEqual(['valid']);
  });
});
