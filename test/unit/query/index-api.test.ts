import { existsSync } from 'node:fs';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { partitionPath } from '../../../services/partition/user-id.js';
import { MAX_INDEXES } from '../../../services/query/index-catalog.js';
import { body, expectProblem, jsonRequest, latestSeq, listTree, startHttpFixture, type HttpFixture } from '../http/http-harness.js';
import { hs256Verifier } from '../../support/hs256-verifier.js';

const USER = 'shop';
const U = `/api/users/${USER}`;

let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

const putIndex = (path: string, payload: unknown, user = USER) => fx.app.inject(jsonRequest('PUT', `/api/users/${user}/_indexes/${path}`, payload));
const getIndex = (path: string) => fx.app.inject({ method: 'GET', url: `${U}/_indexes/${path}` });
const listIndexes = async () => body<{ items: Record<string, unknown>[] }>(await fx.app.inject({ method: 'GET', url: `${U}/_indexes` })).items;

describe('PUT /_indexes/:collection/:name', () => {
  it('creates an index on a small collection ready at once (201, Location), and the same definition again is a 200 no-op', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/orders/o1`, { status: 'open' }));
    const created = await putIndex('orders/by_status', { paths: ['status', 'customer.id'] });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe(`${U}/_indexes/orders/by_status`);
    expect(body(created)).toMatchObject({ collection: 'orders', name: 'by_status', paths: ['status', 'customer.id'], unique: false, state: 'ready' });
    const seq = await latestSeq(fx.app, USER);

    const again = await putIndex('orders/by_status', { paths: ['status', 'customer.id'], unique: false });
    expect(again.statusCode).toBe(200);
    expect(body(again)).toEqual(body(created));
    expect(await latestSeq(fx.app, USER)).toBe(seq);

    expect(body(await getIndex('orders/by_status'))).toEqual(body(created));
    expect(await listIndexes()).toEqual([body(created)]);
  });

  it('refuses another definition under an existing name with 409 index_exists, changing nothing', async () => {
    await putIndex('orders/by_status', { paths: ['status'] });
    const before = await listIndexes();
    expectProblem(await putIndex('orders/by_status', { paths: ['status'], unique: true }), 'index_exists', 409);
    expectProblem(await putIndex('orders/by_status', { paths: ['status', 'total'] }), 'index_exists', 409);
    expect(await listIndexes()).toEqual(before);
    // The same name in another collection is another index.
    expect((await putIndex('invoices/by_status', { paths: ['status'] })).statusCode).toBe(201);
  });

  it('refuses bad names, bad paths, too many or duplicate paths and bad bodies with 400 invalid_index, creating nothing', async () => {
    const cases: [string, unknown][] = [
      ['orders/..%2Fx', { paths: ['a'] }],
      ["orders/a'b", { paths: ['a'] }],
      [`orders/${'n'.repeat(65)}`, { paths: ['a'] }],
      ['orders/Upper', { paths: ['a'] }],
      ['orders/x', { paths: [] }],
      ['orders/x', { paths: Array.from({ length: 9 }, (_, i) => `f${i}`) }],
      ['orders/x', { paths: ['a', 'a'] }],
      ['orders/x', { paths: ["a') OR 1=1 --"] }],
      ['orders/x', { paths: ['a.$where'] }],
      ['orders/x', { paths: ['a..b'] }],
      ['orders/x', { paths: [`${'s.'.repeat(8)}s`] }],
      ['orders/x', { paths: [7] }],
      ['orders/x', { paths: 'status' }],
      ['orders/x', { paths: ['a'], unique: 'yes' }],
      ['orders/x', { paths: ['a'], extra: 1 }],
      ['orders/x', ['a']],
      ['orders/x', {}],
    ];
    for (const [path, payload] of cases) {
      const response = await putIndex(path, payload);
      expectProblem(response, 'invalid_index', 400);
    }
    expectProblem(await putIndex('_x/y', { paths: ['a'] }), 'invalid_collection', 400);
    // Nothing was created: not even the user's file.
    expect(listTree(fx.root)).toEqual([]);
  });

  it(`limits a user to ${MAX_INDEXES} indexes (400 invalid_index beyond)`, async () => {
    for (let i = 0; i < MAX_INDEXES; i++) expect((await putIndex(`c${i % 4}/i${i}`, { paths: ['a'] })).statusCode).toBe(201);
    const over = expectProblem(await putIndex('c9/one_more', { paths: ['a'] }), 'invalid_index', 400);
    expect(over.detail).toContain(`${MAX_INDEXES}`);
    expect(await listIndexes()).toHaveLength(MAX_INDEXES);
  });

  it('creates the file of a user that had none (it is a write); GET and DELETE of a user with no file create nothing', async () => {
    expect(await listIndexes()).toEqual([]);
    expectProblem(await getIndex('orders/x'), 'index_not_found', 404);
    expectProblem(await fx.app.inject({ method: 'DELETE', url: `${U}/_indexes/orders/x` }), 'index_not_found', 404);
    expect(existsSync(partitionPath(fx.dataDir, USER))).toBe(false);
    expect((await putIndex('orders/x', { paths: ['a'] })).statusCode).toBe(201);
    expect(existsSync(partitionPath(fx.dataDir, USER))).toBe(true);
  });
});

describe('DELETE /_indexes/:collection/:name', () => {
  it('drops the index (204), after which it is 404 index_not_found and the name is free again', async () => {
    await putIndex('orders/by_status', { paths: ['status'] });
    const deleted = await fx.app.inject({ method: 'DELETE', url: `${U}/_indexes/orders/by_status` });
    expect(deleted.statusCode).toBe(204);
    expectProblem(await getIndex('orders/by_status'), 'index_not_found', 404);
    expectProblem(await fx.app.inject({ method: 'DELETE', url: `${U}/_indexes/orders/by_status` }), 'index_not_found', 404);
    expect(await listIndexes()).toEqual([]);
    expect((await putIndex('orders/by_status', { paths: ['total'], unique: true })).statusCode).toBe(201);
  });
});

describe('index routes with tokens', () => {
  const secret = generateSecret();
  const token = (claims: Record<string, unknown>) =>
    new SignJWT({ sub: USER, exp: Math.floor(Date.now() / 1000) + 600, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(secret, 'utf8'));

  it('refuse PUT and DELETE with a read-only token (403 insufficient_scope) and let it GET', async () => {
    const authed = await startHttpFixture({
      tokens: hs256Verifier(secret),
    });
    try {
      const writer = { authorization: `Bearer ${await token({})}` };
      const reader = { authorization: `Bearer ${await token({ scope: 'read' })}` };
      expect((await authed.app.inject(jsonRequest('PUT', `${U}/_indexes/orders/a`, { paths: ['a'] }, writer))).statusCode).toBe(201);
      expectProblem(await authed.app.inject(jsonRequest('PUT', `${U}/_indexes/orders/b`, { paths: ['b'] }, reader)), 'insufficient_scope', 403);
      expectProblem(await authed.app.inject({ method: 'DELETE', url: `${U}/_indexes/orders/a`, headers: reader }), 'insufficient_scope', 403);
      const list = await authed.app.inject({ method: 'GET', url: `${U}/_indexes`, headers: reader });
      expect(body<{ items: { name: string }[] }>(list).items.map((i) => i.name)).toEqual(['a']);
      expect((await authed.app.inject({ method: 'GET', url: `${U}/_indexes/orders/a`, headers: reader })).statusCode).toBe(200);
    } finally {
      await authed.close();
    }
  });
});
