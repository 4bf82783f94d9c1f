import { resolve } from 'node:path';
import { parseWorkerAuth, WORKER_AUTH_FLAGS, WORKER_AUTH_USAGE } from '../auth/auth-options.js';
import { parseCorsOrigins } from '../http/cors.js';
import { WORKER_ID_PATTERN } from '../ids/id-patterns.js';
import { DAY_MS, WORKER_DEFAULTS, defaultMaxOpen, type WorkerConfig } from '../worker/worker-config.js';
import { CliError, durationOption, integerOption, parseCommandArgs } from './command.js';
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, parseLogLevel } from './log-level.js';
import { LOG_FORMATS, parseLogFormat } from './log-output.js';

export const usage = `Usage: pinbase worker --id ID --port PORT --data DIR [options]

Serves the object API for the users it owns, one SQLite file per user.

Required:
  --id ID                 worker id, as in the topology file (${WORKER_ID_PATTERN.source})
  -p, --port PORT         port to listen on
  -d, --data DIR          data directory (shared storage in a cluster)

Options:
  -t, --topology FILE     cluster topology (JSON); without it the worker owns every user.
                          Reloaded on change and on SIGHUP.
  --host HOST             address to listen on (default ${WORKER_DEFAULTS.host})
  --durability MODE       pipelined (default): ack after the WAL fsync, run off the event loop
                          inline: SQLite synchronous=FULL, fsync inside COMMIT
                          normal: SQLite synchronous=NORMAL; power loss may lose the last commits
  --max-open N            partitions open at once (default from the fd limit: ${defaultMaxOpen()} here)
  --idle-close DURATION   close a partition unused this long (default 60s)
  --retention DURATION    keep superseded versions this long (default 7d)
  --idempotency-ttl DUR   keep Idempotency-Key records this long (default 24h, at least 24h)
  --prune-interval DUR    prune a partition at most this often (default 10m)
  --body-limit BYTES      largest request body (default ${WORKER_DEFAULTS.bodyLimit})
  --max-in-flight N       requests served at once before 503 (default ${WORKER_DEFAULTS.maxInFlight}); live streams not counted
  --max-streams N         live change streams (SSE) open at once before 503 (default ${WORKER_DEFAULTS.maxStreams})
  --max-streams-per-user N  live change streams one user may hold before 429 (default ${WORKER_DEFAULTS.maxStreamsPerUser})
  --max-user-bytes BYTES  quota: largest a user's data may grow before writes get 507 quota_exceeded
                          (default ${WORKER_DEFAULTS.maxUserBytes}, 1 GiB; 0: no quota); reads and deletes still work
  --object-cache BYTES    recently read objects kept in memory, worker-wide (default ${WORKER_DEFAULTS.objectCacheBytes},
                          32 MiB; 0: none); a commit drops its user's entries, so reads never see stale data
  --request-timeout DUR   a request's headers and body must arrive within this, else 408 (default 30s)
  --headers-timeout DUR   a request's headers must arrive within this, else 408 (default 10s, at most --request-timeout)
  --lease-wait DURATION   how long to wait for a user's lease held elsewhere before 503 (default 2500ms)
  --socket-auth-timeout DUR  how long a change-feed WebSocket opened without an Authorization header
                          has to send its {"type":"auth"} message before it is closed 4408 (default 5s)
  --commit-delay DURATION how long a group commit waits for more writes to join (default 0: the next
                          turn of the event loop); more trades latency for larger batches
  -l, --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default ${DEFAULT_LOG_LEVEL})
  --log-format FORMAT     ${LOG_FORMATS.join(', ')}: JSON lines, or readable ones (auto: readable on a terminal)
  --log-requests          log every request (method, path, status, ms) at info, but for /healthz,
                          /readyz and /metrics answers below 400; off by default

${WORKER_AUTH_USAGE}
  --allow-unsafe-storage  start even if --data is on storage that can break the single-writer
                          guarantees (GlusterFS or NFS without the required options, or a
                          file system not known to be local); logs a warning instead of exiting
  --cors-origin ORIGIN    let browser apps on ORIGIN call the API (CORS; repeatable or comma-separated;
                          * = any origin); none: no CORS headers

Durations: 500ms, 30s, 15m, 24h, 7d.`;

export const OPTIONS = {
  id: { type: 'string' },
  port: { type: 'string', short: 'p' },
  data: { type: 'string', short: 'd' },
  topology: { type: 'string', short: 't' },
  host: { type: 'string' },
  durability: { type: 'string' },
  'max-open': { type: 'string' },
  'idle-close': { type: 'string' },
  'socket-auth-timeout': { type: 'string' },
  retention: { type: 'string' },
  'idempotency-ttl': { type: 'string' },
  'prune-interval': { type: 'string' },
  'body-limit': { type: 'string' },
  'max-in-flight': { type: 'string' },
  'max-streams': { type: 'string' },
  'max-streams-per-user': { type: 'string' },
  'max-user-bytes': { type: 'string' },
  'object-cache': { type: 'string' },
  'lease-wait': { type: 'string' },
  'request-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'commit-delay': { type: 'string' },
  'log-level': { type: 'string', short: 'l' },
  'log-format': { type: 'string' },
  'log-requests': { type: 'boolean' },
  ...WORKER_AUTH_FLAGS,
  'cors-origin': { type: 'string', multiple: true },
  'allow-unsafe-storage': { type: 'boolean' },
} as const;

/** Parses and validates `pinbase worker` arguments; a bad one is a one-line CliError. */
export function parseWorkerArgs(argv: string[]): WorkerConfig {
  const values = parseCommandArgs(argv, OPTIONS);
  const { id, data } = values;
  if (id === undefined || !WORKER_ID_PATTERN.test(id)) throw new CliError(`--id is required and must match ${WORKER_ID_PATTERN.source}`);
  if (values.port === undefined) throw new CliError('--port is required');
  if (data === undefined) throw new CliError('--data is required');
  const durability = values.durability ?? WORKER_DEFAULTS.durability;
  if (durability !== 'pipelined' && durability !== 'inline' && durability !== 'normal') {
    throw new CliError(`--durability must be pipelined, inline or normal, got "${durability}"`);
  }
  const logLevel = parseLogLevel(values['log-level']);
  const host = values.host ?? WORKER_DEFAULTS.host;
  const bodyLimit = integerOption(values['body-limit'], 'body-limit', WORKER_DEFAULTS.bodyLimit, 1024, 64 * 1024 * 1024);
  const requestTimeoutMs = durationOption(values['request-timeout'], 'request-timeout', WORKER_DEFAULTS.requestTimeoutMs, 100);
  const headersTimeoutMs = durationOption(values['headers-timeout'], 'headers-timeout', Math.min(WORKER_DEFAULTS.headersTimeoutMs, requestTimeoutMs), 100);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new CliError(`--headers-timeout (${headersTimeoutMs} ms) must not be longer than --request-timeout (${requestTimeoutMs} ms)`);
  }
  return {
    id,
    host,
    port: integerOption(values.port, 'port', 0, 0, 65535),
    dataDir: resolve(data),
    topologyFile: values.topology === undefined ? undefined : resolve(values.topology),
    maxOpen: integerOption(values['max-open'], 'max-open', defaultMaxOpen(), 1, 1_000_000),
    idleCloseMs: durationOption(values['idle-close'], 'idle-close', WORKER_DEFAULTS.idleCloseMs, 100),
    durability,
    retentionMs: durationOption(values.retention, 'retention', WORKER_DEFAULTS.retentionMs, 0),
    idempotencyTtlMs: durationOption(values['idempotency-ttl'], 'idempotency-ttl', WORKER_DEFAULTS.idempotencyTtlMs, DAY_MS),
    pruneIntervalMs: durationOption(values['prune-interval'], 'prune-interval', WORKER_DEFAULTS.pruneIntervalMs, 1000),
    bodyLimit,
    maxTransactionBytes: WORKER_DEFAULTS.transactionBytesPerBodyLimit * bodyLimit,
    maxPageBytes: WORKER_DEFAULTS.maxPageBytes,
    maxUserBytes: integerOption(values['max-user-bytes'], 'max-user-bytes', WORKER_DEFAULTS.maxUserBytes, 0, Number.MAX_SAFE_INTEGER),
    maxInFlight: integerOption(values['max-in-flight'], 'max-in-flight', WORKER_DEFAULTS.maxInFlight, 1, 1_000_000),
    maxStreams: integerOption(values['max-streams'], 'max-streams', WORKER_DEFAULTS.maxStreams, 1, 1_000_000),
    maxStreamsPerUser: integerOption(values['max-streams-per-user'], 'max-streams-per-user', WORKER_DEFAULTS.maxStreamsPerUser, 1, 1_000_000),
    maxPendingWrites: WORKER_DEFAULTS.maxPendingWrites,
    requestTimeoutMs,
    headersTimeoutMs,
    commitDelayMs: durationOption(values['commit-delay'], 'commit-delay', WORKER_DEFAULTS.commitDelayMs, 0),
    leaseWaitMs: durationOption(values['lease-wait'], 'lease-wait', WORKER_DEFAULTS.leaseWaitMs, 0),
    socketAuthTimeoutMs: durationOption(values['socket-auth-timeout'], 'socket-auth-timeout', WORKER_DEFAULTS.socketAuthTimeoutMs, 100),
    cacheKiB: WORKER_DEFAULTS.cacheKiB,
    objectCacheBytes: integerOption(values['object-cache'], 'object-cache', WORKER_DEFAULTS.objectCacheBytes, 0, 64 * 1024 * 1024 * 1024),
    auth: parseWorkerAuth(values, host),
    corsOrigins: parseCorsOrigins(values['cors-origin'] ?? []),
    allowUnsafeStorage: values['allow-unsafe-storage'] === true,
    logLevel,
    logFormat: parseLogFormat(values['log-format']),
    logRequests: values['log-requests'] === true,
  };
}

export async function run(argv: string[]): Promise<void> {
  const config = parseWorkerArgs(argv);
  const { startWorker } = await import('../worker/worker-server.js');
  await startWorker(config);
}
