import { describe, expect, it } from 'vitest';
import type { ChaosReport } from '../../system/chaos/chaos-run.js';
import { formatSummary } from '../../system/chaos/chaos-summary.js';
import { OperationTally } from '../../system/chaos/operation-tally.js';

function report(ok: boolean): ChaosReport {
  const tally = new OperationTally();
  tally.countOperation('write', 'ok');
  tally.countOperation('write', 'info');
  tally.countOperation('increment', 'fail');
  tally.countResponse('write', '200');
  tally.countResponse('write', 'timeout');
  tally.countResponse('increment', '409 transaction_conflict');
  return {
    ok,
    seed: 7,
    seconds: 30,
    users: 200,
    clients: 16,
    elapsedMs: 41_234,
    tally,
    faults: [
      { kind: 'kill', worker: 'w2', at: 3000, durationMs: 20 },
      { kind: 'add', worker: 'w4', at: 8000, durationMs: 900 },
      { kind: 'remove', worker: 'w1', at: 15_000, durationMs: 3100 },
    ],
    faultCounts: { kill: 1, pause: 0, add: 1, remove: 1 },
    checks: [
      { name: 'counters', ok: true, detail: '1 increment', problems: [] },
      { name: 'linearizability', ok, detail: 'verdict', problems: ok ? [] : ['key "u1": not linearizable\n  #3 read'] },
    ],
    ...(ok ? {} : { evidenceDir: '/tmp/pinbase-chaos-x' }),
  };
}

describe('formatSummary', () => {
  it('prints operations by type and outcome, responses, faults, each check and the verdict', () => {
    const text = formatSummary(report(true));
    expect(text).toContain('seed 7, 30 s of workload, 16 clients, 200 users; 41.2 s in all');
    expect(text).toContain('\n  write            1       0       1       2\n');
    expect(text).toContain('\n  all              1       1       1       3\n');
    expect(text).toContain('responses (3 requests): 200: 1, timeout: 1, 409 transaction_conflict: 1');
    expect(text).toContain('faults: 1 kill -9, 0 SIGSTOP/SIGCONT, 1 added (w4), 1 removed (w1)');
    expect(text).toContain('  ok     counters: 1 increment');
    expect(text.endsWith('verdict: PASS')).toBe(true);
  });

  it('shows a failed check with its problems, indented, and where the evidence is', () => {
    const text = formatSummary(report(false));
    expect(text).toContain('  FAILED linearizability: verdict\n         key "u1": not linearizable\n           #3 read');
    expect(text).toContain('verdict: FAIL; evidence kept in /tmp/pinbase-chaos-x');
  });
});
