import { describe, expect, it } from 'vitest';
import { compareCounter, replayVerdict, type CounterVersion } from '../../system/chaos/counter-check.js';
import type { IncrementRecord } from '../../system/chaos/workload.js';

function increment(key: string, status: IncrementRecord['status'] = 'ok'): IncrementRecord {
  return {
    id: 0,
    clientId: 0,
    user: 'u1',
    key,
    path: '/api/users/u1/_tx',
    body: '{}',
    readValue: 0,
    readRev: 0,
    status,
    call: 0,
    return: 1,
    attempts: [status === 'ok' ? '200' : status === 'fail' ? '503 partition_busy' : 'timeout'],
  };
}
const byKey = (...records: IncrementRecord[]) => new Map(records.map((r) => [r.key, r]));
/** Versions n = 1, 2, ... written by `keys`, in rev order. */
const versions = (...keys: string[]): CounterVersion[] =>
  keys.map((key, i) => ({ rev: 10 * (i + 1), deleted: false, data: { n: i + 1, by: key } }));

describe('compareCounter', () => {
  const [a, b, c] = [increment('a'), increment('b'), increment('c', 'info')];

  it('accepts a counter that equals its applied increments, each once, in order', () => {
    expect(compareCounter('u1', 3, versions('a', 'b', 'c'), byKey(a, b, c), byKey(a, b, c))).toEqual([]);
    expect(compareCounter('u1', 0, [], new Map(), new Map())).toEqual([]);
  });

  it('reports an increment applied twice', () => {
    const problems = compareCounter('u1', 3, versions('a', 'b', 'a'), byKey(a, b), byKey(a, b));
    expect(problems).toContain('u1: the counter is 3, but 2 distinct increments were applied');
    expect(problems).toContain('u1: increment a was applied 2 times');
  });

  it('reports a lost acknowledged increment', () => {
    const problems = compareCounter('u1', 1, versions('a'), byKey(a, b), byKey(a, b));
    expect(problems).toContain('u1: the counter is 1, but 2 distinct increments were applied');
    expect(problems.some((p) => p.startsWith('u1: increment b (ok, 200) is missing from the history: lost'))).toBe(true);
  });

  it('reports an increment that was applied although its outcome was recorded as failed', () => {
    const refused = increment('d', 'fail');
    const problems = compareCounter('u1', 2, versions('a', 'd'), byKey(a), byKey(a, refused));
    expect(problems).toContain('u1: increment d was applied, but its outcome was recorded as fail (503 partition_busy)');
  });

  it('reports values that skip or repeat, and a value that disagrees with the last version', () => {
    const skipping: CounterVersion[] = [
      { rev: 1, deleted: false, data: { n: 1, by: 'a' } },
      { rev: 2, deleted: false, data: { n: 3, by: 'b' } },
    ];
    expect(compareCounter('u1', 2, skipping, byKey(a, b), byKey(a, b))).toEqual([
      'u1: version rev 2 has n = 3, expected 2',
      'u1: the counter reads 2, its last version says 3',
    ]);
  });
});

describe('replayVerdict', () => {
  it('reads a replay as applied before, a fresh 2xx as applied now, a 409 as never applied', () => {
    expect(replayVerdict({ status: 200, replayed: true })).toBe('applied-before');
    expect(replayVerdict({ status: 200, replayed: false })).toBe('applied-now');
    expect(replayVerdict({ status: 409, code: 'transaction_conflict', replayed: false })).toBe('not-applied');
    expect(replayVerdict({ status: 422, code: 'idempotency_key_reused', replayed: false })).toBe('key-reused');
    expect(replayVerdict({ status: 503, code: 'partition_busy', replayed: false })).toBe('retry');
    expect(replayVerdict({ error: 'timeout', replayed: false })).toBe('retry');
  });
});
