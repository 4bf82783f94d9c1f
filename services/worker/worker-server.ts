import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from '../cli/log-output.js';
import { request } from 'undici';
import { bearer } from '../auth/admin-token.js';
import { HintVerifier } from '../auth/hint-signature.js';
import { TOKEN_SAFE_LOGGING } from '../auth/token-redaction.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import { CliError } from '../cli/command.js';
import { handOverStartupSignals } from '../cli/startup-signals.js';
import { buildApp } from '../http/app.js';
import { DEFAULT_LEASE_TIMING, type OwnerRecord } from '../partition/lease.js';
import { PartitionStore } from '../partition/partition-store.js';
import { CACHE_MS, poolPartitions, TenantDirectory } from '../partition/tenant-directory.js';
import { checkStorage, describeUnsafeStorage, type StorageVerdict } from '../storage/storage-check.js';
import { TopologySource } from '../topology/topology-source.js';
import { Ownership } from './ownership.js';
import { WORKER_DEFAULTS, type WorkerConfig } from './worker-config.js';
import { WorkerMetrics } from './worker-metrics.js';

/** The paths load balancers and monitors poll (the router probes /readyz twice a second). */
const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * True for a probe that found the worker well (status below 400): the
 * request log leaves those out, or the router's probes alone would write
 * most of its lines. A probe that fails is logged like any request.
 */
export function isRoutineProbe(path: string, status: number): boolean {
  return status < 400 && PROBE_PATHS.has(path);
}

export interface RunningWorker {
  app: FastifyInstance;
  store: PartitionStore;
  url: string;
  /** Graceful stop: refuse new requests, finish in-flight ones, close partitions, release leases. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A worker process: the partition store, the HTTP app over it, and the
 * topology it owns users by. `start()` resolves once it listens.
 */
class WorkerServer {
  readonly log: Logger;
  readonly metrics: WorkerMetrics;
  readonly store: PartitionStore;
  private readonly topology: TopologySource | undefined;
  private readonly ownership: Ownership | undefined;
  private stopping: Promise<void> | undefined;
  private readonly storage: StorageVerdict;

  constructor(private readonly config: WorkerConfig) {
    this.log = createLogger(config.id, config.logLevel, config.logFormat ?? 'auto', { base: { worker: config.id }, ...TOKEN_SAFE_LOGGING });
    mkdirSync(config.dataDir, { recursive: true });
    this.storage = this.checkStorage();
    this.topology = this.watchTopology();
    this.ownership = this.topology && new Ownership(config.id, this.topology.current, hintVerifier(config.auth.clusterSecret));
    this.metrics = new WorkerMetrics({ openPartitions: () => this.store.pool.openCount, liveStreams: () => this.store.subscriberCount,
      objectCache: () => this.store.pool.objectCache,
      turnWaits: () => this.store.pool.turns.waits,
    });
    this.store = new PartitionStore({
      dataDir: config.dataDir,
      workerId: config.id,
      maxOpen: config.maxOpen,
      idleCloseMs: config.idleCloseMs,
      lease: { ...DEFAULT_LEASE_TIMING, waitMs: config.leaseWaitMs },
      database: { durability: config.durability, cacheKiB: config.cacheKiB },
      objectCacheBytes: config.objectCacheBytes,
      limits: {
        maxDocumentBytes: config.bodyLimit,
        maxTransactionBytes: config.maxTransactionBytes,
        maxPageBytes: config.maxPageBytes,
        maxUserBytes: config.maxUserBytes,
        maxPendingWrites: config.maxPendingWrites,
        commitDelayMs: config.commitDelayMs,
      },
      events: this.metrics.poolEvents((level, message, fields) => this.log[level](fields, message)),
      retention: {
        retentionMs: config.retentionMs,
        idempotencyTtlMs: config.idempotencyTtlMs,
        pruneIntervalMs: config.pruneIntervalMs,
        maxRowsPerBatch: 5000,
      },
      onPruneError: (userId, error) => this.log.warn({ userId, err: error }, 'prune failed'),
      requestHandover: (userId, holder) => this.requestHandover(userId, holder),
    });
  }

  private watchTopology(): TopologySource | undefined {
    const file = this.config.topologyFile;
    if (file === undefined) return undefined;
    let source: TopologySource;
    try {
      source = new TopologySource(file, {
        onChange: (next) => {
          this.ownership?.update(next);
          this.log.info({ version: next.version, workers: next.workers.length }, 'topology reloaded');
          this.releaseUnowned();
        },
        onReject: (message) => this.log.error(message),
      });
    } catch (error) {
      throw new CliError((error as Error).message);
    }
    if (!source.current.workers.some((w) => w.id === this.config.id)) {
      this.log.warn({ topology: file }, `worker ${this.config.id} is not in the topology: it owns no users until it is`);
    }
    return source;
  }

  /**
   * After a topology change: hand over every open partition this worker no
   * longer owns, and end the live streams of every such user, open or not
   * (a partition closed while idle keeps its streams, which would otherwise
   * wait for commits that now happen elsewhere).
   */
  private releaseUnowned(): void {
    if (!this.ownership) return;
    const users = new Set([...this.store.pool.openPartitions().map((partition) => partition.userId), ...this.store.subscribedUsers()]);
    for (const userId of users) {
      if (!this.ownership.owns(userId)) void this.store.release(userId);
    }
  }

  /**
   * Another worker holds the lease of a user this worker was sent: ask it to
   * hand the partition over (it closes it after its in-flight requests). A
   * lease held by an earlier process of this same worker id, or by a worker
   * that does not answer, is left to go stale.
   */
  private async requestHandover(userId: string, holder: OwnerRecord | undefined): Promise<void> {
    if (!holder || holder.worker === this.config.id) return;
    const url = this.ownership?.urlOf(holder.worker);
    if (url === undefined) return;
    const token = this.config.auth.adminToken;
    const response = await request(`${url}/_worker/partitions/${userId}/release`, {
      method: 'POST',
      headers: token === undefined ? {} : { authorization: bearer(token) },
      headersTimeout: 1500,
      bodyTimeout: 1500,
    });
    await response.body.dump();
  }

  /**
   * The storage check (services/storage): unsafe storage is a one-line
   * CliError (exit 2), or with --allow-unsafe-storage a warning.
   */
  private checkStorage(): StorageVerdict {
    const verdict = checkStorage(this.config.dataDir);
    if (verdict.safe) {
      if (verdict.kind === 'unchecked') this.log.warn({ storage: verdict }, verdict.reason);
      else this.log.debug({ storage: verdict }, 'storage checked');
      return verdict;
    }
    const line = describeUnsafeStorage(verdict);
    if (!this.config.allowUnsafeStorage) throw new CliError(`${line}. Mount it with the options above, or start with --allow-unsafe-storage to run anyway`);
    this.log.warn({ storage: verdict }, `${line}; starting anyway (--allow-unsafe-storage)`);
    return verdict;
  }

  async start(): Promise<RunningWorker> {
    const app = await this.buildApp();
    const { id, dataDir, durability, maxOpen } = this.config;
    try {
      // Fastify logs this line once listening: the worker's one startup line.
      const listenTextResolver = (address: string) => `worker ${id} listening at ${address} (data ${dataDir}, durability ${durability}, max open ${maxOpen})`;
      await app.listen({ host: this.config.host, port: this.config.port, listenTextResolver });
    } catch (error) {
      await this.store.close();
      this.topology?.close();
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new CliError(`cannot listen on ${this.config.host}:${this.config.port}: ${code}`);
    }
    const address = app.server.address();
    const url = `http://${this.config.host}:${typeof address === 'object' && address ? address.port : this.config.port}`;
    return { app, store: this.store, url, stop: () => this.stop(app) };
  }

  private buildApp(): Promise<FastifyInstance> {
    const { config, metrics, store } = this;
    return buildApp({
      workerId: config.id,
      store,
      heartbeatMs: 15_000,
      socketAuthTimeoutMs: config.socketAuthTimeoutMs,
      ownership: this.ownership,
      requestMetrics: {
        onRequest: () => metrics.inFlight.inc(),
        onResponse: (method, route, status, seconds, url) => {
          metrics.inFlight.dec();
          metrics.countRequest(method, route, status, seconds);
          if (config.logRequests !== true) return;
          // The path only: a query string may carry an access token (EventSource) or a user's filter.
          const path = url.split('?', 1)[0]!;
          if (isRoutineProbe(path, status)) return;
          this.log.info({ method, path, status, ms: Math.round(seconds * 1e4) / 10 }, 'request');
        },
      },
      bodyLimit: config.bodyLimit,
      maxInFlight: config.maxInFlight,
      maxStreams: config.maxStreams,
      maxStreamsPerUser: config.maxStreamsPerUser,
      timeouts: {
        requestTimeoutMs: config.requestTimeoutMs,
        headersTimeoutMs: config.headersTimeoutMs,
        keepAliveTimeoutMs: WORKER_DEFAULTS.keepAliveTimeoutMs,
        connectionTimeoutMs: WORKER_DEFAULTS.connectionTimeoutMs,
      },
      logger: this.log,
      docs: true,
      notReadyReason: () => (this.stopping ? 'worker is shutting down' : undefined),
      status: () => ({
        worker: config.id,
        pid: process.pid,
        topologyVersion: this.ownership?.topologyVersion ?? null,
        openPartitions: store.pool.openCount,
        liveStreams: store.subscriberCount,
        durability: config.durability,
      }),
      adminStatus: () => ({ storage: this.storage }),
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      releasePartition: (userId) => store.release(userId),
      tenants: new TenantDirectory(config.dataDir, CACHE_MS, poolPartitions(store.pool)),
      adminToken: config.auth.adminToken,
      tokens: config.auth.tokens && TokenVerifier.fromOptions(config.auth.tokens),
      corsOrigins: config.corsOrigins,
    });
  }

  private stop(app: FastifyInstance): Promise<void> {
    return (this.stopping ??= (async () => {
      this.log.info('stopping: finishing in-flight requests');
      this.store.endSubscriptions();
      // In-flight requests finish; their keep-alive connections are closed as
      // soon as they go idle (close() alone only closes the ones idle now).
      const sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
      await app.close();
      clearInterval(sweeper);
      await this.store.close();
      this.topology?.close();
      this.log.info('stopped: partitions closed, leases released');
    })());
  }

  reloadTopology(): void {
    this.topology?.reload();
  }
}

/** The router's hints are believed only when signed with the cluster secret; without one (dev mode), always. */
function hintVerifier(clusterSecret: string | undefined): HintVerifier | undefined {
  return clusterSecret === undefined ? undefined : new HintVerifier(clusterSecret);
}

/**
 * Starts a worker from a validated config and installs the signal handlers
 * (SIGTERM/SIGINT: graceful stop, then exit; SIGHUP: reload the topology).
 */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const server = new WorkerServer(config);
  const running = await server.start();
  const exitAfterStop = (signal: string) => {
    server.log.info({ signal }, 'signal received');
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        server.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => exitAfterStop('SIGTERM'));
  process.once('SIGINT', () => exitAfterStop('SIGINT'));
  process.on('SIGHUP', () => server.reloadTopology());
  handOverStartupSignals({ reload: () => server.reloadTopology(), stop: exitAfterStop, log: server.log });
  return running;
}
