/**
 * `pinbase router`: the path-hashing router in front of the workers, as one
 * process or (--processes N) as a node:cluster primary with N processes.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { RouterClusterPrimary } from '../../router/cluster-primary.js';
import { runRouterProcess } from '../../router/cluster-process.js';
import { DEFAULT_ROUTER_OPTIONS as D, type RouterOptions } from '../../router/router-options.js';
import { startRouter } from '../../router/router-server.js';
import { parseRouterAuth, ROUTER_AUTH_FLAGS, ROUTER_AUTH_USAGE } from '../auth/auth-options.js';
import { TopologyError } from '../topology/topology.js';
import { parseCorsOrigins } from '../http/cors.js';
import { formatDuration } from '../worker/durations.js';
import { createLogger, LOG_FORMATS, parseLogFormat, type LogFormat } from './log-output.js';
import { CliError, durationOption, integerOption, parseCommandArgs } from './command.js';
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, parseLogLevel, type LogLevel } from './log-level.js';
import { handOverStartupSignals } from './startup-signals.js';

export const usage = `Usage: pinbase router --port ${D.port} --topology FILE [options]

Routes every request for /api/users/<id>/... to the worker that owns the
user (rendezvous hashing over the live workers), with health checks, safe
retries and back-pressure. Admin: /_router/status, /_router/ (dashboard),
/metrics, /healthz, /readyz. The topology file is reloaded when it changes
and on SIGHUP; SIGTERM/SIGINT stop gracefully.

Options:
  -t, --topology FILE             topology JSON file (required)
  -p, --port P                    listen port (default ${D.port})
  --host ADDR                     listen address (default ${D.host})
  --processes N                   router processes sharing the port (default 1)
  --body-limit BYTES              largest request body (default ${D.bodyLimitBytes}); 413 beyond
  --max-import-bytes BYTES        largest tenant import (POST /api/users/<id>/_import), streamed to the
                                  worker, never buffered (default ${D.maxImportBytes}); 413 import_too_large beyond
  --import-timeout DURATION       wait for the worker's answer to an import, its upload included (default
                                  ${formatDuration(D.importTimeoutMs)}); 504 beyond. The upload is also bounded by --request-timeout
  --max-in-flight-per-worker N    default ${D.maxInFlightPerWorker}; beyond it 503 + Retry-After
  --max-in-flight-per-user N      default ${D.maxInFlightPerUser}; beyond it 429 + Retry-After
  --max-streams-per-worker N      open event streams (SSE) per worker, counted apart from the
                                  requests in flight (default ${D.maxStreamsPerWorker}); beyond it 503 overloaded
  --max-streams-per-user N        default ${D.maxStreamsPerUser}; beyond it 429 too_many_streams
  --max-streams-per-client N      per client address, IPv6 per /64 (default ${D.maxStreamsPerClient}); beyond it
                                  429 too_many_streams
  --max-connections N             client connections per router process (default ${D.maxConnections}); beyond
                                  it a connection's first request gets 503 overloaded, then it is closed
  --max-connections-per-client N  per client address, IPv6 per /64 (default ${D.maxConnectionsPerClient}); beyond it
                                  429 too_many_connections, then closed
  --request-timeout DURATION      a client's whole request, headers and body (default ${formatDuration(D.clientRequestTimeoutMs)}); 408 beyond
  --headers-timeout DURATION      a client's request headers (default ${formatDuration(D.clientHeadersTimeoutMs)}); 408 beyond
  --keep-alive-timeout DURATION   an idle client connection is closed after it (default ${formatDuration(D.keepAliveTimeoutMs)})
  --probe-interval DURATION       GET /readyz on each worker this often (default ${formatDuration(D.probeIntervalMs)})
  --probe-timeout DURATION        default ${formatDuration(D.probeTimeoutMs)}
  --fall N                        failed probes before a worker is down (default ${D.fall})
  --rise N                        good probes before it is up again (default ${D.rise})
  --connect-timeout DURATION      default ${formatDuration(D.connectTimeoutMs)}
  --upstream-timeout DURATION     wait for a worker's response headers (default ${formatDuration(D.headersTimeoutMs)}); 504 beyond
  --max-attempts N                attempts per request where a retry is safe (default ${D.maxAttempts})
  -l, --log-level LEVEL           ${LOG_LEVELS.join(', ')} (default ${DEFAULT_LOG_LEVEL})
  --log-format FORMAT             ${LOG_FORMATS.join(', ')}: JSON lines, or readable ones (auto: readable on a terminal)
  --cors-origin ORIGIN            browser apps on ORIGIN can read the router's own refusals (429, 503, 413…);
                                  give the workers the same list (repeatable or comma-separated; * = any)

${ROUTER_AUTH_USAGE}`;

export const FLAGS = {
  topology: { type: 'string', short: 't' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  processes: { type: 'string' },
  'body-limit': { type: 'string' },
  'max-import-bytes': { type: 'string' },
  'import-timeout': { type: 'string' },
  'max-in-flight-per-worker': { type: 'string' },
  'max-in-flight-per-user': { type: 'string' },
  'max-streams-per-worker': { type: 'string' },
  'max-streams-per-user': { type: 'string' },
  'max-streams-per-client': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-client': { type: 'string' },
  'request-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'probe-interval': { type: 'string' },
  'probe-timeout': { type: 'string' },
  fall: { type: 'string' },
  rise: { type: 'string' },
  'connect-timeout': { type: 'string' },
  'upstream-timeout': { type: 'string' },
  'max-attempts': { type: 'string' },
  'log-level': { type: 'string', short: 'l' },
  'log-format': { type: 'string' },
  'cors-origin': { type: 'string', multiple: true },
  ...ROUTER_AUTH_FLAGS,
} as const;

/** Parses and validates the flags; throws CliError (one line) on anything wrong. */
export function parseRouterArgs(argv: string[]): { options: RouterOptions; processes: number; logLevel: LogLevel; logFormat: LogFormat } {
  const v = parseCommandArgs(argv, FLAGS);
  if (v.topology === undefined) throw new CliError('--topology FILE is required');
  const logLevel = parseLogLevel(v['log-level']);
  const host = v.host ?? D.host;
  const options: RouterOptions = {
    ...D,
    topologyPath: v.topology,
    host,
    port: integerOption(v.port, 'port', D.port, 0, 65535),
    bodyLimitBytes: integerOption(v['body-limit'], 'body-limit', D.bodyLimitBytes, 1, 1024 ** 3),
    maxImportBytes: integerOption(v['max-import-bytes'], 'max-import-bytes', D.maxImportBytes, 1, 64 * 1024 ** 3),
    importTimeoutMs: durationOption(v['import-timeout'], 'import-timeout', D.importTimeoutMs, 100, 24 * 3_600_000),
    maxInFlightPerWorker: integerOption(v['max-in-flight-per-worker'], 'max-in-flight-per-worker', D.maxInFlightPerWorker, 1, 1_000_000),
    maxInFlightPerUser: integerOption(v['max-in-flight-per-user'], 'max-in-flight-per-user', D.maxInFlightPerUser, 1, 1_000_000),
    maxStreamsPerWorker: integerOption(v['max-streams-per-worker'], 'max-streams-per-worker', D.maxStreamsPerWorker, 1, 1_000_000),
    maxStreamsPerUser: integerOption(v['max-streams-per-user'], 'max-streams-per-user', D.maxStreamsPerUser, 1, 1_000_000),
    maxStreamsPerClient: integerOption(v['max-streams-per-client'], 'max-streams-per-client', D.maxStreamsPerClient, 1, 1_000_000),
    maxConnections: integerOption(v['max-connections'], 'max-connections', D.maxConnections, 1, 1_000_000),
    maxConnectionsPerClient: integerOption(v['max-connections-per-client'], 'max-connections-per-client', D.maxConnectionsPerClient, 1, 1_000_000),
    clientRequestTimeoutMs: durationOption(v['request-timeout'], 'request-timeout', D.clientRequestTimeoutMs, 100, 3_600_000),
    clientHeadersTimeoutMs: durationOption(v['headers-timeout'], 'headers-timeout', D.clientHeadersTimeoutMs, 100, 3_600_000),
    keepAliveTimeoutMs: durationOption(v['keep-alive-timeout'], 'keep-alive-timeout', D.keepAliveTimeoutMs, 100, 3_600_000),
    probeIntervalMs: durationOption(v['probe-interval'], 'probe-interval', D.probeIntervalMs, 50, 600_000),
    probeTimeoutMs: durationOption(v['probe-timeout'], 'probe-timeout', D.probeTimeoutMs, 10, 600_000),
    fall: integerOption(v.fall, 'fall', D.fall, 1, 100),
    rise: integerOption(v.rise, 'rise', D.rise, 1, 100),
    connectTimeoutMs: durationOption(v['connect-timeout'], 'connect-timeout', D.connectTimeoutMs, 10, 600_000),
    headersTimeoutMs: durationOption(v['upstream-timeout'], 'upstream-timeout', D.headersTimeoutMs, 10, 3_600_000),
    maxAttempts: integerOption(v['max-attempts'], 'max-attempts', D.maxAttempts, 1, 10),
    auth: parseRouterAuth(v, host),
    corsOrigins: parseCorsOrigins(v['cors-origin'] ?? []),
  };
  if (options.clientHeadersTimeoutMs > options.clientRequestTimeoutMs) {
    throw new CliError(`--headers-timeout (${options.clientHeadersTimeoutMs}) must not exceed --request-timeout (${options.clientRequestTimeoutMs})`);
  }
  const processes = integerOption(v.processes, 'processes', 1, 1, 64);
  return { options, processes, logLevel, logFormat: parseLogFormat(v['log-format']) };
}

export async function run(argv: string[]): Promise<void> {
  const { options, processes, logLevel, logFormat } = parseRouterArgs(argv);
  const log = createLogger('router', logLevel, logFormat);
  if (cluster.isWorker && process.env.PINBASE_ROUTER_PROCESS === '1') {
    await runAsClusterProcess(options, log);
    return;
  }
  try {
    if (processes > 1) await runAsClusterPrimary(options, processes, log);
    else await runAsSingleProcess(options, log);
  } catch (error) {
    if (error instanceof TopologyError) throw new CliError(error.message);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new CliError(`cannot listen on ${options.host}:${options.port}: ${code}`);
    throw error;
  }
}

async function runAsSingleProcess(options: RouterOptions, log: Logger): Promise<void> {
  const router = await startRouter(options, log);
  log.info({ url: router.url }, `router listening on ${router.url}`);
  installSignalHandlers(log, () => router.control.reload(), () => router.close());
}

async function runAsClusterPrimary(options: RouterOptions, processes: number, log: Logger): Promise<void> {
  const primary = await RouterClusterPrimary.start(options, { processes }, log);
  log.info({ url: primary.url, processes }, `router listening on ${primary.url} (${processes} processes)`);
  installSignalHandlers(log, () => primary.reload(), () => primary.close());
}

async function runAsClusterProcess(options: RouterOptions, log: Logger): Promise<void> {
  const server = await runRouterProcess(options, log);
  // Ctrl-C and reloads are the primary's to orchestrate; it stops this process with SIGTERM.
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.once('SIGTERM', stop);
  handOverStartupSignals({ stop: (signal) => signal === 'SIGTERM' && stop(), log });
}

/** SIGHUP reloads the topology, SIGTERM/SIGINT stop gracefully; then what arrived while starting is done. */
function installSignalHandlers(log: Logger, reload: () => void, close: () => Promise<void>): void {
  process.on('SIGHUP', reload);
  const stop = onShutdownSignal(log, close);
  handOverStartupSignals({ reload, stop, log });
}

function onShutdownSignal(log: Logger, close: () => Promise<void>): (signal: string) => void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping the router (requests in flight finish first)`);
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'router shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return stop;
}
