import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeCluster } from './fake-cluster.js';
import { send, sendRaw } from '../../support/http-client.js';

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(2, { bodyLimitBytes: 4096 });
});
afterAll(async () => {
  await cluster.stop();
});

const HOSTILE_PATHS: [string, string][] = [
  ['/api/users/../x', 'invalid_user_id'],
  ['/api/users/%2e%2e/x', 'invalid_user_id'],
  ['/api/users/alice%2Fbob/notes', 'invalid_user_id'],
  ['/api/users//notes', 'invalid_user_id'],
  [`/api/users/${'a'.repeat(65)}/notes`, 'invalid_user_id'],
  [`/api/users/${'a'.repeat(10_000)}`, 'invalid_user_id'],
  ['/api/users/alice/../bob/notes/1', 'invalid_path'],
  ['/api/users/alice/notes%2F..%2F..%2Fetc', 'invalid_path'],
  ['/api/users/alice//notes', 'invalid_path'],
  ['/api/users/alice/notes/%00', 'invalid_path'],
  ['/api/users/alice/notes\\..\\x', 'invalid_path'],
];

const MALFORMED_REQUESTS: [string, string, number][] = [
  ['a header name with a space', 'GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\nBad Header: 1\r\n\r\n', 400],
  ['a control character in a header value', 'GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\nX-A: a\u0001b\r\n\r\n', 400],
  ['two different Content-Lengths', 'PUT /api/users/alice/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
  ['Content-Length with Transfer-Encoding', 'PUT /api/users/alice/x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['an absolute-form target', 'GET http://evil.test/api/users/alice/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 404],
  ['headers beyond the size limit', `GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400],
];

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
}

describe('hostile input at the router (fake workers)', () => {
  it.each(HOSTILE_PATHS)('refuses %s with 400 %s and never forwards it', async (path, code) => {
    const before = cluster.workers.reduce((n, w) => n + w.received.length, 0);
    const reply = await send(cluster.url, path);
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.json()).toMatchObject({ code, status: 400, retryable: false });
    expect(cluster.workers.reduce((n, w) => n + w.received.length, 0)).toBe(before);
  });

  it('answers 404 problem+json for a path outside the API', async () => {
    const reply = await send(cluster.url, '/etc/passwd');
    expect(reply.status).toBe(404);
    expect(reply.json().code).toBe('route_not_found');
  });

  it('answers 413 for an oversize body', async () => {
    const reply = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: Buffer.alloc(4097, 'a') });
    expect(reply.status).toBe(413);
    expect(reply.json().code).toBe('body_too_large');
  });

  it.each(MALFORMED_REQUESTS)('answers %s with a clear 4xx problem', async (_name, bytes, status) => {
    const raw = await sendRaw(cluster.url, bytes);
    expect(statusOf(raw)).toBe(status);
    expect(raw.toLowerCase()).toContain('content-type: application/problem+json');
  });

  it('keeps serving after all of that', async () => {
    for (const [path] of HOSTILE_PATHS) await send(cluster.url, path);
    await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: Buffer.alloc(4097, 'a') });
    for (const [, bytes] of MALFORMED_REQUESTS) await sendRaw(cluster.url, bytes);
    const reply = await send(cluster.url, '/api/users/alice/notes/1');
    expect(reply.status).toBe(200);
  });
});
