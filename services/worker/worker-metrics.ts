import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ObjectCache } from '../partition/object-cache.js';
import type { CloseReason, PoolEvents } from '../partition/partition-pool.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The worker's Prometheus metrics, in a registry of its own (served at /metrics). */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly inFlight: Gauge;
  private readonly commits: Counter;
  private readonly batches: Histogram;
  private readonly commitSeconds: Histogram;
  private readonly leaseEvents: Counter<'event'>;
  private readonly opens: Histogram;
  private readonly closes: Counter<'reason'>;
  /** Per (method, route, status): the labelled children, so that a request does not hash its labels (prom-client does on every call). */
  private readonly requestSeries = new Map<string, { count: Counter.Internal; latency: Histogram.Internal<'method' | 'route'> }>();

  constructor(gauges: { openPartitions: () => number; liveStreams: () => number; objectCache: () => ObjectCache; turnWaits: () => number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'pinbase_' });
    this.requests = new Counter({
      name: 'pinbase_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'pinbase_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({ name: 'pinbase_http_in_flight_requests', help: 'Requests being served', registers });
    new Gauge({
      name: 'pinbase_open_partitions',
      help: 'User partitions open (lease held) on this worker',
      registers,
      collect() {
        this.set(gauges.openPartitions());
      },
    });
    new Gauge({
      name: 'pinbase_live_change_streams',
      help: 'Open SSE change streams',
      registers,
      collect() {
        this.set(gauges.liveStreams());
      },
    });
    new Gauge({
      name: 'pinbase_object_cache_bytes',
      help: 'Bytes of current object versions kept in memory (the object cache, --object-cache)',
      registers,
      collect() {
        this.set(gauges.objectCache().size);
      },
    });
    new Counter({
      name: 'pinbase_object_cache_hits_total',
      help: 'Reads of an object answered from the object cache',
      registers,
      collect() {
        this.reset();
        this.inc(gauges.objectCache().hits);
      },
    });
    new Counter({
      name: 'pinbase_object_cache_misses_total',
      help: 'Reads of an object that went to the user\'s SQLite file',
      registers,
      collect() {
        this.reset();
        this.inc(gauges.objectCache().misses);
      },
    });
    new Counter({
      name: 'pinbase_turn_waits_total',
      help: 'Reads and queued writes that waited for a later turn of the event loop: their user had spent its share of the turn (FairTurns)',
      registers,
      collect() {
        this.reset();
        this.inc(gauges.turnWaits());
      },
    });
    this.commits = new Counter({ name: 'pinbase_commits_total', help: 'Group-commit batches committed', registers });
    this.batches = new Histogram({
      name: 'pinbase_group_commit_batch_size',
      help: 'Writes per group-commit batch (one SQLite transaction)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'pinbase_commit_duration_seconds',
      help: 'Time to apply and commit one batch (before the WAL fsync)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.leaseEvents = new Counter({
      name: 'pinbase_lease_events_total',
      help: 'Partition lease events: acquired, released, busy (held elsewhere), lost',
      labelNames: ['event'],
      registers,
    });
    this.opens = new Histogram({
      name: 'pinbase_partition_open_duration_seconds',
      help: 'Time to open a partition (lease + SQLite open)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.closes = new Counter({
      name: 'pinbase_partition_closes_total',
      help: 'Partitions closed, by reason',
      labelNames: ['reason'],
      registers,
    });
  }

  /** Counts one answered request (pinbase_http_requests_total) and its latency. Methods, routes and statuses are finite sets. */
  countRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let series = this.requestSeries.get(key);
    if (series === undefined) {
      series = { count: this.requests.labels(method, route, String(status)), latency: this.latency.labels(method, route) };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    series.latency.observe(seconds);
  }

  /** Pool events feeding these metrics; `log` receives the ones worth a log line. */
  poolEvents(log: (level: 'warn' | 'debug', message: string, fields: Record<string, unknown>) => void): PoolEvents {
    return {
      opened: (_userId, seconds) => this.opens.observe(seconds),
      closed: (_userId: string, reason: CloseReason) => this.closes.inc({ reason }),
      lease: (event, userId, detail) => {
        this.leaseEvents.inc({ event });
        // A lost lease is worth a warning; a busy one is routine (every user moved by a drain or a handover).
        if (event === 'lost') log('warn', 'lease lost', { userId, detail });
        else if (event === 'busy') log('debug', 'lease busy: asked its holder to hand the user over', { userId, holder: detail });
      },
      batch: (size, seconds) => {
        this.commits.inc();
        this.batches.observe(size);
        this.commitSeconds.observe(seconds);
      },
    };
  }
}
