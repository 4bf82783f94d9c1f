import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { body, expectProblem, jsonRequest, latestSeq, startHttpFixture, type HttpFixture } from '../http/http-harness.js';

const USER = 'members';
const U = `/api/users/${USER}`;

let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
  expect((await fx.app.inject(jsonRequest('PUT', `${U}/_indexes/users/by_email`, { paths: ['email'], unique: true }))).statusCode).toBe(201);
  for (const [id, email] of [['a', 'a@x'], ['b', 'b@x']]) {
    expect((await fx.app.inject(jsonRequest('PUT', `${U}/users/${id}`, { email }))).statusCode).toBe(201);
  }
});
afterEach(async () => {
  await fx.close();
});

const put = (id: string, data: unknown, headers: Record<string, string> = {}) => fx.app.inject(jsonRequest('PUT', `${U}/users/${id}`, data, headers));
const tx = (ops: unknown[]) => fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops }));
async function email(id: string): Promise<unknown> {
  const response = await fx.app.inject({ method: 'GET', url: `${U}/users/${id}` });
  return response.statusCode === 200 ? body(response).email : response.statusCode;
}

describe('a unique index', () => {
  it('refuses a write that gives two live objects the same value: 409 unique_violation naming the index, nothing applied', async () => {
    const seq = await latestSeq(fx.app, USER);
    const problem = expectProblem(await put('c', { email: 'a@x' }), 'unique_violation', 409);
    expect(problem).toMatchObject({ collection: 'users', index: 'by_email' });
    expect(await email('c')).toBe(404);
    expectProblem(await put('b', { email: 'a@x' }), 'unique_violation', 409);
    expect(await email('b')).toBe('b@x');
    expect(await latestSeq(fx.app, USER)).toBe(seq);
  });

  it('lets an update keep its own value, objects lacking the field coexist, and a deleted object free its value', async () => {
    expect((await put('a', { email: 'a@x', name: 'Ann' })).statusCode).toBe(200);
    expect((await put('n1', { name: 'no email' })).statusCode).toBe(201);
    expect((await put('n2', { name: 'no email either' })).statusCode).toBe(201);
    expect((await fx.app.inject({ method: 'DELETE', url: `${U}/users/a` })).statusCode).toBe(200);
    expect((await put('c', { email: 'a@x' })).statusCode).toBe(201);
    // Other collections are not covered.
    expect((await fx.app.inject(jsonRequest('PUT', `${U}/guests/g`, { email: 'b@x' }))).statusCode).toBe(201);
  });

  it('fails a whole transaction whose later op breaks it, while the writes batched with it commit', async () => {
    const batchesBefore = fx.batches.length;
    const [first, failing, last] = await Promise.all([
      put('before', { email: 'before@x' }),
      tx([
        { op: 'put', collection: 'users', id: 't1', data: { email: 't1@x' } },
        { op: 'patch', collection: 'users', id: 'a', patch: { email: 'new-a@x' } },
        { op: 'put', collection: 'users', id: 't3', data: { email: 'b@x' } },
      ]),
      put('after', { email: 'after@x' }),
    ]);
    // The three shared one group commit.
    expect(fx.batches.slice(batchesBefore)).toContain(3);
    expect(first.statusCode).toBe(201);
    expect(last.statusCode).toBe(201);
    expect(expectProblem(failing, 'unique_violation', 409)).toMatchObject({ index: 'by_email' });
    expect(await email('t1')).toBe(404);
    expect(await email('a')).toBe('a@x');
    expect(await email('t3')).toBe(404);
    expect(await email('before')).toBe('before@x');
    expect(await email('after')).toBe('after@x');
    // The values the failed transaction would have taken are still free.
    expect((await put('t1', { email: 't1@x' })).statusCode).toBe(201);
    expect((await put('z', { email: 'new-a@x' })).statusCode).toBe(201);
  });

  it('refuses a swap of two values within one transaction (SQLite checks each write as it is made), and applies it in two steps', async () => {
    const swap = await tx([
      { op: 'patch', collection: 'users', id: 'a', patch: { email: 'b@x' } },
      { op: 'patch', collection: 'users', id: 'b', patch: { email: 'a@x' } },
    ]);
    expectProblem(swap, 'unique_violation', 409);
    expect([await email('a'), await email('b')]).toEqual(['a@x', 'b@x']);
    const freeFirst = await tx([
      { op: 'patch', collection: 'users', id: 'b', patch: { email: 'swap@x' } },
      { op: 'patch', collection: 'users', id: 'a', patch: { email: 'b@x' } },
    ]);
    expect(freeFirst.statusCode).toBe(200);
    expect((await put('b', { email: 'a@x' })).statusCode).toBe(200);
    expect([await email('a'), await email('b')]).toEqual(['b@x', 'a@x']);
  });

  it('does not record a refused write under its Idempotency-Key: a retry is judged again', async () => {
    const key = { 'idempotency-key': 'retry-1' };
    expectProblem(await put('c', { email: 'a@x' }, key), 'unique_violation', 409);
    expectProblem(await put('c', { email: 'a@x' }, key), 'unique_violation', 409);
    expect((await fx.app.inject({ method: 'DELETE', url: `${U}/users/a` })).statusCode).toBe(200);
    const retried = await put('c', { email: 'a@x' }, key);
    expect(retried.statusCode).toBe(201);
    const replayed = await put('c', { email: 'a@x' }, key);
    expect(replayed.statusCode).toBe(201);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
  });

  it('is enforced from its creation on: a write during its build that duplicates a new write is refused', async () => {
    const many = Array.from({ length: 600 }, (_, i) => ({ op: 'put', collection: 'people', id: `p${String(i).padStart(4, '0')}`, data: { ssn: `s${i}` } }));
    expect((await tx(many)).statusCode).toBe(200);
    const created = await fx.app.inject(jsonRequest('PUT', `${U}/_indexes/people/by_ssn`, { paths: ['ssn'], unique: true }));
    expect(created.statusCode).toBe(202);
    expect(body(created).state).toBe('building');
    expect((await fx.app.inject(jsonRequest('PUT', `${U}/people/new1`, { ssn: 'fresh' }))).statusCode).toBe(201);
    expectProblem(await fx.app.inject(jsonRequest('PUT', `${U}/people/new2`, { ssn: 'fresh' })), 'unique_violation', 409);
  });
});
