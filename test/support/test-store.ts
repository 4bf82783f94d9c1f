import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../../services/auth/token-verifier.js';
import { buildApp, type OwnershipCheck, type RequestMetrics } from '../../services/http/app.js';
import type { EdgeTimeouts } from '../../services/http/http-edge.js';
import { DEFAULT_LEASE_TIMING } from '../../services/partition/lease.js';
import type { PartitionLimits } from '../../services/partition/partition.js';
import type { PoolEvents } from '../../services/partition/partition-pool.js';
import { PartitionStore, type StoreOptions } from '../../services/partition/partition-store.js';
import { DAY_MS, WORKER_DEFAULTS } from '../../services/worker/worker-config.js';
import { CACHE_MS, poolPartitions, TenantDirectory } from '../../services/partition/tenant-directory.js';

/** Every pool event, recorded, for assertions. */
export class RecordedEvents implements PoolEvents {
  readonly batches: number[] = [];
  readonly leases: { event: string; userId: string }[] = [];
  readonly closes: { userId: string; reason: string }[] = [];
  opened(): void {}
  closed(userId: string, reason: string): void {
    this.closes.push({ userId, reason });
  }
  lease(event: string, userId: string): void {
    this.leases.push({ event, userId });
  }
  batch(size: number): void {
    this.batches.push(size);
  }
}

/** The partition limits of test stores: the worker's defaults for a 1 MiB body limit. */
export const TEST_LIMITS: PartitionLimits = {
  maxDocumentBytes: 1024 * 1024,
  maxTransactionBytes: 2 * 1024 * 1024,
  maxPageBytes: 4 * 1024 * 1024,
  maxUserBytes: 1024 * 1024 * 1024,
  maxPendingWrites: 1024,
  commitDelayMs: 0,
};

/** A PartitionStore on `dataDir` with test-friendly defaults; override any option. */
export function openTestStore(dataDir: string, overrides: Partial<StoreOptions> = {}): PartitionStore {
  return new PartitionStore({
    dataDir,
    workerId: 'w-test',
    maxOpen: 64,
    idleCloseMs: 60_000,
    lease: { ...DEFAULT_LEASE_TIMING, waitMs: 300 },
    database: { durability: 'pipelined', cacheKiB: 512 },
    limits: TEST_LIMITS,
    events: new RecordedEvents(),
    retention: { retentionMs: 7 * DAY_MS, idempotencyTtlMs: DAY_MS, pruneIntervalMs: 60_000, maxRowsPerBatch: 1000 },
    ...overrides,
  });
}

export interface TestApp {
  app: FastifyInstance;
  store: PartitionStore;
  close(): Promise<void>;
}

/** The worker's fastify app over a test store, for inject() tests. */
export async function buildTestApp(
  dataDir: string,
  options: {
    ownership?: OwnershipCheck;
    store?: Partial<StoreOptions>;
    bodyLimit?: number;
    maxInFlight?: number;
    maxStreams?: number;
    maxStreamsPerUser?: number;
    timeouts?: Partial<EdgeTimeouts>;
    adminToken?: string;
    /** Check users' bearer tokens (default: none, as a worker on loopback without auth). */
    tokens?: TokenVerifier;
    corsOrigins?: readonly string[];
    /** Serve /docs (default false). */
    docs?: boolean;
    /** Live feeds' heartbeat interval (default 15 s, as a worker). */
    heartbeatMs?: number;
    /** How long a change-feed WebSocket has to send its auth message (default 5 s). */
    socketAuthTimeoutMs?: number;
    /** Per-request metrics callbacks (default: none). */
    requestMetrics?: RequestMetrics;
  } = {},
): Promise<TestApp> {
  const store = openTestStore(dataDir, options.store);
  const app = await buildApp({
    workerId: 'w-test',
    store,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    ownership: options.ownership,
    requestMetrics: options.requestMetrics ?? { onRequest: () => undefined, onResponse: () => undefined },
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    maxInFlight: options.maxInFlight ?? 1000,
    maxStreams: options.maxStreams ?? 1000,
    maxStreamsPerUser: options.maxStreamsPerUser ?? 64,
    timeouts: {
      requestTimeoutMs: WORKER_DEFAULTS.requestTimeoutMs,
      headersTimeoutMs: WORKER_DEFAULTS.headersTimeoutMs,
      keepAliveTimeoutMs: WORKER_DEFAULTS.keepAliveTimeoutMs,
      connectionTimeoutMs: WORKER_DEFAULTS.connectionTimeoutMs,
      ...options.timeouts,
    },
    logger: false,
    docs: options.docs ?? false,
    notReadyReason: () => undefined,
    status: () => ({ worker: 'w-test' }),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    releasePartition: (userId) => store.release(userId),
    tenants: new TenantDirectory(dataDir, CACHE_MS, poolPartitions(store.pool)),
    adminToken: options.adminToken,
    tokens: options.tokens,
    corsOrigins: options.corsOrigins,
    socketAuthTimeoutMs: options.socketAuthTimeoutMs,
  });
  return {
    app,
    store,
    close: async () => {
      store.endSubscriptions();
      await app.close();
      await store.close();
    },
  };
}
