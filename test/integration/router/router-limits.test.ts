import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { send, sendRaw } from '../../support/http-client.js';

let cluster: FakeCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Makes the fake worker hold requests for `user` until `release()`. */
function holdRequests(c: FakeCluster, workerId: string) {
  const held: (() => void)[] = [];
  c.worker(workerId).behavior = (req, res) => {
    if (!req.url?.includes('/slow')) return false;
    held.push(() => res.end('{}'));
    return true;
  };
  return { held, release: () => held.splice(0).forEach((end) => end()) };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
}

describe('router back-pressure and body limit', () => {
  it('answers 429 with Retry-After beyond the per-user in-flight limit, without queueing', async () => {
    cluster = await FakeCluster.start(1, { maxInFlightPerUser: 2 });
    const { held, release } = holdRequests(cluster, 'w1');
    const pending = [send(cluster.url, '/api/users/alice/slow'), send(cluster.url, '/api/users/alice/slow')];
    await until(() => held.length === 2);
    const third = await send(cluster.url, '/api/users/alice/slow');
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.json()).toMatchObject({ code: 'too_many_requests', retryable: true });
    const otherUser = await send(cluster.url, '/api/users/bob/notes/1');
    expect(otherUser.status).toBe(200);
    release();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200]);
    expect((await send(cluster.url, '/api/users/alice/notes/1')).status).toBe(200);
  });

  it('answers 503 overloaded with Retry-After beyond the per-worker in-flight limit', async () => {
    cluster = await FakeCluster.start(1, { maxInFlightPerWorker: 2 });
    const { held, release } = holdRequests(cluster, 'w1');
    const pending = [send(cluster.url, '/api/users/a/slow'), send(cluster.url, '/api/users/b/slow')];
    await until(() => held.length === 2);
    const third = await send(cluster.url, '/api/users/c/notes/1');
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.json().code).toBe('overloaded');
    release();
    await Promise.all(pending);
  });

  it('answers 413 for a Content-Length beyond the body limit, before the worker sees anything', async () => {
    cluster = await FakeCluster.start(1, { bodyLimitBytes: 1000 });
    const reply = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: 'x'.repeat(1001) });
    expect(reply.status).toBe(413);
    expect(reply.json()).toMatchObject({ code: 'body_too_large', status: 413 });
    expect(cluster.worker('w1').received).toHaveLength(0);
    const fits = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: 'x'.repeat(1000) });
    expect(fits.status).toBe(200);
  });

  it('answers 413 for a chunked body that grows beyond the limit', async () => {
    cluster = await FakeCluster.start(1, { bodyLimitBytes: 1000 });
    const chunk = 'x'.repeat(600);
    const raw = await sendRaw(
      cluster.url,
      `PUT /api/users/alice/notes/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${(600).toString(16)}\r\n${chunk}\r\n${(600).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw).toContain('"code":"body_too_large"');
    expect(cluster.worker('w1').received).toHaveLength(0);
  });

  it('forwards a chunked body within the limit with its length', async () => {
    cluster = await FakeCluster.start(1);
    const raw = await sendRaw(
      cluster.url,
      'PUT /api/users/alice/notes/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    const received = cluster.worker('w1').received.at(-1)!;
    expect(received.body).toBe('abcde');
    expect(received.headers['content-length']).toBe('5');
  });

  it('forwards a Content-Length body that arrives in pieces once, whole, after its last byte', async () => {
    cluster = await FakeCluster.start(1);
    const { port } = new URL(cluster.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let raw = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
    socket.write('PUT /api/users/alice/notes/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 10\r\n\r\nabc');
    await sleep(150);
    expect(cluster.worker('w1').received).toHaveLength(0);
    socket.write('defghij');
    await once(socket, 'end');
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(cluster.worker('w1').received.map((r) => r.body)).toEqual(['abcdefghij']);
  });

  it('answers 413 for an oversize body once the client has sent it, without resetting the connection', async () => {
    cluster = await FakeCluster.start(1, { bodyLimitBytes: 10_000 });
    const { port } = new URL(cluster.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let raw = '';
    let failed: Error | undefined;
    socket.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
    socket.on('error', (error) => (failed = error));
    socket.write(`PUT /api/users/alice/notes/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 30000\r\n\r\n${'x'.repeat(12_000)}`);
    await sleep(150);
    // Answering now, then closing, would reset the connection under the
    // client's remaining 18,000 bytes.
    expect(raw).toBe('');
    socket.write('x'.repeat(18_000));
    for (let i = 0; i < 100 && !raw.includes('body_too_large'); i++) await sleep(20);
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    // The body was read to its end: the connection is still usable.
    raw = '';
    socket.write('GET /api/users/alice/notes/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await once(socket, 'end');
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(failed).toBeUndefined();
    expect(cluster.worker('w1').received.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });
});
