/**
 * `pinbase status`: the cluster as a table, from the router's
 * GET /_router/status (which needs the admin token once the router has one).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RouterStatus, WorkerStatus } from '../../router/status-report.js';
import { isLoopbackHost } from '../auth/auth-options.js';
import { bearer, readAdminTokenFile } from '../auth/admin-token.js';
import { localSecretsDir } from '../auth/local-secrets.js';
import { CliError, parseCommandArgs } from './command.js';

export const usage = `Usage: pinbase status [--router http://127.0.0.1:8080] [--admin-token-file FILE | --data DIR] [--json]

Prints the workers the router knows, their health, the users routed to each
and the requests in flight.

Options:
  -r, --router URL         the router's address (default http://127.0.0.1:8080)
  --admin-token-file FILE  the cluster's admin token (the router's --admin-token-file)
  -d, --data DIR           the data directory of \`pinbase up\`: use DIR/secrets/admin-token. Without
                           either flag, ./data/secrets/admin-token is used when it exists and the
                           router is on this machine
  --json                   print the raw JSON of /_router/status`;

export async function run(argv: string[]): Promise<void> {
  const values = parseCommandArgs(argv, {
    router: { type: 'string', short: 'r' },
    'admin-token-file': { type: 'string' },
    data: { type: 'string', short: 'd' },
    json: { type: 'boolean' },
  });
  const base = (values.router ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(base)) throw new CliError(`--router must be an http:// or https:// origin, got "${values.router}"`);
  if (values['admin-token-file'] !== undefined && values.data !== undefined) throw new CliError('give --admin-token-file or --data, not both');
  const token = resolveAdminToken(base, values['admin-token-file'], values.data);
  const status = await fetchStatus(base, token);
  process.stdout.write(values.json === true ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(base, status)}\n`);
}

/**
 * The admin token to send: from --admin-token-file, from --data, or from
 * the local cluster's ./data when the router is on loopback (never sent
 * unasked to another machine).
 */
export function resolveAdminToken(base: string, file: string | undefined, dataDir: string | undefined): string | undefined {
  if (file !== undefined) return readAdminTokenFile(file);
  if (dataDir !== undefined) return readAdminTokenFile(join(localSecretsDir(dataDir), 'admin-token'));
  const localFile = join(localSecretsDir('./data'), 'admin-token');
  const host = new URL(base).hostname.replace(/^\[(.*)\]$/, '$1');
  return isLoopbackHost(host) && existsSync(localFile) ? readAdminTokenFile(localFile) : undefined;
}

async function fetchStatus(base: string, token: string | undefined): Promise<RouterStatus> {
  let response: Response;
  try {
    response = await fetch(`${base}/_router/status`, {
      headers: token === undefined ? {} : { authorization: bearer(token) },
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach the router at ${base}: ${cause?.code ?? cause?.message ?? (error as Error).message}; is \`pinbase up\` (or the router) running? (--router URL)`,
    );
  }
  if (response.status === 401) {
    const what = token === undefined ? 'needs the cluster\'s admin token' : 'refused this admin token';
    throw new CliError(`the router at ${base} ${what}: pass --admin-token-file FILE (or --data DIR of \`pinbase up\`)`);
  }
  if (!response.ok) throw new CliError(`the router at ${base} answered ${response.status} to GET /_router/status`);
  return (await response.json()) as RouterStatus;
}

/** The status as a text table, one line per worker. */
export function formatStatus(base: string, status: RouterStatus): string {
  const header = ['WORKER', 'URL', 'HEALTH', 'USERS', 'IN-FLIGHT', 'REQUESTS'];
  const rows = status.workers.map((w) => [w.id, w.url, health(w), String(w.users), String(w.inFlight), String(w.requests)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const numeric = new Set([3, 4, 5]);
  const line = (cells: string[]) =>
    cells.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const summary =
    `Router ${base} · topology v${status.topologyVersion} · ${status.processes} process${status.processes === 1 ? '' : 'es'}` +
    ` · ${status.workers.filter((w) => w.routable).length}/${status.workers.length} workers routable`;
  const users = status.totals.users;
  const totals = `${users} ${users === 1 ? 'user' : 'users'} seen recently, ${status.totals.inFlight} in flight, ${status.totals.requests} requests`;
  return [summary, '', line(header), ...rows.map(line), '', totals].join('\n');
}

function health(worker: WorkerStatus): string {
  if (worker.health === 'down') return worker.reason === undefined ? 'down' : `down (${worker.reason})`;
  return worker.drained ? 'up, drained' : 'up';
}
