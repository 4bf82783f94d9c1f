/**
 * `pinbase status`: the cluster as a table, from the router's
 * GET /_router/status.
 */
import type { RouterStatus, WorkerStatus } from '../../router/status-report.js';
import { CliError, parseCommandArgs } from './command.js';

export const usage = `Usage: pinbase status [--router http://127.0.0.1:8080] [--json]

Prints the workers the router knows, their health, the users routed to each
and the requests in flight.

Options:
  --router URL   the router's address (default http://127.0.0.1:8080)
  --json         print the raw JSON of /_router/status`;

export async function run(argv: string[]): Promise<void> {
  const values = parseCommandArgs(argv, { router: { type: 'string' }, json: { type: 'boolean' } });
  const base = (values.router ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(base)) throw new CliError(`--router must be an http:// or https:// origin, got "${values.router}"`);
  const status = await fetchStatus(base);
  process.stdout.write(values.json === true ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(base, status)}\n`);
}

async function fetchStatus(base: string): Promise<RouterStatus> {
  let response: Response;
  try {
    response = await fetch(`${base}/_router/status`, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach the router at ${base}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
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
  const totals = `${status.totals.users} users seen, ${status.totals.inFlight} in flight, ${status.totals.requests} requests`;
  return [summary, '', line(header), ...rows.map(line), '', totals].join('\n');
}

function health(worker: WorkerStatus): string {
  if (worker.health === 'down') return worker.reason === undefined ? 'down' : `down (${worker.reason})`;
  return worker.drained ? 'up, drained' : 'up';
}
