import { describe, expect, it } from 'vitest';
import { attemptLabel, classifyAttempt, resolveOperation, type Attempt } from '../../system/chaos/attempt-outcome.js';

const answer = (status: number, code?: string, replayed = false): Attempt => ({ status, replayed, ...(code ? { code } : {}) });

describe('classifyAttempt', () => {
  it('counts a 2xx, a replay included, as applied', () => {
    expect(classifyAttempt(answer(200))).toEqual({ outcome: 'ok', retry: false });
    expect(classifyAttempt(answer(201, undefined, true))).toEqual({ outcome: 'ok', retry: false });
  });

  it('counts a conflict or a failed precondition as not applied, not worth retrying', () => {
    for (const [status, code] of [
      [409, 'transaction_conflict'],
      [412, 'precondition_failed'],
      [404, 'object_not_found'],
      [422, 'idempotency_key_reused'],
      [400, 'invalid_body'],
    ] as const) {
      expect(classifyAttempt(answer(status, code)), code).toEqual({ outcome: 'fail', retry: false });
    }
  });

  it('counts a refusal before any work as not applied, worth retrying', () => {
    for (const [status, code] of [
      [503, 'partition_busy'],
      [503, 'partition_lost'],
      [503, 'overloaded'],
      [503, 'shutting_down'],
      [503, 'no_worker_available'],
      [503, 'topology_changing'],
      [429, 'too_many_requests'],
      [421, 'misdirected_request'],
    ] as const) {
      expect(classifyAttempt(answer(status, code)), code).toEqual({ outcome: 'fail', retry: true });
    }
  });

  it('counts anything that may have been applied as unknown, worth retrying with the same key', () => {
    for (const attempt of [
      answer(502, 'upstream_failed'),
      answer(504, 'upstream_timeout'),
      answer(503, 'io_error'),
      answer(500, 'internal_error'),
      answer(507, 'insufficient_storage'),
      answer(503),
      answer(302),
      { error: 'timeout', replayed: false },
      { error: 'ECONNRESET', replayed: false },
    ]) {
      expect(classifyAttempt(attempt), attemptLabel(attempt)).toEqual({ outcome: 'info', retry: true });
    }
  });
});

describe('resolveOperation', () => {
  it('is ok once any attempt was ok: the key makes every attempt the same write', () => {
    expect(resolveOperation(['info', 'fail', 'ok'])).toBe('ok');
  });

  it('stays unknown after an unknown attempt even when a later one was refused', () => {
    expect(resolveOperation(['info', 'fail'])).toBe('info');
    expect(resolveOperation(['fail', 'info', 'fail'])).toBe('info');
  });

  it('is a failure only when every attempt failed', () => {
    expect(resolveOperation(['fail', 'fail'])).toBe('fail');
    expect(() => resolveOperation([])).toThrow(RangeError);
  });
});

describe('attemptLabel', () => {
  it('names the status and code, a replay, or the client-side error', () => {
    expect(attemptLabel(answer(412, 'precondition_failed'))).toBe('412 precondition_failed');
    expect(attemptLabel(answer(200, undefined, true))).toBe('200 replayed');
    expect(attemptLabel({ error: 'timeout', replayed: false })).toBe('timeout');
  });
});
