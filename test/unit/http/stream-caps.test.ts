import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectProblem, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const live = (user: string) => ({ method: 'GET' as const, url: `/api/users/${user}/_changes`, headers: { accept: 'text/event-stream' } });

let fx: HttpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

/**
 * Opens `count` live streams for `user`, one after the other, each
 * subscribed before the next (inject resolves when a stream ends).
 */
async function openStreams(f: HttpFixture, user: string, count: number, already = 0): Promise<Promise<unknown>[]> {
  const streams: Promise<unknown>[] = [];
  for (let i = 1; i <= count; i++) {
    streams.push(f.app.inject(live(user)));
    await vi.waitFor(() => expect(f.store.subscriberCount).toBe(already + i));
  }
  return streams;
}

describe('live change streams on a worker', () => {
  it('do not hold request slots: with maxInFlight streams open, short requests are still served', async () => {
    fx = await startHttpFixture({ maxInFlight: 2, maxStreams: 10, maxStreamsPerUser: 10 });
    const streams = await openStreams(fx, 'watcher', 4);
    expect((await fx.app.inject(jsonRequest('PUT', '/api/users/other/c/a', { v: 1 }))).statusCode).toBe(201);
    expect((await fx.app.inject({ method: 'GET', url: '/api/users/other/c/a' })).statusCode).toBe(200);
    fx.store.endSubscriptions();
    await Promise.all(streams);
  });

  it('are capped per user: one more answers 429 too_many_streams with Retry-After, other users still stream', async () => {
    fx = await startHttpFixture({ maxStreams: 10, maxStreamsPerUser: 3 });
    const streams = await openStreams(fx, 'greedy', 3);
    const refused = await fx.app.inject(live('greedy'));
    expect(expectProblem(refused, 'too_many_streams', 429).retryable).toBe(true);
    expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    streams.push(...(await openStreams(fx, 'modest', 1, 3)));
    fx.store.endSubscriptions();
    await Promise.all(streams);
  });

  it('are capped per worker: one more answers 503 overloaded with Retry-After, and a slot frees when a stream ends', async () => {
    fx = await startHttpFixture({ maxStreams: 3, maxStreamsPerUser: 10 });
    const streams = [...(await openStreams(fx, 'a', 2)), ...(await openStreams(fx, 'b', 1, 2))];
    const refused = await fx.app.inject(live('c'));
    expectProblem(refused, 'overloaded', 503);
    expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    expect((await fx.app.inject({ method: 'GET', url: '/api/users/c/_changes' })).statusCode).toBe(200);
    await fx.store.release('b');
    await streams[2];
    const again = await openStreams(fx, 'c', 1, 2);
    fx.store.endSubscriptions();
    await Promise.all([...streams, ...again]);
  });
});
