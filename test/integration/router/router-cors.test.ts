/**
 * CORS on the router's own answers: a refusal the router makes without a
 * worker (413, 429, 503…) reaches a browser app on a `--cors-origin` origin
 * with the headers the workers would send, so the page reads the problem's
 * code and Retry-After instead of a network error. (Preflights and every
 * other answer come from the workers: test/unit/http/cors.test.ts.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

const APP = 'https://app.example.com';
let cluster: FakeCluster | undefined;

/** Starts the router in front of one fake worker and waits until it routes to it (a probe may time out on a loaded machine). */
async function startRouting(overrides: Parameters<typeof FakeCluster.start>[1]): Promise<FakeCluster> {
  const started = await FakeCluster.start(1, overrides);
  for (let i = 0; i < 100 && (await send(started.url, '/api/users/warm-up/notes/1')).status !== 200; i++) await sleep(50);
  return started;
}

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("CORS on the router's own problem answers", () => {
  it('lets an allowed origin read a 413 the router answers before any worker sees the request', async () => {
    cluster = await startRouting({ bodyLimitBytes: 1000, corsOrigins: [APP, 'http://localhost:5173'] });
    const reply = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: 'x'.repeat(1001), headers: { origin: APP } });
    expect(reply.status).toBe(413);
    expect(reply.json().code).toBe('body_too_large');
    expect(reply.header('access-control-allow-origin')).toBe(APP);
    expect(reply.header('vary')).toBe('Origin');
    expect(reply.header('access-control-expose-headers')?.split(', ')).toEqual(expect.arrayContaining(['Retry-After', 'X-Pinbase-Worker']));
    expect(cluster.worker('w1').received.filter((r) => r.url.includes('/alice/'))).toEqual([]);
  });

  it('lets an allowed origin read a 429 and its Retry-After', async () => {
    cluster = await startRouting({ maxInFlightPerUser: 1, corsOrigins: [APP] });
    const held: (() => void)[] = [];
    cluster.worker('w1').behavior = (req, res) => {
      if (!req.url?.includes('/slow')) return false;
      held.push(() => res.end('{}'));
      return true;
    };
    const pending = send(cluster.url, '/api/users/alice/slow');
    for (let i = 0; i < 200 && held.length === 0; i++) await sleep(10);
    const refused = await send(cluster.url, '/api/users/alice/notes/1', { headers: { origin: APP } });
    expect(refused.status).toBe(429);
    expect(refused.header('retry-after')).toBe('1');
    expect(refused.header('access-control-allow-origin')).toBe(APP);
    held.splice(0).forEach((end) => end());
    await pending;
  });

  it('gives an origin it does not list, a request without Origin, and a router without --cors-origin no CORS header', async () => {
    cluster = await startRouting({ bodyLimitBytes: 10, corsOrigins: [APP] });
    const big = { method: 'PUT', body: 'x'.repeat(11) };
    const corsHeaders = (headers: Record<string, unknown>) => Object.keys(headers).filter((h) => h.startsWith('access-control-'));
    const other = await send(cluster.url, '/api/users/alice/notes/1', { ...big, headers: { origin: `${APP}.evil.example` } });
    expect(other.status).toBe(413);
    expect(corsHeaders(other.headers)).toEqual([]);
    const none = await send(cluster.url, '/api/users/alice/notes/1', big);
    expect(corsHeaders(none.headers)).toEqual([]);
    await cluster.stop();
    cluster = await startRouting({ bodyLimitBytes: 10 });
    const off = await send(cluster.url, '/api/users/alice/notes/1', { ...big, headers: { origin: APP } });
    expect(off.status).toBe(413);
    expect(corsHeaders(off.headers)).toEqual([]);
  });

  it('answers any origin with * when told so', async () => {
    cluster = await startRouting({ bodyLimitBytes: 10, corsOrigins: ['*'] });
    const reply = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', body: 'x'.repeat(11), headers: { origin: 'https://anywhere.example' } });
    expect(reply.header('access-control-allow-origin')).toBe('*');
    expect(reply.header('vary')).toBeUndefined();
  });
});
