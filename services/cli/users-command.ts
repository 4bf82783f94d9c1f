/**
 * `pinbase users`: the tenants on shared storage, from the router's
 * GET /_router/users (router/tenant-list.ts), which needs the cluster's
 * admin token once the router has one (taken as `pinbase status` takes it).
 * One page by default; --all follows `next` to the end, printing each page
 * as it arrives (memory: one page, at most 1000 tenants).
 */
import type { RoutedTenant, RoutedTenantPage } from '../../router/tenant-list.js';
import { bearer } from '../auth/admin-token.js';
import { formatBytes } from './cluster-client.js';
import { CliError, integerOption, parseCommandArgs } from './command.js';
import { resolveAdminToken } from './status-command.js';

/** The router's default page (tenant-directory.ts: ~1 ms per closed tenant file) and its largest. */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const DEFAULT_ROUTER = 'http://127.0.0.1:8080';
/** How long the router has to answer one page (it waits up to 10 s for a worker). */
const PAGE_TIMEOUT_MS = 30_000;

export const usage = `Usage: pinbase users [-r URL] [--admin-token-file FILE | -d DIR] [-a ID] [-n N] [--all] [--json]

Lists the tenants on shared storage in id order: each one's owner (the worker
the router sends it to now), file size, last commit seq and last write time,
with the total. One page at a time: the footer says how to get the next one.
A last seq shown as "-" could not be read (a file a crash left a WAL beside,
or a worker that did not answer).

Options:
  -r, --router URL         the router's address (default ${DEFAULT_ROUTER})
  --admin-token-file FILE  the cluster's admin token (the router's --admin-token-file)
  -d, --data DIR           the data directory of \`pinbase up\`: use DIR/secrets/admin-token. Without
                           either flag, ./data/secrets/admin-token is used when it exists and the
                           router is on this machine
  -a, --after ID           start after this user id (the previous page's last)
  -n, --limit N            tenants per page, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})
  --all                    every page, to the end
  --json                   print the raw page from /_router/users (with --all, one page per line)`;

export async function run(argv: string[]): Promise<void> {
  const values = parseCommandArgs(argv, {
    router: { type: 'string', short: 'r' },
    'admin-token-file': { type: 'string' },
    data: { type: 'string', short: 'd' },
    after: { type: 'string', short: 'a' },
    limit: { type: 'string', short: 'n' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const base = (values.router ?? DEFAULT_ROUTER).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(base)) throw new CliError(`--router must be an http:// or https:// origin, got "${values.router}"`);
  if (values['admin-token-file'] !== undefined && values.data !== undefined) throw new CliError('give --admin-token-file or --data, not both');
  if (values.after !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.after)) throw new CliError(`--after must be a user id, got "${values.after}"`);
  const limit = integerOption(values.limit, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT);
  const token = resolveAdminToken(base, values['admin-token-file'], values.data);
  const fetchPage = (after: string | undefined) => fetchUsersPage(base, token, after, limit);
  const write = (text: string) => process.stdout.write(text);
  const options = { after: values.after, all: values.all === true, json: values.json === true, limit, router: base === DEFAULT_ROUTER ? undefined : base };
  await printUsers(fetchPage, options, write);
}

export interface PrintOptions {
  after: string | undefined;
  all: boolean;
  json: boolean;
  limit: number;
  /** --router to repeat in the next-page hint; undefined for the default. */
  router: string | undefined;
}

/** Fetches one page (or, with `all`, every page from `after` on) and writes it as a table or JSON. */
export async function printUsers(
  fetchPage: (after: string | undefined) => Promise<RoutedTenantPage>,
  options: PrintOptions,
  write: (text: string) => void,
): Promise<void> {
  let after = options.after;
  let shown = 0;
  let table: Table | undefined;
  for (;;) {
    const page = await fetchPage(after);
    if (options.json) {
      write(options.all ? `${JSON.stringify(page)}\n` : `${JSON.stringify(page, null, 2)}\n`);
    } else {
      table ??= new Table(page.users);
      if (shown === 0) write(`${table.header()}\n`);
      for (const user of page.users) write(`${table.row(user)}\n`);
      shown += page.users.length;
    }
    if (!options.all || page.next === null) {
      if (!options.json) write(`\n${footer(shown, page, options)}\n`);
      return;
    }
    // A page that names a `next` no later than where it started would loop: the router's contract says it cannot.
    if (after !== undefined && page.next <= after) throw new CliError(`the router answered a next page (${page.next}) that does not move on from ${after}`);
    after = page.next;
  }
}

/** The lines under the table: how many of the total, and the command for the next page. */
export function footer(shown: number, last: RoutedTenantPage, options: PrintOptions): string {
  const noun = (n: number) => `${n} ${n === 1 ? 'tenant' : 'tenants'}`;
  if (last.next === null && options.after === undefined && (options.all || shown === last.total)) return `${noun(last.total)}.`;
  const from = options.after === undefined ? '' : ` after ${options.after}`;
  const lines = [`${shown} shown${from}, ${noun(last.total)} in all.`];
  if (last.next !== null) {
    const flags = [options.router === undefined ? '' : ` --router ${options.router}`, options.limit === DEFAULT_LIMIT ? '' : ` --limit ${options.limit}`].join('');
    lines.push(`Next page: pinbase users${flags} --after ${last.next}   (or --all for every page)`);
  }
  return lines.join('\n');
}

const HEADER = ['ID', 'OWNER', 'SIZE', 'LAST SEQ', 'LAST WRITE'];
const RIGHT_ALIGNED = new Set([2, 3]);

/** Columns sized by the first page (later pages of --all keep those widths, longer cells push their line). */
class Table {
  private readonly widths: number[];
  constructor(first: readonly RoutedTenant[]) {
    const rows = first.map(cells);
    this.widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  }
  header(): string {
    return this.line(HEADER);
  }
  row(user: RoutedTenant): string {
    return this.line(cells(user));
  }
  private line(row: readonly string[]): string {
    return row.map((cell, i) => (RIGHT_ALIGNED.has(i) ? cell.padStart(this.widths[i]!) : cell.padEnd(this.widths[i]!))).join('  ').trimEnd();
  }
}

/** One tenant's cells: unknown values as "-", the time in UTC to the second. */
export function cells(user: RoutedTenant): string[] {
  return [
    user.id,
    user.owner ?? '-',
    formatBytes(user.bytes),
    user.lastSeq === null ? '-' : String(user.lastSeq),
    user.lastWriteAt === null ? '-' : user.lastWriteAt.replace(/\.\d+Z$/, 'Z'),
  ];
}

async function fetchUsersPage(base: string, token: string | undefined, after: string | undefined, limit: number): Promise<RoutedTenantPage> {
  const query = new URLSearchParams({ limit: String(limit) });
  if (after !== undefined) query.set('after', after);
  let response: Response;
  try {
    response = await fetch(`${base}/_router/users?${query.toString()}`, {
      headers: token === undefined ? {} : { authorization: bearer(token) },
      signal: AbortSignal.timeout(PAGE_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach the router at ${base}: ${cause?.code ?? cause?.message ?? (error as Error).message}; is \`pinbase up\` (or the router) running? (--router URL)`,
    );
  }
  if (response.status === 401) {
    const what = token === undefined ? 'needs the cluster\'s admin token to list tenants' : 'refused this admin token';
    throw new CliError(`the router at ${base} ${what}: pass --admin-token-file FILE (or --data DIR of \`pinbase up\`)`);
  }
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as { code?: unknown; detail?: unknown };
    const why = typeof problem.detail === 'string' ? `: ${problem.detail}` : '';
    throw new CliError(`the router at ${base} answered ${response.status} to GET /_router/users${why}`);
  }
  return (await response.json()) as RoutedTenantPage;
}
