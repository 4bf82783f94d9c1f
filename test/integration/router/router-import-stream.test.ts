/**
 * Tenant imports stream through the router. The upstream here is a tiny
 * node:http server counting bytes (counting-upstream.ts), standing in for
 * the worker: what is under test is the router's streaming (the worker's
 * import route and the full path are covered by the portability tests).
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RouterOptions } from '../../../router/router-options.js';
import type { SingleRouter } from '../../../router/router-server.js';
import { CountingUpstream, pacedBody, startRouterTo } from './counting-upstream.js';

const MiB = 1024 * 1024;
let upstream: CountingUpstream;
let router: SingleRouter;
let dir: string;

async function startAll(overrides: Partial<RouterOptions> = {}): Promise<void> {
  upstream = new CountingUpstream();
  ({ router, dir } = await startRouterTo(upstream, 'pinbase-import-stream-', overrides));
}

afterEach(async () => {
  await router?.close(200);
  await upstream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const body = pacedBody;

function importRequest(bytes: Readable, headers: Record<string, string> = {}) {
  return request(`${router.url}/api/users/alice/_import`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...headers },
    body: bytes,
  });
}

describe('POST /api/users/<id>/_import through the router', () => {
  it('streams a 20 MiB body to the worker as it arrives, past the 1 MiB body limit', async () => {
    await startAll();
    const progress = { pulled: 0 };
    // Half-way, the client waits until the worker has seen 5 MiB: a router that buffered the body would never let it.
    const halfway = async (sent: number) => {
      if (sent === 10 * MiB) await vi.waitFor(() => expect(upstream.received).toBeGreaterThanOrEqual(5 * MiB), { timeout: 5000 });
    };
    const reply = await importRequest(body(20 * MiB, progress, halfway));
    expect(reply.statusCode).toBe(200);
    expect(await reply.body.json()).toEqual({ bytes: 20 * MiB });
    expect(upstream.requests).toBe(1);
  });

  it('keeps back-pressure: while the worker reads nothing, the router takes a bounded part of a 64 MiB body', async () => {
    await startAll();
    upstream.paused = true;
    const progress = { pulled: 0 };
    const pending = importRequest(body(64 * MiB, progress));
    await vi.waitFor(() => expect(upstream.requests).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Socket buffers (client→router, router→worker) and one stream buffer each: a few MiB, not the body.
    expect(progress.pulled).toBeLessThan(24 * MiB);
    upstream.resume();
    const reply = await pending;
    expect(await reply.body.json()).toEqual({ bytes: 64 * MiB });
  });

  it('answers 413 import_too_large to a body over --max-import-bytes, counted as it streams, and aborts the upstream request', async () => {
    await startAll({ maxImportBytes: 1 * MiB });
    const reply = await importRequest(body(3 * MiB, { pulled: 0 }));
    expect(reply.statusCode).toBe(413);
    expect(await reply.body.json()).toMatchObject({ code: 'import_too_large', status: 413 });
    await vi.waitFor(() => expect(upstream.aborted).toBe(1));
    expect(upstream.completed).toBe(0);
    expect(upstream.received).toBeLessThanOrEqual(1 * MiB);
  });

  it('answers 413 at once to a Content-Length over the limit, sending nothing upstream', async () => {
    await startAll({ maxImportBytes: 1 * MiB });
    const reply = await importRequest(body(2 * MiB, { pulled: 0 }), { 'content-length': String(2 * MiB) });
    expect(reply.statusCode).toBe(413);
    expect(await reply.body.json()).toMatchObject({ code: 'import_too_large' });
    expect(upstream.requests).toBe(0);
  });

  it('ends an import whose client stops sending at the request timeout, and aborts the upstream request', async () => {
    await startAll({ clientRequestTimeoutMs: 1000, clientHeadersTimeoutMs: 500 });
    const url = new URL(router.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.write(`POST /api/users/alice/_import HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${10 * MiB}\r\n\r\n`);
    socket.write(Buffer.alloc(MiB, 97));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await vi.waitFor(() => expect(upstream.received).toBe(MiB));
    await once(socket, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    await vi.waitFor(() => expect(upstream.aborted).toBe(1));
    expect(upstream.completed).toBe(0);
  });
});
