import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { FakeCluster } from './fake-cluster.js';
import { send } from '../../support/http-client.js';

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(3);
});
afterAll(async () => {
  await cluster.stop();
});

describe('router data path (against fake workers)', () => {
  it('sends every request of a user to the one worker that owns it', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `sticky${i}`);
    for (const user of users) {
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const reply = await send(cluster.url, `/api/users/${user}/notes/n${i}`);
        expect(reply.status).toBe(200);
        seen.add(String(reply.headers['x-pinbase-worker']));
      }
      expect([...seen]).toEqual([cluster.ownerOf(user)]);
    }
  });

  it('forwards method, path, query and body, and the worker\'s response headers', async () => {
    const user = cluster.userOwnedBy('w2');
    const reply = await send(cluster.url, `/api/users/${user}/notes/a?x=1&y=%2F`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"text":"hi"}',
    });
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ worker: 'w2', method: 'PUT', url: `/api/users/${user}/notes/a?x=1&y=%2F`, body: '{"text":"hi"}' });
    expect(reply.headers).toMatchObject({ 'x-pinbase-worker': 'w2', 'x-pinbase-seq': '1', etag: '"1"' });
  });

  it('strips client X-Pinbase-* and hop-by-hop headers and adds X-Forwarded-*', async () => {
    const user = cluster.userOwnedBy('w1');
    const w1 = cluster.worker('w1');
    await send(cluster.url, `/api/users/${user}/x`, {
      headers: { 'x-pinbase-down': 'w1,w2,w3', 'x-pinbase-anything': '1', 'proxy-authorization': 'secret', 'x-forwarded-for': '203.0.113.7' },
    });
    const received = w1.received.at(-1)!;
    expect(received.headers['x-pinbase-down']).toBeUndefined();
    expect(received.headers['x-pinbase-anything']).toBeUndefined();
    expect(received.headers['proxy-authorization']).toBeUndefined();
    expect(received.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(received.headers['x-forwarded-proto']).toBe('http');
    expect(received.headers['x-forwarded-host']).toBe(new URL(cluster.url).host);
  });

  it('answers HEAD without a body', async () => {
    const reply = await send(cluster.url, '/api/users/alice/notes/1', { method: 'HEAD' });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
  });

  it('streams SSE through the router as events happen, and closes the worker stream when the client leaves', async () => {
    const user = cluster.userOwnedBy('w3');
    const w3 = cluster.worker('w3');
    const controller = new AbortController();
    const response = await request(`${cluster.url}/api/users/${user}/_changes`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream');
    const received: string[] = [];
    response.body.on('data', (chunk: Buffer) => received.push(chunk.toString()));
    response.body.on('error', () => {});
    await vi.waitFor(() => expect(received.join('')).toContain(': connected'), { timeout: 2000 });
    w3.publish('{"seq":1}');
    await vi.waitFor(() => expect(received.join('')).toContain('data: {"seq":1}'), { timeout: 2000 });
    w3.publish('{"seq":2}');
    await vi.waitFor(() => expect(received.join('')).toContain('data: {"seq":2}'), { timeout: 2000 });
    expect(w3.openStreams).toBe(1);
    controller.abort();
    await vi.waitFor(() => expect(w3.openStreams).toBe(0), { timeout: 2000 });
  });

  it('does not count an open SSE stream against the user\'s in-flight limit', async () => {
    const limited = await FakeCluster.start(1, { maxInFlightPerUser: 1 });
    try {
      const controller = new AbortController();
      const stream = await request(`${limited.url}/api/users/alice/_changes`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
      stream.body.on('error', () => {});
      const reply = await send(limited.url, '/api/users/alice/notes/1');
      expect(reply.status).toBe(200);
      controller.abort();
    } finally {
      await limited.stop();
    }
  });

  it('forwards /docs to a live worker and passes its answer on', async () => {
    for (const path of ['/docs', '/docs/', '/docs/json', '/docs/static/index.css', '/docs?x=1']) {
      const reply = await send(cluster.url, path);
      expect(reply.status, path).toBe(200);
      const worker = reply.header('x-pinbase-worker');
      expect(['w1', 'w2', 'w3'], path).toContain(worker);
      expect(reply.json(), path).toEqual({ worker, method: 'GET', url: path, body: '' });
      expect(cluster.worker(worker!).received.at(-1), path).toMatchObject({ method: 'GET', url: path });
    }
  });
});
