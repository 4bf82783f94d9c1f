/**
 * Event streams through the router are counted until they end, apart from
 * request slots, and capped per user, per client address and per worker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { RouterOptions } from '../../../router/router-options.js';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

let cluster: FakeCluster | undefined;
const open: AbortController[] = [];
afterEach(async () => {
  for (const controller of open.splice(0)) controller.abort();
  await cluster?.stop();
  cluster = undefined;
});

interface StreamReply {
  status: number;
  retryAfter: string | undefined;
  code: string | undefined;
  close(): void;
}

/** Opens the change stream of `user` through the router; a refusal's body is read, a stream is left open. */
async function openStream(c: FakeCluster, user: string): Promise<StreamReply> {
  const controller = new AbortController();
  const response = await request(`${c.url}/api/users/${user}/_changes`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  response.body.on('error', () => {});
  const retryAfter = response.headers['retry-after'] as string | undefined;
  if (response.statusCode !== 200) {
    const problem = (await response.body.json()) as { code: string };
    return { status: response.statusCode, retryAfter, code: problem.code, close: () => {} };
  }
  open.push(controller);
  return { status: 200, retryAfter, code: undefined, close: () => controller.abort() };
}

async function start(overrides: Partial<RouterOptions>): Promise<FakeCluster> {
  cluster = await FakeCluster.start(1, overrides);
  return cluster;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
  expect(check()).toBe(true);
}

describe('event streams at the router', () => {
  it('refuses a user\'s streams beyond the default per-user cap of 16 with 429 too_many_streams, before the worker sees them', async () => {
    const c = await start({});
    const replies = [];
    for (let i = 0; i < 20; i++) replies.push(await openStream(c, 'alice'));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(16);
    const refused = replies.filter((r) => r.status !== 200);
    expect(refused.map((r) => [r.status, r.code, r.retryAfter])).toEqual(Array(4).fill([429, 'too_many_streams', '1']));
    expect(c.worker('w1').openStreams).toBe(16);
    expect(c.worker('w1').received.filter((r) => r.url.includes('_changes'))).toHaveLength(16);
    // Another user's stream and alice's plain requests are not affected.
    expect((await openStream(c, 'bob')).status).toBe(200);
    expect((await send(c.url, '/api/users/alice/notes/1')).status).toBe(200);
  });

  it('counts a stream until it ends, not until its headers arrive: a closed stream frees its slot', async () => {
    const c = await start({ maxStreamsPerUser: 2 });
    const first = await openStream(c, 'alice');
    expect((await openStream(c, 'alice')).status).toBe(200);
    await sleep(100);
    expect((await openStream(c, 'alice')).code).toBe('too_many_streams');
    first.close();
    await until(() => c.worker('w1').openStreams === 1);
    await sleep(50);
    expect((await openStream(c, 'alice')).status).toBe(200);
  });

  it('answers 503 overloaded beyond the per-worker stream cap, while plain requests still pass', async () => {
    const c = await start({ maxStreamsPerWorker: 3, maxInFlightPerWorker: 1 });
    for (const user of ['a', 'b', 'c']) expect((await openStream(c, user)).status).toBe(200);
    const refused = await openStream(c, 'd');
    expect([refused.status, refused.code, refused.retryAfter]).toEqual([503, 'overloaded', '1']);
    // Streams hold no request slot: one slot per worker is enough for a GET.
    expect((await send(c.url, '/api/users/d/notes/1')).status).toBe(200);
    const status = (await send(c.url, '/_router/status')).json();
    expect(status.workers[0]).toMatchObject({ streams: 3, inFlight: 0 });
    expect((await send(c.url, '/metrics')).body).toContain('pinbase_router_open_streams{worker="w1"} 3');
  });

  it('refuses one client address\'s streams beyond the per-client cap, whatever the users', async () => {
    const c = await start({ maxStreamsPerClient: 3, maxStreamsPerUser: 100 });
    for (const user of ['a', 'b', 'c']) expect((await openStream(c, user)).status).toBe(200);
    const refused = await openStream(c, 'd');
    expect([refused.status, refused.code]).toEqual([429, 'too_many_streams']);
    expect(c.worker('w1').openStreams).toBe(3);
  });
});
