/**
 * Request bodies over 64 KiB stream through the router to the worker
 * instead of being read whole first (router/DESIGN.md, "Request bodies"):
 * bounded router memory, the body limit counted as they stream, and the
 * failures of a body in flight (client abort, worker death, 421) answered
 * without a re-send. The upstream is a byte-counting stand-in for the worker
 * (counting-upstream.ts); the refused-connection and 421 cases use the fake
 * cluster's ownership-checking workers.
 */
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RouterOptions } from '../../../router/router-options.js';
import type { SingleRouter } from '../../../router/router-server.js';
import { CountingUpstream, pacedBody, startRouterTo } from './counting-upstream.js';
import { FakeCluster } from './fake-cluster.js';

const MiB = 1024 * 1024;
let upstream: CountingUpstream | undefined;
let router: SingleRouter | undefined;
let cluster: FakeCluster | undefined;
let dir: string | undefined;

async function startAll(overrides: Partial<RouterOptions> = {}): Promise<{ upstream: CountingUpstream; router: SingleRouter }> {
  upstream = new CountingUpstream();
  ({ router, dir } = await startRouterTo(upstream, 'pinbase-body-stream-', overrides));
  return { upstream, router };
}

afterEach(async () => {
  await router?.close(200);
  await upstream?.stop();
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  router = upstream = cluster = dir = undefined;
});

const body = pacedBody;

function put(base: string, bytes: Readable, headers: Record<string, string> = {}) {
  return request(`${base}/api/users/alice/files/big`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', ...headers }, body: bytes });
}

async function errorCount(of: SingleRouter, kind: string): Promise<number> {
  const metric = await of.dataPath.metrics.errors.get();
  return metric.values.find((value) => value.labels.kind === kind)?.value ?? 0;
}

describe('request bodies streamed through the router', () => {
  it('streams a 200 MiB PUT to a worker that reads slowly, holding a bounded part of it, far below the body size', async () => {
    const { upstream, router } = await startAll({ bodyLimitBytes: 256 * MiB });
    upstream.paused = true;
    const progress = { pulled: 0 };
    const before = process.memoryUsage();
    let peakBuffers = before.arrayBuffers;
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakBuffers = Math.max(peakBuffers, now.arrayBuffers);
      peakRss = Math.max(peakRss, now.rss);
    }, 10);
    try {
      const pending = put(router.url, body(200 * MiB, progress), { 'content-length': String(200 * MiB) });
      // A router that read the body first would show the worker nothing until it had taken all 200 MiB.
      await vi.waitFor(() => expect(upstream.requests).toBe(1), { timeout: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Socket buffers (client→router, router→worker) and one stream buffer each: a few MiB, not the body.
      expect(progress.pulled).toBeLessThan(24 * MiB);
      upstream.resume();
      const reply = await pending;
      expect(reply.statusCode).toBe(200);
      expect(await reply.body.json()).toEqual({ bytes: 200 * MiB });
    } finally {
      clearInterval(sampler);
    }
    // Client, router and worker share this process: all their buffers together stay far below the body.
    expect(peakBuffers - before.arrayBuffers).toBeLessThan(100 * MiB);
    expect(peakRss - before.rss).toBeLessThan(150 * MiB);
  });

  it('answers 413 body_too_large to a chunked body that goes over the limit while it streams, and aborts the upstream request', async () => {
    const { upstream, router } = await startAll({ bodyLimitBytes: 1 * MiB });
    const reply = await put(router.url, body(3 * MiB, { pulled: 0 }));
    expect(reply.statusCode).toBe(413);
    expect(await reply.body.json()).toMatchObject({ code: 'body_too_large', status: 413 });
    // The worker got the start of the body as it came, then a broken request: nothing to apply.
    await vi.waitFor(() => expect(upstream.aborted).toBe(1));
    expect(upstream.received).toBeGreaterThan(0);
    expect(upstream.received).toBeLessThanOrEqual(1 * MiB);
    expect(upstream.completed).toBe(0);
    expect(await errorCount(router, 'body_too_large')).toBe(1);
  });

  it('aborts the upstream request and counts client_aborted when the client breaks off in the middle of the body', async () => {
    const { upstream, router } = await startAll({ bodyLimitBytes: 16 * MiB });
    const url = new URL(router.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.write(`PUT /api/users/alice/files/big HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: ${8 * MiB}\r\n\r\n`);
    socket.write(Buffer.alloc(MiB, 97));
    await vi.waitFor(() => expect(upstream.received).toBe(MiB), { timeout: 5000 });
    socket.destroy();
    await vi.waitFor(() => expect(upstream.aborted).toBe(1));
    expect(upstream.completed).toBe(0);
    await vi.waitFor(async () => expect(await errorCount(router, 'client_aborted')).toBe(1));
  });

  it('answers 502 upstream_failed when the worker dies in the middle of the body, and does not re-send it even for a PUT', async () => {
    const { upstream, router } = await startAll({ bodyLimitBytes: 16 * MiB });
    upstream.dieAfterBytes = 1 * MiB;
    // Half-way, the client waits until the worker has seen 1 MiB: a router that buffered the body would never let it.
    const halfway = async (sent: number) => {
      if (sent === 4 * MiB) await vi.waitFor(() => expect(upstream.received).toBeGreaterThanOrEqual(1 * MiB), { timeout: 5000 });
    };
    const reply = await put(router.url, body(8 * MiB, { pulled: 0 }, halfway), { 'content-length': String(8 * MiB) });
    expect(reply.statusCode).toBe(502);
    expect(await reply.body.json()).toMatchObject({ code: 'upstream_failed', status: 502 });
    expect(upstream.requests).toBe(1);
    expect(upstream.completed).toBe(0);
    expect(await errorCount(router, 'connection')).toBe(1);
  });

  it('passes on a worker\'s early answer to a streamed body, drops the rest of the body and serves the next request on the connection', async () => {
    const { upstream, router } = await startAll({ bodyLimitBytes: 16 * MiB, clientRequestTimeoutMs: 3000, clientHeadersTimeoutMs: 1000 });
    upstream.answerAtOnce = 401;
    const url = new URL(router.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.write(`PUT /api/users/alice/files/big HTTP/1.1\r\nHost: t\r\nContent-Length: ${2 * MiB}\r\n\r\n`);
    socket.write(Buffer.alloc(MiB, 97));
    await vi.waitFor(() => expect(answer).toMatch(/^HTTP\/1\.1 401 /), { timeout: 5000 });
    socket.write(Buffer.alloc(MiB, 97));
    upstream.answerAtOnce = undefined;
    socket.write('GET /api/users/alice/notes/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await once(socket, 'close');
    expect(answer).toMatch(/HTTP\/1\.1 200 /);
    expect(answer).not.toMatch(/ 408 /);
  });

  it('re-sends a streamed body to the next-ranked worker when the owner refuses the connection: nothing of it was read', async () => {
    cluster = await FakeCluster.start(3, { probeIntervalMs: 60_000 });
    const user = cluster.userOwnedBy('w2');
    await cluster.worker('w2').kill();
    const payload = 'x'.repeat(512 * 1024);
    const reply = await request(`${cluster.url}/api/users/${user}/notes`, { method: 'POST', body: Readable.from([payload]), headers: { 'content-length': String(payload.length) } });
    expect(reply.statusCode).toBe(200);
    await reply.body.dump();
    const next = cluster.worker(cluster.ownerOf(user, ['w2']));
    expect(next.received.map((r) => r.body.length)).toEqual([payload.length]);
  });

  it('answers 503 topology_changing to a 421 for a streamed body, without re-sending it', async () => {
    cluster = await FakeCluster.start(2, { probeIntervalMs: 60_000 });
    const user = cluster.userOwnedBy('w1');
    // w1 has read a topology in which it does not own the user; the router's file says it does.
    cluster.worker('w1').topologyIds = ['w2'];
    const payload = 'x'.repeat(512 * 1024);
    const reply = await request(`${cluster.url}/api/users/${user}/notes/a`, { method: 'PUT', body: payload });
    expect(reply.statusCode).toBe(503);
    expect(await reply.body.json()).toMatchObject({ code: 'topology_changing' });
    expect(reply.headers['retry-after']).toBeDefined();
    expect(cluster.worker('w1').received.filter((r) => r.url.includes(user))).toHaveLength(1);
    expect(cluster.worker('w2').received.filter((r) => r.url.includes(user))).toHaveLength(0);
  });
});
