/**
 * The short chaos run in `npm test` (about 37 s in all): router + 3 workers,
 * 16 clients over 200 users, kill -9 / SIGSTOP / add / remove faults, then
 * the linearizability, counter, lease and integrity checks (chaos-run.ts).
 * CHAOS_SEED=<n> replays a run's choices; the long run is `npm run chaos`.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from './chaos-run.js';
import { formatSummary } from './chaos-summary.js';

const seed = process.env.CHAOS_SEED === undefined ? undefined : Number(process.env.CHAOS_SEED);

describe('chaos: the invariants hold under kill -9, SIGSTOP and membership changes', () => {
  it('keeps registers linearizable, applies every increment once, leaves no lease and no corruption', { timeout: 120_000 }, async () => {
    const report = await runChaos({ seconds: 30, seed });
    const summary = formatSummary(report);
    console.log(summary);
    expect(report.checks.filter((check) => !check.ok).map((check) => check.name), summary).toEqual([]);
    expect(report.ok, summary).toBe(true);
    // The run proves something only if every kind of fault happened and operations succeeded meanwhile.
    for (const kind of ['kill', 'pause', 'add', 'remove'] as const) expect(report.faultCounts[kind], `${kind} faults`).toBeGreaterThan(0);
    // A quiet 2-core machine completes ~4,500; a saturated one ~750.
    expect(report.tally.total('ok'), summary).toBeGreaterThan(500);
  });
});
