import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fanOutDir } from '../../../services/partition/user-id.js';
import { Ownership } from '../../../services/worker/ownership.js';
import { body, expectProblem, jsonRequest, listTree, startHttpFixture, type HttpFixture } from './http-harness.js';

let fx: HttpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function start(options: Parameters<typeof startHttpFixture>[0] = {}): Promise<HttpFixture> {
  fx = await startHttpFixture(options);
  return fx;
}

describe('problem responses', () => {
  it.each([
    ['GET', '/nope', 'route_not_found', 404],
    ['GET', '/api/users/u1', 'route_not_found', 404],
    ['POST', '/api/users/u1/c/id', 'route_not_found', 404],
    ['DELETE', '/api/users/u1/c', 'route_not_found', 404],
    ['GET', '/api/users/u1/c/missing', 'object_not_found', 404],
  ] as const)('%s %s is a problem+json %s from this worker', async (method, url, code, status) => {
    const { app } = await start();
    expectProblem(await app.inject({ method, url }), code, status);
  });

  it.each([
    ['a malformed percent-encoding', '/api/users/u1/c/%E0%A4%A'],
    ['a path parameter over the router\'s length limit', `/api/users/u1/c/${'i'.repeat(1100)}`],
  ])('answers %s in the path with a 4xx problem+json from this worker', async (_case, url) => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['x-pinbase-worker']).toBe('w-test');
    expect(['invalid_path', 'invalid_object_id']).toContain(expectProblem(response, body<{ code: string }>(response).code).code);
  });

  it('carries X-Pinbase-Seq on write errors decided against the stored state (412, 409, 404)', async () => {
    const { app } = await start();
    await app.inject(jsonRequest('PUT', '/api/users/u1/c/a', { v: 1 }));
    const failures = await Promise.all([
      app.inject(jsonRequest('PUT', '/api/users/u1/c/a', { v: 2 }, { 'if-match': '"9"' })),
      app.inject(
        jsonRequest('POST', '/api/users/u1/_tx', {
          reads: [{ collection: 'c', id: 'a', rev: 9 }],
          ops: [{ op: 'delete', collection: 'c', id: 'a' }],
        }),
      ),
      app.inject(jsonRequest('PATCH', '/api/users/u1/c/none', { v: 1 })),
    ]);
    expect(failures.map((r) => r.statusCode)).toEqual([412, 409, 404]);
    expect(failures.map((r) => r.headers['x-pinbase-seq'])).toEqual(['1', '1', '1']);
  });
});

describe('ownership (421 misdirected_request)', () => {
  const topology = {
    version: 4,
    workers: [
      { id: 'w-test', url: 'http://127.0.0.1:3601' },
      { id: 'w-other', url: 'http://127.0.0.1:3602' },
    ],
  };
  const ownership = new Ownership('w-test', topology, undefined);
  const users = Array.from({ length: 64 }, (_, i) => `user-${i}`);
  const foreign = users.find((user) => !ownership.owns(user))!;
  const own = users.find((user) => ownership.owns(user))!;

  it('refuses a user another worker owns, with the owner, and touches no file', async () => {
    const { app, dataDir } = await start({ ownership });
    const write = await app.inject(jsonRequest('PUT', `/api/users/${foreign}/c/a`, { v: 1 }));
    const problem = expectProblem(write, 'misdirected_request', 421);
    expect(problem).toMatchObject({ owner: 'w-other', topologyVersion: 4, retryable: true });
    expectProblem(await app.inject({ method: 'GET', url: `/api/users/${foreign}/_changes` }), 'misdirected_request', 421);
    expect(existsSync(join(dataDir, fanOutDir(foreign)))).toBe(false);
    expect(listTree(dataDir).filter((path) => path.includes(foreign))).toEqual([]);
  });

  it('serves its own users, and a foreign user when the router reports its owner down', async () => {
    const { app } = await start({ ownership });
    expect((await app.inject(jsonRequest('PUT', `/api/users/${own}/c/a`, { v: 1 }))).statusCode).toBe(201);
    const failover = await app.inject(jsonRequest('PUT', `/api/users/${foreign}/c/a`, { v: 1 }, { 'x-pinbase-down': 'w-other' }));
    expect(failover.statusCode).toBe(201);
  });
});

describe('back-pressure (503 overloaded)', () => {
  it('answers requests beyond maxInFlight with 503 and Retry-After, and recovers once they end', async () => {
    const { app } = await start({ maxInFlight: 1 });
    const burst = await Promise.all([1, 2, 3].map((i) => app.inject(jsonRequest('PUT', `/api/users/crowd/c/${i}`, { i }))));
    const refused = burst.filter((r) => r.statusCode === 503);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(burst.filter((r) => r.statusCode === 201).length).toBeGreaterThanOrEqual(1);
    for (const response of refused) {
      expect(expectProblem(response, 'overloaded').retryable).toBe(true);
      expect(response.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    }
    expect((await app.inject({ method: 'GET', url: '/api/users/crowd/c/1' })).statusCode).not.toBe(503);
    expect((await app.inject(jsonRequest('PUT', '/api/users/crowd/c/9', { i: 9 }))).statusCode).toBe(201);
  });
});
