import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, WorkerLatency } from '../../../router/latency-histogram.js';
import type { RouterState } from '../../../router/router-state.js';
import { bucketQuantile, CounterDeltas, parseStatsWindow, StatsHistory } from '../../../router/stats-history.js';
import type { ProcessCounters, WorkerCounters } from '../../../router/status-report.js';

const state: RouterState = {
  version: 1,
  retired: [],
  workers: [
    { id: 'w1', url: 'http://127.0.0.1:3601', up: true, drained: false, since: 0, reason: undefined, topologyVersion: 1 },
    { id: 'w2', url: 'http://127.0.0.1:3602', up: true, drained: false, since: 0, reason: undefined, topologyVersion: 1 },
  ],
};

/** Cumulative counters of one worker: `byClass` responses per status class, latencies observed (seconds). */
function counters(id: string, byClass: Partial<Record<2 | 4 | 5, number>>, latencies: number[] = []): WorkerCounters {
  const latency = new WorkerLatency();
  for (const seconds of latencies) latency.observe(seconds);
  const responses = [0, 0, byClass[2] ?? 0, 0, byClass[4] ?? 0, byClass[5] ?? 0];
  return { id, inFlight: 1, streams: 2, requests: responses.reduce((a, b) => a + b, 0), responses, latency: [...latency.counts] };
}

function bucketsOf(latencies: number[]): number[] {
  const latency = new WorkerLatency();
  for (const seconds of latencies) latency.observe(seconds);
  return [...latency.counts];
}

const noLoad = () => undefined;

describe('bucketQuantile', () => {
  it('interpolates inside the bucket the quantile falls in, as histogram_quantile does', () => {
    // 100 observations, all in (0.001, 0.0025]: the median is half-way through that bucket.
    const counts = bucketsOf(Array.from({ length: 100 }, () => 0.002));
    expect(bucketQuantile(counts, 0.5)).toBeCloseTo(0.001 + 0.0015 * 0.5, 9);
    // 90 fast (≤ 0.5 ms) and 10 slow (in (0.1, 0.25]): p50 in the first bucket, p99 near the top of the slow one.
    const mixed = bucketsOf([...Array.from({ length: 90 }, () => 0.0001), ...Array.from({ length: 10 }, () => 0.2)]);
    expect(bucketQuantile(mixed, 0.5)).toBeCloseTo(0.0005 * (50 / 90), 9);
    expect(bucketQuantile(mixed, 0.99)).toBeCloseTo(0.1 + 0.15 * 0.9, 9);
  });

  it('answers the highest finite bound above it, and nothing without observations', () => {
    expect(bucketQuantile(bucketsOf([30, 40]), 0.99)).toBe(LATENCY_BUCKETS.at(-1));
    expect(bucketQuantile(bucketsOf([]), 0.5)).toBeUndefined();
  });
});

describe('CounterDeltas', () => {
  it('sums the increases of every process per worker and counts a restarted process from zero', () => {
    const deltas = new CounterDeltas();
    deltas.take([{ pid: 1, workers: [counters('w1', { 2: 10 })] }, { pid: 2, workers: [counters('w1', { 2: 5, 4: 1 })] }], 0);
    const next = deltas.take(
      [
        { pid: 1, workers: [counters('w1', { 2: 16, 5: 2 })] },
        // pid 2 restarted: its counters went back down, so all it has now is new.
        { pid: 2, workers: [counters('w1', { 2: 3 })] },
        // A process the merge has not seen yet: everything it counted is new.
        { pid: 3, workers: [counters('w1', { 4: 4 })] },
      ],
      2000,
    );
    expect(next.get('w1')!.responses).toEqual([0, 0, 6 + 3, 0, 4, 2]);
    // Gauges are summed as they are now.
    expect(next.get('w1')!.inFlight).toBe(3);
    expect(next.get('w1')!.streams).toBe(6);
  });
});

describe('StatsHistory', () => {
  it('turns two gathers into per-second rates and latency quantiles per worker, with the load the probes reported', () => {
    const history = new StatsHistory(2000, 10);
    const fast = Array.from({ length: 40 }, () => 0.002);
    history.record(state, [{ pid: 1, workers: [counters('w1', { 2: 0 }), counters('w2', {})] }], noLoad, 10_000);
    const processes: ProcessCounters[] = [
      { pid: 1, workers: [counters('w1', { 2: 30, 4: 8, 5: 2 }, fast), counters('w2', {})] },
    ];
    history.record(state, processes, (id) => (id === 'w1' ? { openPartitions: 7, liveStreams: 3 } : undefined), 12_000);
    const report = history.report(state, 60_000, 12_000);
    expect(report.times).toEqual([12_000]);
    expect(report.cluster).toEqual({ state: 'ok', workers: 2, routable: 2, down: [], drained: [] });
    const [w1, w2] = report.workers;
    expect(w1).toMatchObject({ id: 'w1', requestRate: [20], errorRate4xx: [4], errorRate5xx: [1], openPartitions: [7], liveStreams: [3], streams: [2] });
    expect(w1!.p50Ms[0]).toBeCloseTo(1.75, 3);
    expect(w2).toMatchObject({ requestRate: [0], p50Ms: [null], p99Ms: [null], openPartitions: [null] });
  });

  it('keeps at most its capacity of samples, the newest, and reports only those inside the window', () => {
    const history = new StatsHistory(1000, 5);
    for (let t = 0; t <= 20_000; t += 1000) history.record(state, [{ pid: 1, workers: [counters('w1', { 2: t / 100 })] }], noLoad, t);
    expect(history.size).toBe(5);
    expect(history.report(state, 60_000, 20_000).times).toEqual([16_000, 17_000, 18_000, 19_000, 20_000]);
    const recent = history.report(state, 2500, 20_000);
    expect(recent.times).toEqual([18_000, 19_000, 20_000]);
    expect(recent.workers[0]!.requestRate).toEqual([10, 10, 10]);
    // A worker absent from a sample (added to the topology since) has nulls there.
    const grown: RouterState = { ...state, workers: [...state.workers, { ...state.workers[0]!, id: 'w3' }] };
    expect(grown.workers.map((w) => history.report(grown, 2500, 20_000).workers.find((s) => s.id === w.id)!.requestRate[0])).toEqual([10, 0, null]);
  });

  it('calls the cluster degraded with a worker down or drained, and down with none routable', () => {
    const history = new StatsHistory(1000, 5);
    const [w1, w2] = state.workers;
    const degraded = history.report({ ...state, workers: [w1!, { ...w2!, drained: true }] }, 5000);
    expect(degraded.cluster).toEqual({ state: 'degraded', workers: 2, routable: 1, down: [], drained: ['w2'] });
    const down = history.report({ ...state, workers: [{ ...w1!, up: false }, { ...w2!, drained: true }] }, 5000);
    expect(down.cluster).toMatchObject({ state: 'down', routable: 0, down: ['w1'], drained: ['w2'] });
  });
});

describe('parseStatsWindow', () => {
  it('takes a duration with its unit from 1 s to the history kept, 5 minutes by default', () => {
    expect(parseStatsWindow(undefined)).toBe(300_000);
    expect(parseStatsWindow('90s')).toBe(90_000);
    expect(parseStatsWindow('10m')).toBe(600_000);
    expect(parseStatsWindow('1500ms')).toBe(1500);
    for (const bad of ['11m', '500ms', '5', '5 m', '-1s', 'abc', '', '99999999s']) expect(parseStatsWindow(bad), bad).toBeUndefined();
  });
});
