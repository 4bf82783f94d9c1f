import { NO_AUTH, type AuthOptions } from '../services/auth/auth-options.js';

/**
 * The router's configuration, parsed once at start-up (see
 * services/cli/router-command.ts) and passed down as one value.
 */
export interface RouterOptions {
  /** Listen address; the cluster listens on loopback unless told otherwise. */
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly topologyPath: string;
  /** How often the topology file is polled for changes, in ms. */
  readonly topologyPollMs: number;
  /** Largest request body accepted, in bytes (413 beyond); imports have their own limit. */
  readonly bodyLimitBytes: number;
  /**
   * Largest tenant import (`POST /api/users/<id>/_import`) body, in bytes
   * (413 import_too_large beyond, counted as it streams). Imports are
   * streamed to the worker, never buffered or re-sent.
   */
  readonly maxImportBytes: number;
  /** How long the worker may take to answer an import, its upload included, in ms (504 beyond). */
  readonly importTimeoutMs: number;
  /** In-flight requests per worker before the router answers 503 overloaded. */
  readonly maxInFlightPerWorker: number;
  /** In-flight requests per user before the router answers 429. */
  readonly maxInFlightPerUser: number;
  /** Open event streams per worker before the router answers 503 overloaded (streams hold no request slot). */
  readonly maxStreamsPerWorker: number;
  /** Open event streams per user before the router answers 429 too_many_streams. */
  readonly maxStreamsPerUser: number;
  /** Open event streams per client address (IPv6: per /64) before the router answers 429 too_many_streams. */
  readonly maxStreamsPerClient: number;
  /** Active health probe of GET /readyz: interval, timeout, and fall/rise counts. */
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  /** Upstream time limits in ms: connect, first response byte, idle gap in a (non-SSE) body. */
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** Client connections this process holds at most (503 overloaded beyond; see connection-gate.ts). */
  readonly maxConnections: number;
  /** Client connections per client address (IPv6: per /64) at most (429 too_many_connections beyond). */
  readonly maxConnectionsPerClient: number;
  /** Time limits on clients, in ms: a whole request (headers and body), its headers, an idle keep-alive connection. */
  readonly clientRequestTimeoutMs: number;
  readonly clientHeadersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Attempts per request, the first included (retries only where safe). */
  readonly maxAttempts: number;
  /** Distinct user ids remembered per process for the users-per-worker figures. */
  readonly trackedUsers: number;
  /** The admin token (required by the admin endpoints; undefined leaves them open) and the hint key. */
  readonly auth: AuthOptions;
  /**
   * Origins of browser apps (`--cors-origin`, as the workers'): the router's
   * own problem answers to their requests carry CORS headers, so that a page
   * can read them. Preflights and every other answer come from the workers.
   */
  readonly corsOrigins: readonly string[];
}

export const DEFAULT_ROUTER_OPTIONS: RouterOptions = {
  host: '127.0.0.1',
  port: 8080,
  topologyPath: '',
  topologyPollMs: 500,
  bodyLimitBytes: 1024 * 1024,
  maxImportBytes: 1024 * 1024 * 1024,
  importTimeoutMs: 3_600_000,
  maxInFlightPerWorker: 1024,
  maxInFlightPerUser: 64,
  maxStreamsPerWorker: 4096,
  maxStreamsPerUser: 16,
  maxStreamsPerClient: 64,
  probeIntervalMs: 500,
  probeTimeoutMs: 1000,
  fall: 2,
  rise: 2,
  connectTimeoutMs: 1000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 120_000,
  maxConnections: 10_000,
  maxConnectionsPerClient: 256,
  clientRequestTimeoutMs: 30_000,
  clientHeadersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxAttempts: 3,
  trackedUsers: 100_000,
  auth: NO_AUTH,
  corsOrigins: [],
};

export function routerOptions(overrides: Partial<RouterOptions> & { topologyPath: string }): RouterOptions {
  return { ...DEFAULT_ROUTER_OPTIONS, ...overrides };
}
