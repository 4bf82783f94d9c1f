/**
 * What Node's HTTP server would answer on its own (a bare 400 for a missing
 * Host, a bare 417, a silent close on CONNECT) or let through (a duplicate
 * Host): the router answers each with problem+json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(1);
});
afterAll(async () => {
  await cluster.stop();
});

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1]);
}

function problemOf(raw: string): { code: string; status: number } {
  expect(raw.toLowerCase()).toContain('content-type: application/problem+json');
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { code: string; status: number };
}

function received(): number {
  return cluster.worker('w1').received.length;
}

describe('the router\'s answers where Node would give its own', () => {
  it.each([
    ['a duplicate Host on the data path', 'GET /api/users/alice/x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n'],
    ['a duplicate Host on an admin path', 'GET /_router/status HTTP/1.1\r\nHost: localhost\r\nhost: evil.test\r\nConnection: close\r\n\r\n'],
    ['a missing Host on the data path', 'GET /api/users/alice/x HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['a missing Host on an admin path', 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['a missing Host on /docs', 'GET /docs HTTP/1.1\r\nConnection: close\r\n\r\n'],
  ])('answers %s with 400 invalid_header problem+json and forwards nothing', async (_name, bytes) => {
    const before = received();
    const raw = await sendRaw(cluster.url, bytes);
    expect(statusOf(raw)).toBe(400);
    expect(problemOf(raw)).toMatchObject({ code: 'invalid_header', status: 400 });
    expect(received()).toBe(before);
  });

  it('serves an HTTP/1.0 request without Host (Host is optional there)', async () => {
    const raw = await sendRaw(cluster.url, 'GET /api/users/alice/x HTTP/1.0\r\n\r\n');
    expect(statusOf(raw)).toBe(200);
  });

  it('answers CONNECT with a 400 problem instead of closing without a word', async () => {
    const raw = await sendRaw(cluster.url, 'CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n');
    expect(statusOf(raw)).toBe(400);
    expect(problemOf(raw)).toMatchObject({ code: 'invalid_request' });
  });

  it('serves a request with an unknown Expect instead of a bare 417, and never forwards Expect', async () => {
    const raw = await sendRaw(cluster.url, 'GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\nExpect: something-else\r\nConnection: close\r\n\r\n');
    expect(statusOf(raw)).toBe(200);
    expect(cluster.worker('w1').received.at(-1)!.headers.expect).toBeUndefined();
  });

  it('answers a malformed admin path with problem+json (fastify\'s own errors included)', async () => {
    for (const path of ['/_router/%zz', `/_router/workers/${'a'.repeat(200)}/drain`]) {
      const raw = await sendRaw(cluster.url, `POST ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect(statusOf(raw), path).toBe(400);
      expect(problemOf(raw).code, path).toBe('invalid_path');
    }
  });
});
