import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_LIMITS } from '../../support/test-store.js';
import { body, expectProblem, jsonRequest, latestSeq, startHttpFixture, type HttpFixture } from './http-harness.js';

const QUOTA = 1024 * 1024;
const U = '/api/users/hoarder';
const doc = (tag: string) => ({ tag, pad: 'x'.repeat(100_000) });

let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture({
    store: {
      limits: { ...TEST_LIMITS, maxUserBytes: QUOTA },
      retention: { retentionMs: 0, idempotencyTtlMs: 0, pruneIntervalMs: 60_000, maxRowsPerBatch: 1000 },
    },
  });
});
afterEach(async () => {
  await fx.close();
});

/** Writes 100 KB documents until one is refused; returns how many were stored. */
async function fillUp(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const response = await fx.app.inject(jsonRequest('PUT', `${U}/c/o${i}`, doc(`o${i}`)));
    if (response.statusCode === 507) {
      const problem = expectProblem(response, 'quota_exceeded', 507);
      expect(problem).toMatchObject({ retryable: false, maxBytes: QUOTA });
      expect(response.headers['retry-after']).toBeUndefined();
      return i;
    }
    expect(response.statusCode).toBe(201);
  }
  throw new Error('the quota was never reached');
}

describe('the per-user quota (--max-user-bytes)', () => {
  it('refuses a write beyond it with 507 quota_exceeded and applies nothing', async () => {
    const stored = await fillUp();
    expect(stored).toBeGreaterThanOrEqual(7);
    expect(stored).toBeLessThanOrEqual(10);
    const seq = await latestSeq(fx.app, 'hoarder');
    expectProblem(await fx.app.inject(jsonRequest('PUT', `${U}/c/more`, doc('more'))), 'quota_exceeded', 507);
    expectProblem(await fx.app.inject(jsonRequest('POST', `${U}/c`, doc('more'))), 'quota_exceeded', 507);
    expectProblem(await fx.app.inject(jsonRequest('PATCH', `${U}/c/o0`, { more: 'y'.repeat(100_000) })), 'quota_exceeded', 507);
    const tx = { ops: [{ op: 'delete', collection: 'c', id: 'o1' }, { op: 'put', collection: 'c', id: 'more', data: doc('more') }] };
    expectProblem(await fx.app.inject(jsonRequest('POST', `${U}/_tx`, tx)), 'quota_exceeded', 507);
    expect(await latestSeq(fx.app, 'hoarder')).toBe(seq);
    expect((await fx.app.inject({ method: 'GET', url: `${U}/c/more` })).statusCode).toBe(404);
    expect((await fx.app.inject({ method: 'GET', url: `${U}/c/o1` })).statusCode).toBe(200);
  });

  it('keeps reads and deletes working over the quota, and gives room back once deleted versions are pruned', async () => {
    const stored = await fillUp();
    expect(body<{ tag: string }>(await fx.app.inject({ method: 'GET', url: `${U}/c/o0` })).tag).toBe('o0');
    expect((await fx.app.inject({ method: 'GET', url: `${U}/c?limit=100` })).statusCode).toBe(200);
    expect((await fx.app.inject({ method: 'DELETE', url: `${U}/c/o0` })).statusCode).toBe(200);
    const deletes = Array.from({ length: stored - 1 }, (_, i) => ({ op: 'delete', collection: 'c', id: `o${i + 1}` }));
    expect((await fx.app.inject(jsonRequest('POST', `${U}/_tx`, { ops: deletes }))).statusCode).toBe(200);
    // Deleted versions take their room until the pruner drops them (here at once: retention 0).
    await fx.store.prune(Date.now() + 120_000);
    expect((await fx.app.inject(jsonRequest('PUT', `${U}/c/again`, doc('again')))).statusCode).toBe(201);
  });
});
