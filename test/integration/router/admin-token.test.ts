import { NO_AUTH } from '../../../services/auth/auth-options.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { send } from '../../support/http-client.js';

const TOKEN = 'a-long-enough-admin-token';

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(2, { auth: { ...NO_AUTH, adminToken: TOKEN } });
});
afterAll(async () => {
  await cluster.stop();
});

describe('router admin token', () => {
  it('refuses drain without the token with 401 unauthorized, and changes nothing', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-of-some-length' }, { authorization: TOKEN }];
    for (const headers of attempts) {
      const reply = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers });
      expect(reply.status).toBe(401);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reply.json()).toMatchObject({ code: 'unauthorized' });
    }
    const status = (await send(cluster.url, '/_router/status', { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { workers: { drained: boolean }[] };
    expect(status.workers.every((w) => !w.drained)).toBe(true);
  });

  it('drains and undrains with the token', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    expect((await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers })).json()).toMatchObject({ drained: true });
    expect((await send(cluster.url, '/_router/workers/w1/undrain', { method: 'POST', headers })).json()).toMatchObject({ drained: false });
  });

  it('guards the status, which lists users, and keeps health, readiness, metrics and the dashboard page open', async () => {
    const status = await send(cluster.url, '/_router/status');
    expect(status.status).toBe(401);
    expect(status.json()).toMatchObject({ code: 'unauthorized' });
    expect(status.headers['www-authenticate']).toBe('Bearer realm="pinbase-admin"');
    expect((await send(cluster.url, '/_router/status', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    for (const path of ['/healthz', '/readyz', '/metrics', '/_router/']) expect((await send(cluster.url, path)).status, path).toBe(200);
  });

  it('takes the token from the Authorization header only', async () => {
    for (const path of [`/_router/status?token=${TOKEN}`, `/_router/status?access_token=${TOKEN}`]) {
      expect((await send(cluster.url, path)).status, path).toBe(401);
    }
    const inCookie = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers: { cookie: `token=${TOKEN}` } });
    expect(inCookie.status).toBe(401);
    const inBody = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', json: { token: TOKEN } });
    expect(inBody.status).toBe(401);
  });
});
