/**
 * Worker health: active probes of `GET /readyz` plus passive reports from
 * the data path.
 *
 * - Probes run at a fixed rate per worker (a slow probe does not delay the
 *   next one), each bounded by a timeout. `fall` consecutive failures take a
 *   live worker down; `rise` consecutive successes bring it back.
 * - A worker that is new (router start, or added by a topology reload) is
 *   "not probed yet" (not routable) until its first good probe, and that
 *   probe must report a topology version at least the router's: users move
 *   to it only once it answers and agrees on who owns what (else it would
 *   answer 421). Its first round ends with that good probe, or with `fall`
 *   consecutive failed ones (a version behind the router's counts as one);
 *   one failed probe is not enough to call a worker down at start, when it
 *   may still be starting (see firstRound).
 * - Passive: a refused connection takes the worker down at once; other
 *   connection errors trigger an immediate probe.
 */
import { Agent, request } from 'undici';
import type { WorkerEntry } from '../services/topology/topology.js';

export interface HealthOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
}

export interface WorkerHealth {
  readonly id: string;
  readonly url: string;
  readonly up: boolean;
  /** Epoch ms of the last transition (or of when the worker was first seen). */
  readonly since: number;
  /** Why it is down, or the last probe's failure. */
  readonly reason: string | undefined;
  /** The topology version the worker reported in its last /readyz answer. */
  readonly topologyVersion: number | undefined;
  /** The load the worker reported in its last good /readyz answer; undefined before one. */
  readonly load: WorkerLoad | undefined;
}

/** What a worker's /readyz answer says about its load (read by the dashboard's history, at no extra request). */
export interface WorkerLoad {
  readonly openPartitions: number;
  readonly liveStreams: number;
}

interface ProbeState {
  id: string;
  url: string;
  up: boolean;
  joining: boolean;
  since: number;
  reason: string | undefined;
  topologyVersion: number | undefined;
  load: WorkerLoad | undefined;
  successes: number;
  failures: number;
  timer: NodeJS.Timeout | undefined;
  probed: Promise<void>;
  resolveProbed: () => void;
}

export class HealthMonitor {
  private readonly states = new Map<string, ProbeState>();
  private readonly agent: Agent;
  private closed = false;
  /** The router's topology version: a joining worker must report at least this one. */
  private topologyVersion = 0;

  /** `onTransition` is called after every change of a worker's `up`. */
  constructor(
    private readonly options: HealthOptions,
    private readonly onTransition: (health: WorkerHealth) => void,
  ) {
    this.agent = new Agent({ connect: { timeout: options.timeoutMs }, keepAliveTimeout: 10_000, connections: 2 });
  }

  /** Starts probing workers that are new, stops probing removed ones. Idempotent. */
  setWorkers(workers: readonly WorkerEntry[], topologyVersion: number): void {
    this.topologyVersion = topologyVersion;
    const keep = new Set<string>();
    for (const worker of workers) {
      const key = `${worker.id} ${worker.url}`;
      keep.add(key);
      if (!this.states.has(key)) this.states.set(key, this.newState(worker));
    }
    for (const [key, state] of this.states) {
      if (keep.has(key)) continue;
      clearTimeout(state.timer);
      state.resolveProbed();
      this.states.delete(key);
    }
  }

  /** The current health of every watched worker. */
  snapshot(): WorkerHealth[] {
    return [...this.states.values()].map(publicHealth);
  }

  get(id: string): WorkerHealth | undefined {
    const state = this.find(id);
    return state && publicHealth(state);
  }

  /**
   * Resolves once every current worker's first round has ended: it is up,
   * or `fall` consecutive probes failed. Bounded: at most
   * (fall - 1) × interval + timeout after the worker was first seen.
   */
  async firstRound(): Promise<void> {
    await Promise.all([...this.states.values()].map((state) => state.probed));
  }

  /** Passive detection: nothing is listening at the worker's address. */
  markDown(id: string, reason: string): void {
    const state = this.find(id);
    if (state === undefined) return;
    state.successes = 0;
    state.failures = Math.max(state.failures, this.options.fall);
    this.transition(state, false, reason);
    state.resolveProbed();
  }

  /** Passive suspicion (a connection broke): probe now rather than at the next tick. */
  probeNow(id: string): void {
    const state = this.find(id);
    if (state !== undefined) void this.probe(state);
  }

  close(): void {
    this.closed = true;
    for (const state of this.states.values()) {
      clearTimeout(state.timer);
      state.resolveProbed();
    }
    this.states.clear();
    void this.agent.close();
  }

  private find(id: string): ProbeState | undefined {
    for (const state of this.states.values()) if (state.id === id) return state;
    return undefined;
  }

  private newState(worker: WorkerEntry): ProbeState {
    let resolveProbed!: () => void;
    const probed = new Promise<void>((resolve) => (resolveProbed = resolve));
    const state: ProbeState = {
      id: worker.id,
      url: worker.url,
      up: false,
      joining: true,
      since: Date.now(),
      reason: 'not probed yet',
      topologyVersion: undefined,
      load: undefined,
      successes: 0,
      failures: 0,
      timer: undefined,
      probed,
      resolveProbed,
    };
    const tick = () => {
      if (this.closed || !this.states.has(`${state.id} ${state.url}`)) return;
      state.timer = setTimeout(tick, this.options.intervalMs).unref();
      void this.probe(state);
    };
    queueMicrotask(tick);
    return state;
  }

  private async probe(state: ProbeState): Promise<void> {
    let failure: string | undefined;
    let readiness: Readiness = {};
    try {
      const response = await request(`${state.url}/readyz`, {
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      const text = await response.body.text();
      if (response.statusCode === 200) readiness = readinessIn(text);
      else failure = `/readyz answered ${response.statusCode}`;
    } catch (error) {
      failure = probeFailure(error);
    }
    if (this.closed) return;
    if (failure === undefined) {
      state.load = readiness.load;
      this.succeeded(state, readiness.topologyVersion);
    }
    else this.failed(state, failure);
    if (state.up || state.failures >= this.options.fall) state.resolveProbed();
  }

  private succeeded(state: ProbeState, version: number | undefined): void {
    state.topologyVersion = version;
    if (!state.up && state.joining && version !== undefined && version < this.topologyVersion) {
      this.failed(state, `worker is on topology version ${version}, the router on ${this.topologyVersion}`);
      return;
    }
    state.failures = 0;
    state.successes++;
    if (state.up) return;
    if (state.joining || state.successes >= this.options.rise) this.transition(state, true, undefined);
  }

  private failed(state: ProbeState, reason: string): void {
    state.successes = 0;
    state.failures++;
    if (state.up) {
      if (state.failures >= this.options.fall) this.transition(state, false, reason);
    } else {
      state.reason = reason;
    }
  }

  private transition(state: ProbeState, up: boolean, reason: string | undefined): void {
    state.joining = false;
    state.reason = reason;
    if (state.up === up) return;
    state.up = up;
    state.since = Date.now();
    this.onTransition(publicHealth(state));
  }
}

function publicHealth(state: ProbeState): WorkerHealth {
  const { id, url, up, since, reason, topologyVersion, load } = state;
  return { id, url, up, since, reason, topologyVersion, load };
}

interface Readiness {
  readonly topologyVersion?: number;
  readonly load?: WorkerLoad;
}

/** The fields of a /readyz answer the router reads; what is missing or not a number is left out. */
function readinessIn(text: string): Readiness {
  try {
    const body = JSON.parse(text) as { topologyVersion?: unknown; openPartitions?: unknown; liveStreams?: unknown };
    const { topologyVersion, openPartitions, liveStreams } = body;
    return {
      ...(typeof topologyVersion === 'number' ? { topologyVersion } : {}),
      ...(typeof openPartitions === 'number' && typeof liveStreams === 'number' ? { load: { openPartitions, liveStreams } } : {}),
    };
  } catch {
    return {};
  }
}

function probeFailure(error: unknown): string {
  const err = error as { code?: string; name?: string; message?: string };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'probe timed out';
  return err.code ?? err.message ?? String(error);
}
