import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { body, expectProblem, jsonRequest, latestSeq, startHttpFixture, type HttpFixture } from './http-harness.js';

const USER = 'ledger';
const U = `/api/users/${USER}`;
let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

interface TxReply {
  seq: number;
  results: { op: string; collection: string; id: string; rev: number; deleted: boolean }[];
}

function tx(payload: unknown) {
  return fx.app.inject(jsonRequest('POST', `${U}/_tx`, payload));
}
async function read(path: string): Promise<{ status: number; etag: string | undefined; data: unknown }> {
  const response = await fx.app.inject({ method: 'GET', url: `${U}/${path}` });
  const data = response.statusCode === 200 ? body(response) : undefined;
  return { status: response.statusCode, etag: response.headers.etag, data };
}

describe('POST /_tx', () => {
  it('applies every operation at one seq, each seeing the ones before it', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/a`, { balance: 10 }));
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/old`, { balance: 0 }));
    const response = await tx({
      reads: [{ collection: 'acct', id: 'a', rev: 1 }, { collection: 'acct', id: 'new', rev: 0 }],
      ops: [
        { op: 'patch', collection: 'acct', id: 'a', patch: { balance: 5 }, ifRev: 1 },
        { op: 'put', collection: 'acct', id: 'new', data: { balance: 5 }, ifRev: 0 },
        { op: 'patch', collection: 'acct', id: 'new', patch: { note: 'moved' } },
        { op: 'delete', collection: 'acct', id: 'old', ifRev: 2 },
        { op: 'create', collection: 'log', data: { moved: 5 } },
      ],
    });
    expect(response.statusCode).toBe(200);
    const reply = body<TxReply>(response);
    expect(reply.seq).toBe(3);
    expect(response.headers['x-pinbase-seq']).toBe('3');
    expect(reply.results.map((r) => [r.op, r.id, r.rev, r.deleted])).toEqual([
      ['patch', 'a', 3, false],
      ['put', 'new', 3, false],
      ['patch', 'new', 3, false],
      ['delete', 'old', 3, true],
      ['create', reply.results[4]!.id, 3, false],
    ]);
    expect(await read('acct/a')).toEqual({ status: 200, etag: '"3"', data: { balance: 5 } });
    expect(await read('acct/new')).toEqual({ status: 200, etag: '"3"', data: { balance: 5, note: 'moved' } });
    // Written by two ops, it has one version of the commit: its last state.
    const history = await fx.app.inject({ method: 'GET', url: `${U}/acct/new/_history` });
    expect(history.json<{ versions: { rev: number; data: unknown }[] }>().versions.map((v) => [v.rev, v.data])).toEqual([[3, { balance: 5, note: 'moved' }]]);
    expect((await read('acct/old')).status).toBe(404);
    expect(await read(`log/${reply.results[4]!.id}`)).toEqual({ status: 200, etag: '"3"', data: { moved: 5 } });
  });

  it('answers 409 listing every conflict and applies nothing', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/a`, { balance: 10 }));
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/b`, { balance: 20 }));
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/a`, { balance: 11 }));
    const before = await latestSeq(fx.app, USER);

    const response = await tx({
      reads: [{ collection: 'acct', id: 'a', rev: 1 }],
      ops: [
        { op: 'put', collection: 'acct', id: 'b', data: { balance: 0 } },
        { op: 'put', collection: 'acct', id: 'c', data: { balance: 1 }, ifRev: 0 },
        { op: 'patch', collection: 'acct', id: 'b', patch: { balance: 1 }, ifRev: 9 },
        { op: 'delete', collection: 'acct', id: 'missing' },
        { op: 'create', collection: 'acct', id: 'a', data: {} },
      ],
    });
    const problem = expectProblem(response, 'transaction_conflict', 409);
    expect(problem.conflicts).toEqual([
      { collection: 'acct', id: 'a', expected: 1, actual: 3, reason: 'read set changed' },
      { collection: 'acct', id: 'b', expected: 9, actual: 2, reason: 'patch precondition' },
      { collection: 'acct', id: 'missing', expected: null, actual: 0, reason: 'delete of a missing object' },
      { collection: 'acct', id: 'a', expected: 0, actual: 3, reason: 'create precondition' },
    ]);

    expect(await latestSeq(fx.app, USER)).toBe(before);
    expect(await read('acct/b')).toEqual({ status: 200, etag: '"2"', data: { balance: 20 } });
    expect((await read('acct/c')).status).toBe(404);
    expect(await read('acct/a')).toEqual({ status: 200, etag: '"3"', data: { balance: 11 } });
  });

  it('lists only real conflicts, not operations that fail only because an earlier one was skipped', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/a`, { balance: 10 }));
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/a`, { balance: 11 }));
    const response = await tx({
      reads: [{ collection: 'acct', id: 'a', rev: 1 }],
      ops: [
        { op: 'create', collection: 'acct', id: 'fresh', data: { balance: 0 } },
        { op: 'patch', collection: 'acct', id: 'fresh', patch: { note: 'opened' } },
      ],
    });
    expect(expectProblem(response, 'transaction_conflict', 409).conflicts).toEqual([
      { collection: 'acct', id: 'a', expected: 1, actual: 2, reason: 'read set changed' },
    ]);
  });

  it('rolls back the operations that preceded a conflicting one', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/b`, { balance: 20 }));
    const response = await tx({
      ops: [
        { op: 'put', collection: 'acct', id: 'b', data: { balance: 0 } },
        { op: 'create', collection: 'acct', data: { fresh: true } },
        { op: 'delete', collection: 'acct', id: 'b', ifRev: 7 },
      ],
    });
    expect(expectProblem(response, 'transaction_conflict', 409).conflicts).toEqual([
      { collection: 'acct', id: 'b', expected: 7, actual: 1, reason: 'delete precondition' },
    ]);
    expect(await latestSeq(fx.app, USER)).toBe(1);
    expect(await read('acct/b')).toEqual({ status: 200, etag: '"1"', data: { balance: 20 } });
    const listing = body<{ items: unknown[] }>(await fx.app.inject({ method: 'GET', url: `${U}/acct` }));
    expect(listing.items).toHaveLength(1);
  });

  it('checks ifRev against the committed rev, also for an object an earlier op of the same transaction wrote', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/acct/b`, { balance: 20 }));
    const response = await tx({
      ops: [
        { op: 'put', collection: 'acct', id: 'b', data: { balance: 0 } },
        { op: 'patch', collection: 'acct', id: 'b', patch: { note: 'x' }, ifRev: 1 },
      ],
    });
    expect(response.statusCode).toBe(200);
    expect(await read('acct/b')).toEqual({ status: 200, etag: '"2"', data: { balance: 0, note: 'x' } });
  });

  it('lets exactly one of two concurrent read-modify-write increments commit; the other gets 409', async () => {
    await fx.app.inject(jsonRequest('PUT', `${U}/counters/hits`, { n: 41 }));
    const seen = await fx.app.inject({ method: 'GET', url: `${U}/counters/hits` });
    const rev = Number(JSON.parse(seen.headers.etag as string));
    const n = body<{ n: number }>(seen).n;
    const increment = () =>
      tx({
        reads: [{ collection: 'counters', id: 'hits', rev }],
        ops: [{ op: 'put', collection: 'counters', id: 'hits', data: { n: n + 1 } }],
      });

    const outcomes = await Promise.all([increment(), increment()]);
    expect(outcomes.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const loser = outcomes.find((r) => r.statusCode === 409)!;
    expect(expectProblem(loser, 'transaction_conflict').conflicts).toEqual([
      { collection: 'counters', id: 'hits', expected: rev, actual: rev + 1, reason: 'read set changed' },
    ]);
    expect((await read('counters/hits')).data).toEqual({ n: 42 });

    // The loser retries from a fresh read and wins.
    const retry = await tx({
      reads: [{ collection: 'counters', id: 'hits', rev: rev + 1 }],
      ops: [{ op: 'put', collection: 'counters', id: 'hits', data: { n: 43 } }],
    });
    expect(retry.statusCode).toBe(200);
  });

  it('treats a read-set rev of 0 as "was absent" and conflicts once the object appears', async () => {
    const absent = { reads: [{ collection: 'flags', id: 'f', rev: 0 }], ops: [{ op: 'put', collection: 'other', id: 'o', data: {} }] };
    expect((await tx(absent)).statusCode).toBe(200);
    await fx.app.inject(jsonRequest('PUT', `${U}/flags/f`, { on: true }));
    expect(expectProblem(await tx(absent), 'transaction_conflict').conflicts).toEqual([
      { collection: 'flags', id: 'f', expected: 0, actual: 2, reason: 'read set changed' },
    ]);
  });

  it('names what is wrong with an operation for its own op, and applies nothing', async () => {
    const cases: [op: Record<string, unknown>, detail: RegExp][] = [
      [{ op: 'patch', collection: 'c', id: 'a', patch: { x: 1 }, ifRev: '1' }, /ops\/0\/ifRev must be integer/],
      [{ op: 'delete', collection: 'c', id: 'a', data: {} }, /ops\/0 must NOT have additional properties/],
      [{ op: 'create', collection: 'c' }, /ops\/0 must have required property 'data'/],
      [{ op: 'drop', collection: 'c', id: 'a' }, /ops\/0 value of tag "op" must be in oneOf/],
    ];
    for (const [op, detail] of cases) {
      const problem = expectProblem(await tx({ ops: [op] }), 'invalid_transaction', 400);
      expect(problem.detail, JSON.stringify(op)).toMatch(detail);
    }
    expect(await latestSeq(fx.app, USER)).toBe(0);
  });
});
