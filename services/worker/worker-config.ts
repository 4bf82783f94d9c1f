import { AUTH_TIMEOUT_MS } from '../http/change-socket-protocol.js';
import { readFileSync } from 'node:fs';
import type { Durability } from '../partition/partition-database.js';
import { DEFAULT_OBJECT_CACHE_BYTES } from '../partition/partition-pool.js';
import type { AuthOptions } from '../auth/auth-options.js';
import type { LogLevel } from '../cli/log-level.js';
import type { LogFormat } from '../cli/log-output.js';

export interface WorkerConfig {
  id: string;
  host: string;
  port: number;
  dataDir: string;
  topologyFile: string | undefined;
  maxOpen: number;
  idleCloseMs: number;
  durability: Durability;
  retentionMs: number;
  idempotencyTtlMs: number;
  pruneIntervalMs: number;
  bodyLimit: number;
  /** Bytes of documents one transaction may load and write (WORKER_DEFAULTS.transactionBytesPerBodyLimit × bodyLimit). */
  maxTransactionBytes: number;
  /** Characters of document bodies a listing, history or change-feed page stops at. */
  maxPageBytes: number;
  /** Largest a user's data may grow, bytes (0: no quota). */
  maxUserBytes: number;
  maxInFlight: number;
  /** Live change streams (SSE) open at once on this worker (503 overloaded beyond); not counted in maxInFlight. */
  maxStreams: number;
  /** Live change streams open at once for one user (429 too_many_streams beyond). */
  maxStreamsPerUser: number;
  maxPendingWrites: number;
  /** A client's whole request (headers and body) must arrive within this (408 request_timeout). */
  requestTimeoutMs: number;
  /** A client's request headers must arrive within this (408 request_timeout). */
  headersTimeoutMs: number;
  commitDelayMs: number;
  leaseWaitMs: number;
  /** How long an upgraded change-feed WebSocket without an Authorization header has to send its auth message. */
  socketAuthTimeoutMs: number;
  cacheKiB: number;
  /** Bytes of recently read current versions kept in memory, worker-wide (--object-cache; 0: none). */
  objectCacheBytes: number;
  logLevel: LogLevel;
  /** JSON lines, or readable lines (`pretty`; `auto`: on a terminal). */
  logFormat?: LogFormat;
  /** One info line per request (method, path, status, ms); off by default (`pinbase up` turns it on). */
  logRequests?: boolean;
  /** Users' tokens, the admin token (POST /_worker/..., handover requests) and the router's hint key. */
  auth: AuthOptions;
  /** Origins browser apps may call the API from (--cors-origin); empty: no CORS headers. */
  corsOrigins: readonly string[];
  /** Start even on storage the check finds unsafe (--allow-unsafe-storage), with a warning. */
  allowUnsafeStorage?: boolean;
}

export const DAY_MS = 86_400_000;

/**
 * Default for how many partitions may be open at once: each costs three file
 * descriptors (database, WAL, our WAL sync handle) and ~200 KB, so stay well
 * under the soft RLIMIT_NOFILE, and at most 2000.
 */
export function defaultMaxOpen(): number {
  let softLimit = 1024;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const value = line?.split(/\s+/)[3];
    if (value !== undefined && /^\d+$/.test(value)) softLimit = Number(value);
  } catch {
    // Not Linux: keep the conservative default.
  }
  return Math.max(16, Math.min(2000, Math.floor((softLimit - 256) / 4)));
}

export const WORKER_DEFAULTS = {
  host: '127.0.0.1',
  idleCloseMs: 60_000,
  durability: 'pipelined' as Durability,
  retentionMs: 7 * DAY_MS,
  idempotencyTtlMs: DAY_MS,
  pruneIntervalMs: 10 * 60_000,
  bodyLimit: 1024 * 1024,
  /**
   * A transaction may touch (load, parse, serialise, write) twice the body
   * limit of documents: any one document fits, loaded and rewritten, and the
   * transaction stays within the time a PATCH of the largest document takes.
   */
  transactionBytesPerBodyLimit: 2,
  maxPageBytes: 4 * 1024 * 1024,
  maxUserBytes: 1024 * 1024 * 1024,
  maxInFlight: 4096,
  maxStreams: 4096,
  maxStreamsPerUser: 64,
  maxPendingWrites: 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  /**
   * An idle keep-alive connection is closed after this; above the router's
   * pool keep-alive (so that the router, not the worker, closes its idle
   * connections).
   */
  keepAliveTimeoutMs: 72_000,
  /** A socket with no traffic either way is closed after this (a live stream's heartbeat is 15 s). */
  connectionTimeoutMs: 120_000,
  commitDelayMs: 0,
  leaseWaitMs: 2500,
  socketAuthTimeoutMs: AUTH_TIMEOUT_MS,
  cacheKiB: 1024,
  objectCacheBytes: DEFAULT_OBJECT_CACHE_BYTES,
};
