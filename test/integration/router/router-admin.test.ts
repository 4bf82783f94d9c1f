import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { send } from '../../support/http-client.js';
import type { WorkerStatus } from '../../../router/status-report.js';

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(3);
});
afterAll(async () => {
  await cluster.stop();
});

describe('router admin API (fake workers)', () => {
  it('reports topology version, health, in-flight, requests and users per worker', async () => {
    const user = cluster.userOwnedBy('w3');
    await send(cluster.url, `/api/users/${user}/a`);
    await send(cluster.url, `/api/users/${user}/b`);
    const status = (await send(cluster.url, '/_router/status')).json();
    expect(status.topologyVersion).toBe(1);
    expect(status.processes).toBe(1);
    const w3 = (status.workers as WorkerStatus[]).find((w) => w.id === 'w3')!;
    expect(w3).toMatchObject({ url: cluster.worker('w3').url, health: 'up', drained: false, routable: true, inFlight: 0, topologyVersion: 1 });
    expect(w3.requests).toBeGreaterThanOrEqual(2);
    expect(w3.users).toBeGreaterThanOrEqual(1);
  });

  it('drains a worker (its users move, X-Pinbase-Down names it) and undrains it (they come back)', async () => {
    const user = cluster.userOwnedBy('w1', 'drain');
    const drained = await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST' });
    expect(drained.status).toBe(200);
    expect(drained.json()).toMatchObject({ id: 'w1', drained: true, routable: false, health: 'up' });
    const moved = await send(cluster.url, `/api/users/${user}/x`);
    const next = cluster.ownerOf(user, ['w1']);
    expect(moved.headers['x-pinbase-worker']).toBe(next);
    expect(cluster.worker(next).received.at(-1)!.headers['x-pinbase-down']).toBe('w1');
    expect((await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST' })).status).toBe(200);
    const undrained = await send(cluster.url, '/_router/workers/w1/undrain', { method: 'POST' });
    expect(undrained.json()).toMatchObject({ drained: false, routable: true });
    expect((await send(cluster.url, `/api/users/${user}/x`)).headers['x-pinbase-worker']).toBe('w1');
  });

  it('answers 404 worker_not_found when draining an unknown worker', async () => {
    const reply = await send(cluster.url, '/_router/workers/w9/drain', { method: 'POST' });
    expect(reply.status).toBe(404);
    expect(reply.json()).toMatchObject({ code: 'worker_not_found', instance: '/_router/workers/w9/drain' });
  });

  it('serves Prometheus metrics with per-worker latency, retries, errors and health transitions', async () => {
    expect((await send(cluster.url, `/api/users/${cluster.userOwnedBy('w2', 'metrics')}/x`)).status).toBe(200);
    await send(cluster.url, '/api/users/../x');
    const reply = await send(cluster.url, '/metrics');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/plain/);
    expect(reply.body).toMatch(/pinbase_router_upstream_response_seconds_bucket\{le="0.005",worker="w\d"\}/);
    expect(reply.body).toMatch(/pinbase_router_responses_total\{worker="w\d",class="2xx"\} \d+/);
    expect(reply.body).toContain('pinbase_router_errors_total{kind="invalid_user_id"} 1');
    expect(reply.body).toContain('pinbase_router_health_transitions_total{worker="w1",to="up"} 1');
    expect(reply.body).toContain('# TYPE pinbase_router_retries_total counter');
    expect(reply.body).toContain('pinbase_router_topology_version 1');
    expect(reply.body).toMatch(/pinbase_router_in_flight_requests\{worker="w1"\} 0/);
  });

  it('serves the dashboard page', async () => {
    const reply = await send(cluster.url, '/_router/');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/html/);
    expect(reply.body).toContain('/_router/status');
    // An admin page: its own inline script and style only, this router only, never in another page's frame.
    const csp = String(reply.headers['content-security-policy']);
    expect(csp).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]{43}='; style-src 'sha256-[A-Za-z0-9+/]{43}='; connect-src 'self'; /);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(reply.headers['x-frame-options']).toBe('DENY');
    expect(reply.headers['x-content-type-options']).toBe('nosniff');
    expect(reply.headers['referrer-policy']).toBe('no-referrer');
  });

  it('answers its own /healthz and /readyz', async () => {
    expect((await send(cluster.url, '/healthz')).json()).toEqual({ status: 'ok' });
    expect((await send(cluster.url, '/readyz')).json()).toEqual({ status: 'ready', topologyVersion: 1, routableWorkers: 3 });
  });

  it('answers an unknown admin path with a 404 problem', async () => {
    const reply = await send(cluster.url, '/_router/nope');
    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.json()).toMatchObject({ code: 'route_not_found', status: 404, retryable: false, instance: '/_router/nope' });
    expect(reply.headers['retry-after']).toBeUndefined();
  });
});
