/**
 * Headers a client names in `Connection` are dropped before the router
 * decides anything from them, and the router's own headers are added after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(1, { probeIntervalMs: 60_000 });
});
afterAll(async () => {
  await cluster.stop();
});

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
}

describe('headers named in Connection', () => {
  it('a POST whose Idempotency-Key is named in Connection reaches the worker keyless and is not re-sent after a broken connection', async () => {
    const w1 = cluster.worker('w1');
    let breaks = 0;
    w1.behavior = (req, res) => {
      if (req.method !== 'POST' || breaks > 0) return false;
      breaks++;
      res.socket?.destroy();
      return true;
    };
    try {
      const raw = await sendRaw(
        cluster.url,
        'POST /api/users/alice/notes HTTP/1.1\r\nHost: t\r\nConnection: close, Idempotency-Key\r\nIdempotency-Key: k-named\r\n' +
          'Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      );
      expect(statusOf(raw)).toBe(502);
      expect(raw).toContain('"code":"upstream_failed"');
      const posts = w1.received.filter((r) => r.method === 'POST');
      expect(posts).toHaveLength(1);
      expect(posts[0]!.headers['idempotency-key']).toBeUndefined();
    } finally {
      w1.behavior = undefined;
    }
  });

  it('Connection: x-forwarded-for drops the client\'s X-Forwarded-For, not the router\'s forwarding headers', async () => {
    const raw = await sendRaw(
      cluster.url,
      'GET /api/users/alice/notes/1 HTTP/1.1\r\nHost: pinbase.test\r\nConnection: close, X-Forwarded-For, X-Forwarded-Host\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n',
    );
    expect(statusOf(raw)).toBe(200);
    const headers = cluster.worker('w1').received.at(-1)!.headers;
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe('pinbase.test');
  });
});
