import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_LIMITS } from '../../support/test-store.js';
import { body, expectProblem, jsonRequest, latestSeq, startHttpFixture, type HttpFixture } from './http-harness.js';

const USER = 'busy';
const U = `/api/users/${USER}`;
let fx: HttpFixture;
beforeEach(async () => {
  // A small document limit, so that one request in a batch can fail inside the store.
  fx = await startHttpFixture({
    store: { limits: { ...TEST_LIMITS, maxDocumentBytes: 2000 } },
  });
  expect((await fx.app.inject(jsonRequest('PUT', `${U}/c/shared`, { v: 0 }))).statusCode).toBe(201);
  fx.batches.length = 0;
});
afterEach(async () => {
  await fx.close();
});

interface Planned {
  request: InjectOptions;
  /** The status it must get, whatever its neighbours do. */
  status: number;
  code?: string;
  /** The object it writes: `data` must be readable there afterwards (undefined: must not exist). */
  check?: { path: string; data: unknown };
}

/** A failing write that must leave `path` absent. */
function failing(request: InjectOptions, status: number, code: string, path: string): Planned {
  return { request, status, code, check: { path, data: undefined } };
}

function plan(): Planned[] {
  const planned: Planned[] = [];
  for (let i = 0; i < 8; i++) {
    planned.push({ request: jsonRequest('PUT', `${U}/c/item${i}`, { i }), status: 201, check: { path: `c/item${i}`, data: { i } } });
  }
  const conflictingTx = { ops: [{ op: 'put', collection: 'c', id: 'txa', data: {} }, { op: 'delete', collection: 'c', id: 'nope' }] };
  planned.push(
    failing(jsonRequest('PUT', `${U}/c/stale`, { x: 1 }, { 'if-match': '"99"' }), 412, 'precondition_failed', 'c/stale'),
    failing(jsonRequest('PATCH', `${U}/c/missing`, { x: 1 }), 404, 'object_not_found', 'c/missing'),
    failing(jsonRequest('PUT', `${U}/c/huge`, { blob: 'x'.repeat(3000) }), 413, 'body_too_large', 'c/huge'),
    failing(jsonRequest('POST', `${U}/_tx`, conflictingTx), 409, 'transaction_conflict', 'c/txa'),
    { request: jsonRequest('POST', `${U}/c`, { made: true }), status: 201 },
  );
  return planned;
}

describe('group commit', () => {
  it('commits writes that arrive together in shared batches, each succeeding or failing on its own', async () => {
    const planned = plan();
    const responses = await Promise.all(planned.map((p) => fx.app.inject(p.request)));

    responses.forEach((response, i) => {
      const { status, code } = planned[i]!;
      expect(response.statusCode, JSON.stringify(planned[i]!.request.url)).toBe(status);
      if (code) expectProblem(response, code);
    });
    // Fewer batches than writes: some of them shared one SQLite transaction.
    expect(Math.max(...fx.batches)).toBeGreaterThan(1);
    expect(fx.batches.reduce((a, b) => a + b, 0)).toBe(planned.length);

    // Each successful write got its own seq; failed ones took none (no gaps).
    const seqs = responses.filter((r) => r.statusCode < 300).map((r) => Number(r.headers['x-pinbase-seq'])).sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => 2 + i));
    expect(await latestSeq(fx.app, USER)).toBe(1 + seqs.length);

    for (const { check } of planned) {
      if (!check) continue;
      const read = await fx.app.inject({ method: 'GET', url: `${U}/${check.path}` });
      if (check.data === undefined) expect(read.statusCode, check.path).toBe(404);
      else expect(body(read), check.path).toEqual(check.data);
    }
    const created = body<{ id: string }>(responses[responses.length - 1]!);
    expect((await fx.app.inject({ method: 'GET', url: `${U}/c/${created.id}` })).statusCode).toBe(200);
  });

  it('lets one of several compare-and-set writes on one object win; the others get 412', async () => {
    const writers = [1, 2, 3, 4, 5].map((w) => jsonRequest('PUT', `${U}/c/shared`, { writer: w }, { 'if-match': '"1"' }));
    const bystander = jsonRequest('PUT', `${U}/c/bystander`, { ok: true });
    const responses = await Promise.all([...writers, bystander].map((request) => fx.app.inject(request)));

    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(4);
    expect(statuses[5]).toBe(201);
    const winnerRev = body<{ rev: number }>(responses[statuses.indexOf(200)]!).rev;
    for (const loser of responses.filter((r) => r.statusCode === 412)) {
      expect(expectProblem(loser, 'precondition_failed').currentRev).toBe(winnerRev);
    }
    const winner = body<{ writer: number }>(await fx.app.inject({ method: 'GET', url: `${U}/c/shared` }));
    expect(body(responses[winner.writer - 1]!)).toMatchObject({ id: 'shared' });
    expect(responses[winner.writer - 1]!.statusCode).toBe(200);
    expect(body(await fx.app.inject({ method: 'GET', url: `${U}/c/bystander` }))).toEqual({ ok: true });
  });

  it('fails a document nested too deep to serialize on its own, without failing its batch neighbours', async () => {
    const deep = `{"y":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const [hostile, neighbour] = await Promise.all([
      fx.app.inject({ method: 'PUT', url: `${U}/c/deep`, payload: deep, headers: { 'content-type': 'application/json' } }),
      fx.app.inject(jsonRequest('PUT', `${U}/c/neighbour`, { fine: true })),
    ]);
    expect(neighbour.statusCode).toBe(201);
    expect(hostile.statusCode).toBeGreaterThanOrEqual(400);
    expect(hostile.statusCode).toBeLessThan(500);
    expect(body(await fx.app.inject({ method: 'GET', url: `${U}/c/neighbour` }))).toEqual({ fine: true });
  });
});
