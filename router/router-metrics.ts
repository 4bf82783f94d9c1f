/**
 * The router's Prometheus metrics, on a registry of their own (not
 * prom-client's global one). Per-worker children are bound once per worker
 * so the data path records a request without hashing label sets.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.js';
import { isRoutable, type RouterState } from './router-state.js';

/** Why a request failed or was refused at the router: the `kind` label of pinbase_router_errors_total. */
export type RouterErrorKind =
  | 'refused'
  | 'connection'
  | 'timeout'
  | 'invalid_path'
  | 'invalid_user_id'
  | 'invalid_header'
  | 'body_too_large'
  | 'no_worker'
  | 'overloaded'
  | 'too_many_requests'
  | 'too_many_streams'
  | 'misdirected'
  | 'client_aborted'
  | 'upgrade_not_supported';

/**
 * What became of a WebSocket upgrade request: the `outcome` label of
 * pinbase_router_upgrades_total (upgrade-path.ts).
 * - `proxied`: the worker switched protocols; the router pipes the bytes;
 * - `answered`: the worker answered without upgrading (a refusal); passed on;
 * - `refused`: the router refused it before any worker saw it;
 * - `failed`: the worker could not be reached, or did not answer in time;
 * - `cut`: a proxied socket the router closed because its worker left the
 *   topology, died, or no longer owns the user.
 */
export type UpgradeOutcome = 'proxied' | 'answered' | 'refused' | 'failed' | 'cut';

export type RetryReason = 'refused' | 'connection' | 'misdirected';

/** A metrics page in Prometheus text format, with its content type. */
export interface MetricsText {
  readonly contentType: string;
  readonly text: string;
}

export class RouterMetrics {
  readonly registry = new Registry();
  readonly upstreamSeconds = new LatencyHistogram({
    name: 'pinbase_router_upstream_response_seconds',
    help: 'Time from sending a request to a worker to its response headers, per worker',
    registers: [this.registry],
  });
  /** Per-worker response counts by status class (index status / 100), read at scrape time (set by the data path). */
  responsesReader: () => Iterable<[string, Float64Array]> = () => [];
  readonly responses: Counter<'worker' | 'class'> = new Counter({
    name: 'pinbase_router_responses_total',
    help: 'Responses forwarded from each worker, by status class',
    labelNames: ['worker', 'class'] as const,
    registers: [this.registry],
    collect: () => {
      this.responses.reset();
      for (const [worker, byClass] of this.responsesReader()) {
        byClass.forEach((count, i) => {
          if (i > 0 && count > 0) this.responses.inc({ worker, class: `${i}xx` }, count);
        });
      }
    },
  });
  readonly retries = new Counter({
    name: 'pinbase_router_retries_total',
    help: 'Requests re-sent by the router, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'pinbase_router_errors_total',
    help: 'Requests the router refused or could not complete, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly upgrades = new Counter<'outcome'>({
    name: 'pinbase_router_upgrades_total',
    help: 'WebSocket upgrade requests, by outcome (proxied, answered, refused, failed, cut)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly healthTransitions = new Counter({
    name: 'pinbase_router_health_transitions_total',
    help: 'Worker health transitions seen by the router',
    labelNames: ['worker', 'to'] as const,
    registers: [this.registry],
  });
  readonly workerUp = new Gauge({
    name: 'pinbase_router_worker_routable',
    help: '1 when the worker receives users (up and not drained), else 0',
    labelNames: ['worker'] as const,
    registers: [this.registry],
    aggregator: 'max',
  });
  readonly topologyVersion = new Gauge({
    name: 'pinbase_router_topology_version',
    help: 'Version of the topology file in use',
    registers: [this.registry],
    aggregator: 'max',
  });
  /** Per-worker in-flight counts, read at scrape time (set by the data path). */
  inFlightReader: () => Iterable<[string, number]> = () => [];
  readonly inFlight: Gauge<'worker'> = new Gauge({
    name: 'pinbase_router_in_flight_requests',
    help: 'Requests in flight to each worker',
    labelNames: ['worker'] as const,
    registers: [this.registry],
    collect: () => {
      this.inFlight.reset();
      for (const [worker, count] of this.inFlightReader()) this.inFlight.set({ worker }, count);
    },
  });

  /** Per-worker open stream counts, read at scrape time (set by the data path). */
  streamsReader: () => Iterable<[string, number]> = () => [];
  readonly streams: Gauge<'worker'> = new Gauge({
    name: 'pinbase_router_open_streams',
    help: 'Event streams open to each worker',
    labelNames: ['worker'] as const,
    registers: [this.registry],
    collect: () => {
      this.streams.reset();
      for (const [worker, count] of this.streamsReader()) this.streams.set({ worker }, count);
    },
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'pinbase_router_' });
  }

  /** Control-plane gauges: only the process that owns the control state sets them. */
  setControlState(state: RouterState): void {
    this.topologyVersion.set(state.version);
    this.workerUp.reset();
    for (const worker of state.workers) this.workerUp.set({ worker: worker.id }, isRoutable(worker) ? 1 : 0);
  }
}
