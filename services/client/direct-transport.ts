/**
 * Direct routing (Node only; the browser path never loads this module):
 * each request goes straight to the worker that owns its user, over one
 * kept-alive undici Pool per worker, with the owner computed by the very
 * placement function the router and the workers use (services/topology/
 * placement.ts, imported). The topology comes from the router
 * (`GET /api/users/:id/_topology`, with the user's own token).
 *
 * Staying right when the cluster changes:
 * - 421 (the worker does not own the user): refresh the topology, then the
 *   retry (retrying-exchange.ts) goes to the new owner;
 * - a response whose X-Pinbase-Topology is newer than the one held: refresh
 *   in the background;
 * - a worker that refuses or drops the connection: the request is sent
 *   through the router at once (it knows handoffs and the next owner; a
 *   write carries its Idempotency-Key, so this applies it at most once),
 *   the worker is suspect (its users go through the router) until the next
 *   topology arrives, and a refresh starts;
 * - workers the router lists as down go through the router too.
 * Refreshes are single-flight: one topology request at a time.
 *
 * Bounds: at most `connectionsPerWorker` sockets per worker and as many to
 * the router; a topology document of at most 1 MiB is read.
 */
import { Pool } from 'undici';
import type { Topology } from '../http/api-types.js';
import { Placement } from '../topology/placement.js';
import { PinbaseError } from './pinbase-error.js';
import type { ExchangeRequest, ExchangeResponse, Transport } from './transport.js';

export interface DirectTransportOptions {
  routerUrl: string;
  token: ((userId: string) => string | Promise<string>) | undefined;
  /** Headers and body timeouts of one attempt (ms). */
  attemptTimeoutMs: number;
  /** Sockets per worker (default 16). */
  connectionsPerWorker?: number | undefined;
}

/** The topology document (GET /api/users/:id/_topology through the router). */
export type TopologyDocument = Topology;

const MAX_TOPOLOGY_CHARS = 1024 * 1024;

/** Where one worker is reached, for one topology version. */
interface WorkerRoute {
  readonly id: string;
  readonly pool: Pool;
  /** Down at the router, or refused a connection since this topology arrived: its users go through the router. */
  bypass: boolean;
}

interface HeldTopology {
  readonly version: number;
  readonly placement: Placement;
  /** Indexed like placement.workerIds. */
  readonly routes: readonly WorkerRoute[];
}

/** One answer from undici, as a transport answer. */
class UndiciResponse implements ExchangeResponse {
  constructor(
    readonly status: number,
    private readonly headers: Record<string, string | string[] | undefined>,
    readonly body: string,
  ) {}

  header(name: string): string | undefined {
    const value = this.headers[name];
    return Array.isArray(value) ? value[0] : value;
  }
}

export class DirectTransport implements Transport {
  private topology: HeldTopology | undefined;
  private refreshing: Promise<HeldTopology> | undefined;
  /** Pools by worker URL: kept across topology versions while the URL stays. */
  private readonly pools = new Map<string, Pool>();
  private readonly router: Pool;

  constructor(private readonly options: DirectTransportOptions) {
    this.router = this.newPool(options.routerUrl);
  }

  async send(request: ExchangeRequest, signal: AbortSignal | undefined, _timeoutMs: number): Promise<ExchangeResponse> {
    const topology = this.topology ?? (await this.refresh(request));
    const route = topology.routes[topology.placement.ownerIndex(request.userId)];
    if (route === undefined || route.bypass) return this.exchange(this.router, request, signal);
    let response: UndiciResponse;
    try {
      response = await this.exchange(route.pool, request, signal, true);
    } catch (error) {
      if (!(error instanceof ConnectionFailure)) throw error;
      // The worker is gone or going: its users go through the router until the topology says otherwise.
      route.bypass = true;
      void this.refresh(request).catch(() => undefined);
      return this.exchange(this.router, request, signal);
    }
    if (response.status === 421) await this.refresh(request).catch(() => undefined);
    else {
      const announced = response.header('x-pinbase-topology');
      if (announced !== undefined && Number(announced) > topology.version) void this.refresh(request).catch(() => undefined);
    }
    return response;
  }

  async close(): Promise<void> {
    await Promise.all([this.router.close(), ...[...this.pools.values()].map((pool) => pool.close())]);
  }

  /**
   * Fetches the topology through the router as `request`'s user, with its
   * token (the topology is the same for every user), and installs it. Single-flight: concurrent
   * callers share one request. Rejects with the router's PinbaseError or a
   * network error; the held topology stays then.
   */
  refresh(request: ExchangeRequest): Promise<HeldTopology> {
    this.refreshing ??= this.fetchTopology(request.userId, request.headers.authorization)
      .then((doc) => this.install(doc))
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** The topology version held (undefined before the first request). */
  get topologyVersion(): number | undefined {
    return this.topology?.version;
  }

  private async fetchTopology(userId: string, authorization: string | undefined): Promise<TopologyDocument> {
    const request: ExchangeRequest = {
      method: 'GET',
      userId,
      path: `/api/users/${encodeURIComponent(userId)}/_topology`,
      headers: authorization === undefined ? {} : { authorization },
      body: undefined,
    };
    const response = await this.exchange(this.router, request, undefined);
    if (response.status !== 200) throw PinbaseError.fromResponse(response.status, response.body);
    if (response.body.length > MAX_TOPOLOGY_CHARS) throw PinbaseError.client('invalid_response', 'the topology document is too large', undefined, false);
    return parseTopology(response.body);
  }

  private install(doc: TopologyDocument): HeldTopology {
    const down = new Set(doc.down);
    const urls = new Set(doc.workers.map((w) => w.url));
    for (const [url, pool] of this.pools) {
      if (!urls.has(url)) {
        this.pools.delete(url);
        void pool.close().catch(() => undefined);
      }
    }
    const routes = doc.workers.map((w) => {
      let pool = this.pools.get(w.url);
      if (pool === undefined) this.pools.set(w.url, (pool = this.newPool(w.url)));
      return { id: w.id, pool, bypass: down.has(w.id) };
    });
    const topology = { version: doc.version, placement: new Placement(doc.workers.map((w) => w.id)), routes };
    if (this.topology === undefined || topology.version >= this.topology.version) this.topology = topology;
    return this.topology;
  }

  private newPool(url: string): Pool {
    const { attemptTimeoutMs, connectionsPerWorker } = this.options;
    return new Pool(url, {
      connections: connectionsPerWorker ?? 16,
      pipelining: 1,
      headersTimeout: attemptTimeoutMs,
      bodyTimeout: attemptTimeoutMs,
      connectTimeout: Math.min(attemptTimeoutMs, 5000),
    });
  }

  /**
   * One request on `pool`. A connection that fails before any answer is a
   * ConnectionFailure when `direct` (the caller falls back to the router),
   * else a retryable network_error; a timeout is a retryable `timeout`.
   */
  private async exchange(pool: Pool, request: ExchangeRequest, signal: AbortSignal | undefined, direct = false): Promise<UndiciResponse> {
    try {
      const { statusCode, headers, body } = await pool.request({
        path: request.path,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
      });
      return new UndiciResponse(statusCode, headers, await body.text());
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const code = (error as { code?: string }).code ?? '';
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw PinbaseError.client('timeout', `no answer within ${this.options.attemptTimeoutMs} ms`, error);
      }
      if (direct) throw new ConnectionFailure(error);
      throw PinbaseError.client('network_error', `the router did not answer: ${String((error as Error).message)}`, error);
    }
  }
}

/** A worker's connection failed before it answered (refused, reset, closed). */
class ConnectionFailure extends Error {
  constructor(cause: unknown) {
    super('connection to the worker failed', { cause });
  }
}

/** The topology document, checked: a malformed one is PinbaseError `invalid_response` (the held topology stays). */
export function parseTopology(text: string): TopologyDocument {
  const invalid = (why: string) => PinbaseError.client('invalid_response', `the topology document is invalid: ${why}`, undefined, false);
  let doc: Partial<TopologyDocument>;
  try {
    doc = JSON.parse(text) as Partial<TopologyDocument>;
  } catch (error) {
    throw invalid(String(error));
  }
  if (typeof doc !== 'object' || doc === null) throw invalid('not an object');
  if (!Number.isSafeInteger(doc.version)) throw invalid('no integer version');
  if (!Array.isArray(doc.workers) || doc.workers.some((w) => typeof w?.id !== 'string' || typeof w.url !== 'string' || !/^https?:\/\//.test(w.url))) {
    throw invalid('workers must be [{id, url}] with http(s) URLs');
  }
  const down = Array.isArray(doc.down) ? doc.down.filter((id): id is string => typeof id === 'string') : [];
  return { version: doc.version!, workers: doc.workers, down };
}
