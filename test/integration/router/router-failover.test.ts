import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { send } from '../../support/http-client.js';
import type { WorkerStatus } from '../../../router/status-report.js';

let cluster: FakeCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('router failover (against fake workers)', () => {
  it('sends a dead worker\'s users to their next-ranked worker at once, with X-Pinbase-Down', async () => {
    cluster = await FakeCluster.start(3, { probeIntervalMs: 60_000 });
    const user = cluster.userOwnedBy('w2');
    await cluster.worker('w2').kill();
    const reply = await send(cluster.url, `/api/users/${user}/notes/1`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(reply.status).toBe(200);
    const next = cluster.ownerOf(user, ['w2']);
    expect(reply.headers['x-pinbase-worker']).toBe(next);
    expect(cluster.worker(next).received.at(-1)!.headers['x-pinbase-down']).toBe('w2');
    const status = await send(cluster.url, '/_router/status');
    expect((status.json().workers as WorkerStatus[]).find((w) => w.id === 'w2')).toMatchObject({ health: 'down', routable: false });
  });

  it('gives a worker its users back once it is healthy again', async () => {
    cluster = await FakeCluster.start(2, { probeIntervalMs: 50 });
    const w1 = cluster.worker('w1');
    const user = cluster.userOwnedBy('w1');
    const port = w1.port;
    await w1.kill();
    await vi.waitFor(async () => expect((await send(cluster!.url, `/api/users/${user}/a`)).headers['x-pinbase-worker']).toBe('w2'), { timeout: 3000 });
    await w1.start(port);
    await vi.waitFor(async () => expect((await send(cluster!.url, `/api/users/${user}/a`)).headers['x-pinbase-worker']).toBe('w1'), { timeout: 3000 });
  });

  it('re-sends an idempotent request whose connection broke, and never re-sends a non-idempotent one', async () => {
    cluster = await FakeCluster.start(1, { probeIntervalMs: 60_000 });
    const w1 = cluster.worker('w1');
    let breaks = 0;
    w1.behavior = (req, res) => {
      if (req.headers['x-test-break'] === undefined || breaks > 0) return false;
      breaks++;
      res.socket?.destroy();
      return true;
    };
    const put = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: '{}', headers: { 'x-test-break': '1' } });
    expect(put.status).toBe(200);
    expect(w1.received.filter((r) => r.method === 'PUT')).toHaveLength(2);

    breaks = 0;
    const post = await send(cluster.url, '/api/users/alice/notes', { method: 'POST', body: '{}', headers: { 'x-test-break': '1' } });
    expect(post.status).toBe(502);
    expect(post.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(post.json()).toMatchObject({ code: 'upstream_failed', retryable: true });
    expect(post.headers['retry-after']).toBe('1');
    expect(w1.received.filter((r) => r.method === 'POST')).toHaveLength(1);

    breaks = 0;
    const keyed = await send(cluster.url, '/api/users/alice/notes', { method: 'POST', body: '{}', headers: { 'x-test-break': '1', 'idempotency-key': 'k1' } });
    expect(keyed.status).toBe(200);
    expect(w1.received.filter((r) => r.method === 'POST')).toHaveLength(3);
  });

  it('after two broken connections to one worker, re-sends an idempotent request to the next-ranked worker', async () => {
    cluster = await FakeCluster.start(2, { probeIntervalMs: 60_000 });
    const user = cluster.userOwnedBy('w1');
    const [w1, w2] = [cluster.worker('w1'), cluster.worker('w2')];
    w1.behavior = (req, res) => {
      if (req.method !== 'PUT') return false;
      res.socket?.destroy(); // a dying worker: every connection breaks
      return true;
    };
    const put = await send(cluster.url, `/api/users/${user}/notes/1`, { method: 'PUT', body: '{"n":1}' });
    expect(put.status).toBe(200);
    expect(put.headers['x-pinbase-worker']).toBe('w2');
    expect(w1.received.filter((r) => r.method === 'PUT')).toHaveLength(2);
    const atW2 = w2.received.filter((r) => r.method === 'PUT');
    expect(atW2).toHaveLength(1);
    expect(atW2[0]!.headers['x-pinbase-down']).toBe('w1');
  });

  it('re-resolves and retries a 421 once; a second 421 (its topology is behind) becomes 503 topology_changing', async () => {
    cluster = await FakeCluster.start(2, { probeIntervalMs: 60_000 });
    const user = cluster.userOwnedBy('w1');
    const w1 = cluster.worker('w1');
    let misdirect = 1;
    w1.behavior = (_req, res) => {
      if (misdirect-- <= 0) return false;
      res.writeHead(421, { 'content-type': 'application/problem+json' });
      res.end('{"code":"misdirected_request","status":421}');
      return true;
    };
    const once = await send(cluster.url, `/api/users/${user}/n`, { method: 'POST', body: '{}' });
    expect(once.status).toBe(200);
    expect(w1.received.filter((r) => r.method === 'POST')).toHaveLength(2);

    misdirect = 10;
    const twice = await send(cluster.url, `/api/users/${user}/n`, { method: 'POST', body: '{"b":1}' });
    expect(twice.status).toBe(503);
    expect(twice.headers['retry-after']).toBe('1');
    expect(twice.json().code).toBe('topology_changing');
    expect(w1.received.filter((r) => r.body === '{"b":1}')).toHaveLength(2);
  });

  it('answers 503 no_worker_available with Retry-After when every worker is down', async () => {
    cluster = await FakeCluster.start(2, { probeIntervalMs: 60_000 });
    await Promise.all(cluster.workers.map((w) => w.kill()));
    const reply = await send(cluster.url, '/api/users/alice/notes/1');
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.json()).toMatchObject({ code: 'no_worker_available', status: 503, retryable: true });
  });

  it('answers 504 when a worker does not send its response headers in time, without re-sending', async () => {
    cluster = await FakeCluster.start(1, { headersTimeoutMs: 200, probeIntervalMs: 60_000 });
    const w1 = cluster.worker('w1');
    w1.behavior = () => true; // never answers
    const reply = await send(cluster.url, '/api/users/alice/notes/1');
    expect(reply.status).toBe(504);
    expect(reply.json().code).toBe('upstream_timeout');
    expect(reply.headers['retry-after']).toBe('1');
    expect(w1.received).toHaveLength(1);
  });
});
