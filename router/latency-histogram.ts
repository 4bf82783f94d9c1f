/**
 * Per-worker upstream latency as a Prometheus histogram, recorded with a
 * bucket search and three additions per request (prom-client's labelled
 * observe() validates and hashes the labels on every call, which showed in
 * the router's profile). It registers on a prom-client Registry as a custom
 * metric: get() renders the cumulative buckets at scrape time.
 */
import type { Registry } from 'prom-client';

/** Upper bounds (seconds) of the finite buckets; a last slot counts what is above 10 s. */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class WorkerLatency {
  /** counts[i]: observations in (LATENCY_BUCKETS[i-1], LATENCY_BUCKETS[i]]; the last slot is +Inf. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export class LatencyHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly workers = new Map<string, WorkerLatency>();

  constructor(options: { name: string; help: string; registers: Registry[] }) {
    this.name = options.name;
    this.help = options.help;
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /** The recorder for one worker; the same object for the same id. */
  forWorker(id: string): WorkerLatency {
    let latency = this.workers.get(id);
    if (latency === undefined) {
      latency = new WorkerLatency();
      this.workers.set(id, latency);
    }
    return latency;
  }

  reset(): void {
    this.workers.clear();
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const [worker, latency] of this.workers) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += latency.counts[i]!;
        values.push({ value: cumulative, labels: { le, worker }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: latency.count, labels: { le: '+Inf', worker }, metricName: `${this.name}_bucket` });
      values.push({ value: latency.sum, labels: { worker }, metricName: `${this.name}_sum` });
      values.push({ value: latency.count, labels: { worker }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
