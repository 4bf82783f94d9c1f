/**
 * The router's admin endpoints against a web page the operator visits: no
 * cross-site request can drain a worker or read the users, token or not.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NO_AUTH } from '../../../services/auth/auth-options.js';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

const TOKEN = 'a-long-enough-admin-token';
const FORM_TYPES = ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'TEXT/PLAIN'];

async function drainedWorkers(cluster: FakeCluster, headers: Record<string, string> = {}): Promise<string[]> {
  const status = (await send(cluster.url, '/_router/status', { headers })).json() as { workers: { id: string; drained: boolean }[] };
  return status.workers.filter((w) => w.drained).map((w) => w.id);
}

describe('admin endpoints without an admin token (loopback)', () => {
  let cluster: FakeCluster;
  beforeAll(async () => {
    cluster = await FakeCluster.start(2);
  });
  afterAll(async () => {
    await cluster.stop();
  });
  afterEach(async () => {
    for (const id of ['w1', 'w2']) await send(cluster.url, `/_router/workers/${id}/undrain`, { method: 'POST' });
  });

  it.each(FORM_TYPES)('refuses a POST with a body a cross-site form can send (%s) with 415, and drains nothing', async (type) => {
    const reply = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers: { 'content-type': type }, body: 'x=1' });
    expect(reply.status).toBe(415);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.json()).toMatchObject({ code: 'unsupported_media_type' });
    expect(await drainedWorkers(cluster)).toEqual([]);
  });

  it('refuses a POST from another origin or marked cross-site with 403 cross_site_request, and drains nothing', async () => {
    const attempts: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: 'http://127.0.0.1:1' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of attempts) {
      const reply = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers });
      expect(reply.status, JSON.stringify(headers)).toBe(403);
      expect(reply.json()).toMatchObject({ code: 'cross_site_request', status: 403, retryable: false });
    }
    expect(await drainedWorkers(cluster)).toEqual([]);
  });

  it('refuses a DNS-rebinding page (a Host that is not a loopback name) on the status and the POSTs', async () => {
    const host = { host: 'rebind.evil.example:8080' };
    expect((await send(cluster.url, '/_router/status', { headers: host })).status).toBe(403);
    expect((await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers: host })).status).toBe(403);
    expect(await drainedWorkers(cluster)).toEqual([]);
    expect((await send(cluster.url, '/healthz', { headers: host })).status).toBe(200);
  });

  it('takes a same-origin POST (the dashboard\'s) and one with no browser headers (curl)', async () => {
    const { host } = new URL(cluster.url);
    const sameOrigin = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers: { origin: cluster.url, 'sec-fetch-site': 'same-origin' } });
    expect(sameOrigin.status, sameOrigin.body).toBe(200);
    expect(await drainedWorkers(cluster)).toEqual(['w1']);
    const plain = await send(cluster.url, '/_router/workers/w1/undrain', { method: 'POST', headers: { host: `localhost:${host.split(':')[1]}` } });
    expect(plain.status, plain.body).toBe(200);
    expect(await drainedWorkers(cluster)).toEqual([]);
  });

  it('refuses to drain the last routable worker with 409 last_worker unless asked with ?force=true', async () => {
    expect((await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST' })).status).toBe(200);
    const last = await send(cluster.url, '/_router/workers/w2/drain', { method: 'POST' });
    expect(last.status).toBe(409);
    expect(last.json()).toMatchObject({ code: 'last_worker', status: 409, retryable: false });
    expect(last.json().detail).toContain('?force=true');
    expect(await drainedWorkers(cluster)).toEqual(['w1']);
    expect((await send(cluster.url, `/api/users/${cluster.userOwnedBy('w1')}/x`)).status).toBe(200);

    const forced = await send(cluster.url, '/_router/workers/w2/drain?force=true', { method: 'POST' });
    expect(forced.status).toBe(200);
    expect(forced.json()).toMatchObject({ id: 'w2', drained: true, routable: false });
    expect((await send(cluster.url, '/api/users/anyone/x')).json()).toMatchObject({ code: 'no_worker_available' });
    // Draining it again, or a worker that is not routable, changes nothing: no confirmation needed.
    expect((await send(cluster.url, '/_router/workers/w2/drain', { method: 'POST' })).status).toBe(200);
  });

  it('shows no user id in /metrics', async () => {
    const user = 'metrics-secret-user-4711';
    expect((await send(cluster.url, `/api/users/${user}/notes/1`)).status).toBe(200);
    expect((await send(cluster.url, '/api/users/bad..id/x')).status).toBe(400);
    const metrics = await send(cluster.url, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).not.toContain(user);
    expect(metrics.body).not.toContain('bad..id');
  });
});

describe('admin endpoints with an admin token', () => {
  let cluster: FakeCluster;
  const auth = { authorization: `Bearer ${TOKEN}` };
  beforeAll(async () => {
    cluster = await FakeCluster.start(2, { auth: { ...NO_AUTH, adminToken: TOKEN } });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('refuses a form body with 415 even with the token', async () => {
    const reply = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'drain' });
    expect(reply.status).toBe(415);
    expect(await drainedWorkers(cluster, auth)).toEqual([]);
  });

  it('needs the token for the last-worker confirmation too', async () => {
    expect((await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers: auth })).status).toBe(200);
    expect((await send(cluster.url, '/_router/workers/w2/drain?force=true', { method: 'POST' })).status).toBe(401);
    expect((await send(cluster.url, '/_router/workers/w2/drain', { method: 'POST', headers: auth })).status).toBe(409);
    expect(await drainedWorkers(cluster, auth)).toEqual(['w1']);
    expect((await send(cluster.url, '/_router/workers/w1/undrain', { method: 'POST', headers: auth })).status).toBe(200);
  });
});
