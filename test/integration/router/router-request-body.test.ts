import { afterEach, describe, expect, it } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { send, sendRaw } from '../../support/http-client.js';

let cluster: FakeCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('router request bodies', () => {
  it('forwards an empty chunked body as an empty body with its length', async () => {
    cluster = await FakeCluster.start(1);
    const raw = await sendRaw(
      cluster.url,
      'PUT /api/users/alice/notes/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    const received = cluster.worker('w1').received.at(-1)!;
    expect(received.body).toBe('');
    expect(received.headers['content-length']).toBe('0');
  });

  it('forwards a body of exactly the limit, sent with a Content-Length or chunked', async () => {
    cluster = await FakeCluster.start(1, { bodyLimitBytes: 10 });
    const reply = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: '0123456789' });
    expect(reply.status).toBe(200);
    const raw = await sendRaw(
      cluster.url,
      'PUT /api/users/alice/notes/2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(cluster.worker('w1').received.map((r) => r.body)).toEqual(['0123456789', '0123456789']);
  });

  it('answers 413 to a body one byte over the limit, and the worker sees nothing', async () => {
    cluster = await FakeCluster.start(1, { bodyLimitBytes: 10 });
    const reply = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: '0123456789x' });
    expect(reply.status).toBe(413);
    expect(reply.json()).toMatchObject({ code: 'body_too_large' });
    const raw = await sendRaw(
      cluster.url,
      'PUT /api/users/alice/notes/2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n6789x\r\n0\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(cluster.worker('w1').received).toHaveLength(0);
  });

  it('re-sends the whole body it read to the next-ranked worker when the owner refuses the connection', async () => {
    cluster = await FakeCluster.start(3, { probeIntervalMs: 60_000 });
    const user = cluster.userOwnedBy('w2');
    await cluster.worker('w2').kill();
    const raw = await sendRaw(
      cluster.url,
      `POST /api/users/${user}/notes HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    const next = cluster.ownerOf(user, ['w2']);
    expect(cluster.worker(next).received.map((r) => r.body)).toEqual(['abcdef']);
  });
});
