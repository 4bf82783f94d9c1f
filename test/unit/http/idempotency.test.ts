import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  body,
  expectProblem,
  historyLength,
  jsonRequest,
  latestSeq,
  startHttpFixture,
  type HttpFixture,
} from './http-harness.js';

const USER = 'retrier';
const U = `/api/users/${USER}`;
let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

const key = (k: string) => ({ 'idempotency-key': k });

/** What a replay must repeat exactly. */
function answer(response: LightMyRequestResponse) {
  const { etag, location, 'x-pinbase-seq': seq } = response.headers;
  return { status: response.statusCode, body: response.body, etag, location, seq };
}

async function expectReplayOf(first: LightMyRequestResponse, repeat: LightMyRequestResponse): Promise<void> {
  expect(first.headers['idempotent-replayed']).toBeUndefined();
  expect(repeat.headers['idempotent-replayed']).toBe('true');
  expect(answer(repeat)).toEqual(answer(first));
}

describe('Idempotency-Key replays', () => {
  it('replays a PUT (201, body, ETag, Location) without writing again', async () => {
    const request = jsonRequest('PUT', `${U}/notes/n1`, { text: 'hi' }, key('put-1'));
    const first = await fx.app.inject(request);
    expect(first.statusCode).toBe(201);
    const repeat = await fx.app.inject(request);
    await expectReplayOf(first, repeat);
    expect(await latestSeq(fx.app, USER)).toBe(1);
    expect(await historyLength(fx.app, USER, 'notes/n1')).toBe(1);
  });

  it('replays a POST create with the same generated id, creating one object', async () => {
    const request = jsonRequest('POST', `${U}/tasks`, { todo: 'x' }, key('post-1'));
    const first = await fx.app.inject(request);
    await expectReplayOf(first, await fx.app.inject(request));
    const listing = body<{ items: { id: string }[] }>(await fx.app.inject({ method: 'GET', url: `${U}/tasks` }));
    expect(listing.items.map((item) => item.id)).toEqual([body<{ id: string }>(first).id]);
  });

  it('replays a DELETE as its 200, not as a 404 for the now missing object', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/notes/n1`, { a: 1 }));
    const request = { method: 'DELETE' as const, url: `${U}/notes/n1`, headers: key('del-1') };
    const first = await fx.app.inject(request);
    expect(first.statusCode).toBe(200);
    await expectReplayOf(first, await fx.app.inject(request));
    expect(await historyLength(fx.app, USER, 'notes/n1')).toBe(2);
  });

  it('replays a PATCH and a transaction without applying them twice', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/c/x`, { n: 1 }));
    const patch = jsonRequest('PATCH', `${U}/c/x`, { m: 1 }, key('patch-1'));
    await expectReplayOf(await fx.app.inject(patch), await fx.app.inject(patch));
    const ops = [{ op: 'create', collection: 'c', data: { made: true } }, { op: 'patch', collection: 'c', id: 'x', patch: { t: 1 } }];
    const tx = jsonRequest('POST', `${U}/_tx`, { ops }, key('tx-1'));
    const first = await fx.app.inject(tx);
    expect(first.statusCode).toBe(200);
    await expectReplayOf(first, await fx.app.inject(tx));
    expect(await latestSeq(fx.app, USER)).toBe(3);
    expect(await historyLength(fx.app, USER, 'c/x')).toBe(3);
  });

  it('applies one of several identical requests sent together and replays it to the others', async () => {
    const request = jsonRequest('POST', `${U}/orders`, { sku: 'A' }, key('double-click'));
    const responses = await Promise.all([fx.app.inject(request), fx.app.inject(request), fx.app.inject(request)]);
    const fresh = responses.filter((response) => response.headers['idempotent-replayed'] === undefined);
    expect(fresh).toHaveLength(1);
    for (const response of responses) expect(answer(response)).toEqual(answer(fresh[0]!));
    expect(await latestSeq(fx.app, USER)).toBe(1);
  });

  it('scopes keys to one user: the same key for another user is a new request', async () => {
    const a = await fx.app.inject(jsonRequest('PUT', `${U}/notes/n1`, { a: 1 }, key('shared')));
    const b = await fx.app.inject(jsonRequest('PUT', `/api/users/someone-else/notes/n1`, { b: 2 }, key('shared')));
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('Idempotency-Key reuse for a different request', () => {
  beforeEach(async () => {
    const first = await fx.app.inject(jsonRequest('PUT', `${U}/notes/n1`, { v: 1 }, { ...key('k1'), 'if-none-match': '*' }));
    expect(first.statusCode).toBe(201);
  });

  it.each([
    ['a different body', jsonRequest('PUT', `${U}/notes/n1`, { v: 2 }, { ...key('k1'), 'if-none-match': '*' })],
    ['a different path', jsonRequest('PUT', `${U}/notes/n2`, { v: 1 }, { ...key('k1'), 'if-none-match': '*' })],
    ['a different method', jsonRequest('PATCH', `${U}/notes/n1`, { v: 1 }, { ...key('k1'), 'if-none-match': '*' })],
    ['a different If-None-Match', jsonRequest('PUT', `${U}/notes/n1`, { v: 1 }, key('k1'))],
    ['an added If-Match', jsonRequest('PUT', `${U}/notes/n1`, { v: 1 }, { ...key('k1'), 'if-none-match': '*', 'if-match': '"1"' })],
  ])('answers 422 idempotency_key_reused for %s and changes nothing', async (_case, request) => {
    expectProblem(await fx.app.inject(request), 'idempotency_key_reused', 422);
    expect(await latestSeq(fx.app, USER)).toBe(1);
    expect(await historyLength(fx.app, USER, 'notes/n1')).toBe(1);
    expect(await historyLength(fx.app, USER, 'notes/n2')).toBe(0);
  });

  it('tells a different If-Match apart from the original one', async () => {
    const original = jsonRequest('PATCH', `${U}/notes/n1`, { w: 1 }, { ...key('k2'), 'if-match': '"1"' });
    expect((await fx.app.inject(original)).statusCode).toBe(200);
    const otherTag = jsonRequest('PATCH', `${U}/notes/n1`, { w: 1 }, { ...key('k2'), 'if-match': '"2"' });
    expectProblem(await fx.app.inject(otherTag), 'idempotency_key_reused', 422);
    expect(await historyLength(fx.app, USER, 'notes/n1')).toBe(2);
  });
});
