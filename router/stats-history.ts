/**
 * A few minutes of per-worker history for the dashboard (`GET /_router/stats`):
 * every STATS_INTERVAL_MS the process that owns the control state (the only
 * process, or the primary of a multi-process router) gathers the cumulative
 * counters of every router process, merges their increases since the
 * previous sample, and keeps one sample per interval in a ring:
 * request rate, 4xx and 5xx rates, p50/p99 upstream latency (interpolated
 * from the histogram buckets' increases over the interval), requests in
 * flight, streams through the router, and the open partitions and live
 * streams each worker reported in its last health probe (no extra request).
 *
 * Memory bound: STATS_CAPACITY samples (10 minutes at 2 s), each one small
 * object per worker (about 150 bytes): ~45 KB per worker in the topology;
 * the merge keeps one entry per (router process, worker) pair. A report
 * reads at most STATS_CAPACITY × workers samples.
 */
import type { WorkerLoad } from './health-monitor.js';
import { LATENCY_BUCKETS } from './latency-histogram.js';
import { isRoutable, type RouterState } from './router-state.js';
import type { ProcessCounters } from './status-report.js';

export const STATS_INTERVAL_MS = 2000;
/** Samples kept: 10 minutes at STATS_INTERVAL_MS. */
export const STATS_CAPACITY = 300;
/** The window a report covers when none is asked for. */
export const DEFAULT_STATS_WINDOW_MS = 5 * 60_000;
/** A (process, worker) pair not seen for this long is forgotten by the merge. */
const FORGET_AFTER_MS = 60_000;

/**
 * The `q`-quantile (0..1) of the observations counted per latency bucket
 * (LATENCY_BUCKETS, then +Inf), in seconds, interpolated linearly inside
 * its bucket as Prometheus's histogram_quantile does; a quantile that falls
 * in the +Inf bucket is the highest finite bound. Undefined without observations.
 */
export function bucketQuantile(counts: ArrayLike<number>, q: number): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total <= 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (count > 0 && below + count >= rank) {
      if (i >= LATENCY_BUCKETS.length) return LATENCY_BUCKETS.at(-1)!;
      const lower = i === 0 ? 0 : LATENCY_BUCKETS[i - 1]!;
      const upper = LATENCY_BUCKETS[i]!;
      return lower + ((upper - lower) * Math.max(0, rank - below)) / count;
    }
    below += count;
  }
  return LATENCY_BUCKETS.at(-1)!;
}

/** One worker's increase over an interval, summed over every router process. */
export interface WorkerDelta {
  readonly responses: number[];
  readonly latency: number[];
  /** Gauges: summed as they are now. */
  inFlight: number;
  streams: number;
}

interface Previous {
  responses: readonly number[];
  latency: readonly number[];
  seenAt: number;
}

/**
 * Turns the cumulative counters of several router processes into their
 * summed increase per worker since the previous call. Each (process,
 * worker) pair is diffed against its own previous value, so a process that
 * restarts (its counters back at 0) or a worker that leaves and rejoins
 * counts from zero rather than as a negative rate.
 */
export class CounterDeltas {
  private readonly previous = new Map<string, Previous>();

  take(processes: readonly ProcessCounters[], now: number): Map<string, WorkerDelta> {
    const deltas = new Map<string, WorkerDelta>();
    for (const process of processes) {
      for (const counters of process.workers) {
        const key = `${process.pid} ${counters.id}`;
        const before = this.previous.get(key);
        const reset = before !== undefined && (lessSomewhere(counters.responses, before.responses) || lessSomewhere(counters.latency, before.latency));
        const base = before === undefined || reset ? undefined : before;
        let delta = deltas.get(counters.id);
        if (delta === undefined) {
          delta = { responses: new Array<number>(counters.responses.length).fill(0), latency: new Array<number>(counters.latency.length).fill(0), inFlight: 0, streams: 0 };
          deltas.set(counters.id, delta);
        }
        addDifference(delta.responses, counters.responses, base?.responses);
        addDifference(delta.latency, counters.latency, base?.latency);
        delta.inFlight += counters.inFlight;
        delta.streams += counters.streams;
        this.previous.set(key, { responses: counters.responses, latency: counters.latency, seenAt: now });
      }
    }
    for (const [key, entry] of this.previous) if (now - entry.seenAt > FORGET_AFTER_MS) this.previous.delete(key);
    return deltas;
  }
}

function lessSomewhere(now: readonly number[], before: readonly number[]): boolean {
  return now.some((value, i) => value < (before[i] ?? 0));
}

function addDifference(into: number[], now: readonly number[], before: readonly number[] | undefined): void {
  for (let i = 0; i < into.length; i++) into[i]! += (now[i] ?? 0) - (before?.[i] ?? 0);
}

/** One worker in one sample. Rates per second; latencies in ms; null: nothing to say (no request, no probe). */
interface WorkerSample {
  readonly id: string;
  readonly requestRate: number;
  readonly errorRate4xx: number;
  readonly errorRate5xx: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly inFlight: number;
  readonly streams: number;
  readonly openPartitions: number | null;
  readonly liveStreams: number | null;
}

interface Sample {
  readonly at: number;
  readonly workers: readonly WorkerSample[];
}

export type ClusterHealthState = 'ok' | 'degraded' | 'down';

export interface ClusterHealth {
  /** ok: every worker routable; degraded: some down or drained; down: no routable worker. */
  readonly state: ClusterHealthState;
  readonly workers: number;
  readonly routable: number;
  readonly down: readonly string[];
  readonly drained: readonly string[];
}

/** One worker's series, aligned with StatsReport.times (null where the worker was absent or had nothing to report). */
export interface WorkerSeries {
  readonly id: string;
  readonly url: string;
  readonly health: 'up' | 'down';
  readonly drained: boolean;
  readonly routable: boolean;
  readonly requestRate: readonly (number | null)[];
  readonly errorRate4xx: readonly (number | null)[];
  readonly errorRate5xx: readonly (number | null)[];
  readonly p50Ms: readonly (number | null)[];
  readonly p99Ms: readonly (number | null)[];
  readonly inFlight: readonly (number | null)[];
  readonly streams: readonly (number | null)[];
  readonly openPartitions: readonly (number | null)[];
  readonly liveStreams: readonly (number | null)[];
}

/** The JSON of `GET /_router/stats`. */
export interface StatsReport {
  readonly intervalMs: number;
  readonly windowMs: number;
  /** How far back the router keeps samples. */
  readonly historyMs: number;
  readonly cluster: ClusterHealth;
  /** Epoch ms at which each sample was taken, oldest first. */
  readonly times: readonly number[];
  /** The workers of the current topology, in its order. */
  readonly workers: readonly WorkerSeries[];
}

type SeriesName = Exclude<keyof WorkerSeries, 'id' | 'url' | 'health' | 'drained' | 'routable'>;
const SERIES: readonly SeriesName[] = ['requestRate', 'errorRate4xx', 'errorRate5xx', 'p50Ms', 'p99Ms', 'inFlight', 'streams', 'openPartitions', 'liveStreams'];

export function clusterHealth(state: RouterState): ClusterHealth {
  const routable = state.workers.filter(isRoutable).length;
  return {
    state: routable === 0 ? 'down' : routable === state.workers.length ? 'ok' : 'degraded',
    workers: state.workers.length,
    routable,
    down: state.workers.filter((w) => !w.up).map((w) => w.id),
    drained: state.workers.filter((w) => w.drained).map((w) => w.id),
  };
}

/** The ring of samples (at most `capacity`) and the merge that feeds it. */
export class StatsHistory {
  private readonly ring: (Sample | undefined)[];
  private next = 0;
  private lastAt: number | undefined;
  private readonly deltas = new CounterDeltas();

  constructor(
    readonly intervalMs = STATS_INTERVAL_MS,
    readonly capacity = STATS_CAPACITY,
  ) {
    this.ring = new Array<Sample | undefined>(capacity);
  }

  /** Samples held now (at most `capacity`). */
  get size(): number {
    return this.ring.reduce((n, sample) => n + (sample === undefined ? 0 : 1), 0);
  }

  /**
   * Records one sample from every process's cumulative counters at `now`.
   * The first call only takes the baseline (no interval to divide by yet).
   */
  record(state: RouterState, processes: readonly ProcessCounters[], load: (id: string) => WorkerLoad | undefined, now = Date.now()): void {
    const deltas = this.deltas.take(processes, now);
    const since = this.lastAt;
    this.lastAt = now;
    if (since === undefined || now <= since) return;
    const seconds = (now - since) / 1000;
    const workers = state.workers.map((worker): WorkerSample => {
      const delta = deltas.get(worker.id);
      const responses = delta?.responses ?? [];
      const total = responses.reduce((sum, n) => sum + n, 0);
      const p50 = delta && bucketQuantile(delta.latency, 0.5);
      const p99 = delta && bucketQuantile(delta.latency, 0.99);
      const reported = worker.up ? load(worker.id) : undefined;
      return {
        id: worker.id,
        requestRate: rate(total, seconds),
        errorRate4xx: rate(responses[4] ?? 0, seconds),
        errorRate5xx: rate(responses[5] ?? 0, seconds),
        p50Ms: p50 === undefined ? null : milliseconds(p50),
        p99Ms: p99 === undefined ? null : milliseconds(p99),
        inFlight: delta?.inFlight ?? 0,
        streams: delta?.streams ?? 0,
        openPartitions: reported?.openPartitions ?? null,
        liveStreams: reported?.liveStreams ?? null,
      };
    });
    this.ring[this.next] = { at: now, workers };
    this.next = (this.next + 1) % this.capacity;
  }

  /** The samples of the last `windowMs` (bounded by what is kept), one series per worker of `state`. */
  report(state: RouterState, windowMs: number, now = Date.now()): StatsReport {
    const samples: Sample[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const sample = this.ring[(this.next + i) % this.capacity];
      if (sample !== undefined && sample.at > now - windowMs) samples.push(sample);
    }
    const byId = samples.map((sample) => new Map(sample.workers.map((w) => [w.id, w])));
    const workers = state.workers.map((worker): WorkerSeries => {
      const series = Object.fromEntries(SERIES.map((name) => [name, [] as (number | null)[]])) as Record<SeriesName, (number | null)[]>;
      for (const sampleWorkers of byId) {
        const found = sampleWorkers.get(worker.id);
        for (const name of SERIES) series[name].push(found === undefined ? null : found[name]);
      }
      return { id: worker.id, url: worker.url, health: worker.up ? 'up' : 'down', drained: worker.drained, routable: isRoutable(worker), ...series };
    });
    return {
      intervalMs: this.intervalMs,
      windowMs,
      historyMs: this.intervalMs * this.capacity,
      cluster: clusterHealth(state),
      times: samples.map((s) => s.at),
      workers,
    };
  }
}

function rate(count: number, seconds: number): number {
  return Math.round((count / seconds) * 100) / 100;
}

function milliseconds(seconds: number): number {
  return Math.round(seconds * 1e6) / 1000;
}

/**
 * The `window` query of /_router/stats: a duration with its unit (`90s`,
 * `5m`, `500ms`) from 1 s up to the history kept; default 5 minutes.
 * Undefined when malformed or out of range.
 */
export function parseStatsWindow(text: string | undefined, historyMs = STATS_INTERVAL_MS * STATS_CAPACITY): number | undefined {
  if (text === undefined) return Math.min(DEFAULT_STATS_WINDOW_MS, historyMs);
  const match = /^(\d{1,7})(ms|s|m)$/.exec(text);
  if (match === null) return undefined;
  const ms = Number(match[1]) * (match[2] === 'm' ? 60_000 : match[2] === 's' ? 1000 : 1);
  return ms >= 1000 && ms <= historyMs ? ms : undefined;
}

/** What a sampler gathers at each tick. */
export interface SampleSource {
  readonly state: RouterState;
  readonly processes: readonly ProcessCounters[];
  readonly load: (id: string) => WorkerLoad | undefined;
}

/**
 * Feeds a StatsHistory every `intervalMs` from `collect` (one gather of
 * every process's counters; a tick is skipped while the previous gather
 * still runs). Its timer does not keep the process alive.
 */
export class StatsSampler {
  private readonly timer: NodeJS.Timeout;
  private busy = false;

  constructor(
    readonly history: StatsHistory,
    private readonly collect: () => Promise<SampleSource> | SampleSource,
  ) {
    this.timer = setInterval(() => void this.tick(), history.intervalMs).unref();
    void this.tick();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { state, processes, load } = await this.collect();
      this.history.record(state, processes, load);
    } catch {
      // A gather that failed leaves a gap in the history; the next tick tries again.
    } finally {
      this.busy = false;
    }
  }
}
