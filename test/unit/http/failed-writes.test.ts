import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_LIMITS } from '../../support/test-store.js';
import { expectProblem, jsonRequest, listTree, startHttpFixture, type HttpFixture } from './http-harness.js';

let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture({ store: { limits: { ...TEST_LIMITS, maxUserBytes: 1024 * 1024 } } });
});
afterEach(async () => {
  await fx.close();
});

const tx = (user: string, payload: unknown) => jsonRequest('POST', `/api/users/${user}/_tx`, payload);

/** Writes that fail for a user who has never written anything, each with the problem it gets. */
const FAILING: [name: string, code: string, request: (user: string) => InjectOptions][] = [
  ['DELETE of a missing object', 'object_not_found', (u) => ({ method: 'DELETE', url: `/api/users/${u}/c/a` })],
  ['DELETE with If-Match', 'precondition_failed', (u) => ({ method: 'DELETE', url: `/api/users/${u}/c/a`, headers: { 'if-match': '"1"' } })],
  ['PATCH of a missing object', 'object_not_found', (u) => jsonRequest('PATCH', `/api/users/${u}/c/a`, { x: 1 })],
  ['PUT with If-Match: *', 'precondition_failed', (u) => jsonRequest('PUT', `/api/users/${u}/c/a`, { x: 1 }, { 'if-match': '*' })],
  ['PUT with If-Match: "3"', 'precondition_failed', (u) => jsonRequest('PUT', `/api/users/${u}/c/a`, { x: 1 }, { 'if-match': '"3"' })],
  ['transaction with a read set naming a rev', 'transaction_conflict', (u) => tx(u, { reads: [{ collection: 'c', id: 'a', rev: 4 }], ops: [{ op: 'put', collection: 'c', id: 'b', data: {} }] })],
  ['transaction with an ifRev', 'transaction_conflict', (u) => tx(u, { ops: [{ op: 'put', collection: 'c', id: 'a', data: {}, ifRev: 2 }] })],
  ['transaction patching a missing object', 'transaction_conflict', (u) => tx(u, { ops: [{ op: 'patch', collection: 'c', id: 'a', patch: {} }] })],
  ['transaction deleting a missing object, with a key', 'transaction_conflict', (u) => ({ ...tx(u, { ops: [{ op: 'delete', collection: 'c', id: 'a' }] }), headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' } })],
  ['document larger than the quota', 'quota_exceeded', (u) => jsonRequest('PUT', `/api/users/${u}/c/a`, { x: 'q'.repeat(1024 * 1024 - 100) })],
];

describe('a write that fails', () => {
  it('creates no file for any of 200 users who never wrote', async () => {
    for (let i = 0; i < 200; i++) {
      const [name, code, request] = FAILING[i % FAILING.length]!;
      const response = await fx.app.inject(request(`anon-${i}`));
      expect(expectProblem(response, code).code, name).toBe(code);
      expect(response.headers['x-pinbase-seq']).toBe('0');
    }
    expect(listTree(fx.dataDir)).toEqual([]);
  });

  it('creates the user\'s file with its first committed write, and only that user\'s', async () => {
    expect((await fx.app.inject({ method: 'DELETE', url: '/api/users/bob/c/a' })).statusCode).toBe(404);
    const created = await fx.app.inject(jsonRequest('PUT', '/api/users/alice/c/a', { x: 1 }, { 'if-none-match': '*' }));
    expect(created.statusCode).toBe(201);
    const files = listTree(fx.dataDir).filter((path) => !path.endsWith('/'));
    expect(files.map((path) => path.split('/').pop())).toEqual(['alice.sqlite', 'alice.sqlite-wal', 'alice.sqlite.owner']);
  });

  it('that would succeed on a user with no file is judged again once the file is open', async () => {
    const ops = [
      { op: 'put', collection: 'c', id: 'a', data: { n: 1 } },
      { op: 'patch', collection: 'c', id: 'a', patch: { m: 2 } },
      { op: 'delete', collection: 'c', id: 'gone', ifRev: 0 },
    ];
    expectProblem(await fx.app.inject(tx('carol', { ops })), 'transaction_conflict', 409);
    expect(listTree(fx.dataDir)).toEqual([]);
    const response = await fx.app.inject(tx('carol', { ops: ops.slice(0, 2) }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse((await fx.app.inject({ method: 'GET', url: '/api/users/carol/c/a' })).body)).toEqual({ n: 1, m: 2 });
  });
});
