/**
 * `pinbase export <user>`: one tenant's export through the router, to
 * stdout or to a file (written as FILE.partial, renamed once complete).
 */
import { USER_ID_PATTERN } from '../ids/id-patterns.js';
import { CLUSTER_OPTIONS, CLUSTER_USAGE, ClusterClient, RequestFailure, routerOrigin, timeoutOption, TokenSource } from './cluster-client.js';
import { CliError, parseCommandLine } from './command.js';
import { EXPORT_FORMATS, exportTenant, exportTenantToFile, type ExportFormat } from './tenant-transfer.js';

export const usage = `Usage: pinbase export <user> [--format ndjson|sqlite] [--history] [-o FILE] [--router URL] [--token T]

Writes one tenant's export to stdout (or to FILE): a consistent snapshot at one
commit, taken while writes continue.
  ndjson  one JSON line per object (a header line first, an end line with the count last)
  sqlite  the tenant's SQLite file, copied with SQLite's online backup
The export is checked before the command succeeds (NDJSON: the end line's count;
SQLite: the header and the length); an incomplete one exits non-zero. With -o FILE it is
written to FILE.partial and renamed to FILE only once complete, so FILE is never
a half-written export. A binary (sqlite) export is not written to a terminal.

Options:
  --format F          ndjson (default) or sqlite
  --history           every retained version, not only the current objects (ndjson)
  -o, --output FILE   write to FILE instead of stdout
${CLUSTER_USAGE}

Example:
  pinbase export alice > alice.ndjson
  pinbase export alice --format sqlite -o alice.sqlite`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(argv, {
    ...CLUSTER_OPTIONS,
    format: { type: 'string' },
    history: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  });
  const user = userArgument(positionals, 'pinbase export <user>', 1)[0]!;
  const format = formatOption(values.format);
  if (values.output === undefined && format === 'sqlite' && process.stdout.isTTY) {
    throw new CliError('refusing to write a binary SQLite file to a terminal: redirect stdout (> file) or pass -o FILE');
  }
  const client = new ClusterClient(routerOrigin(values.router), TokenSource.resolve(values.token, values.data), timeoutOption(values.timeout), 1);
  try {
    const history = values.history === true;
    if (values.output === undefined) await exportTenant(client, user, format, history, process.stdout);
    else await exportTenantToFile(client, user, format, history, values.output);
  } catch (error) {
    if (error instanceof RequestFailure) throw new CliError(`export of ${user} failed: ${error.message}`);
    throw error;
  } finally {
    await client.close();
  }
}

/** The positional arguments, the first a valid user id; exactly `count` of them. */
export function userArgument(positionals: string[], synopsis: string, count: number): string[] {
  if (positionals.length !== count) throw new CliError(`usage: ${synopsis}`);
  const user = positionals[0]!;
  if (!USER_ID_PATTERN.test(user)) throw new CliError(`the user id must match ${USER_ID_PATTERN.source}, got "${user}"`);
  return positionals;
}

/** --format, checked: ndjson (default) or sqlite. */
export function formatOption(value: string | undefined): ExportFormat {
  if (value === undefined) return 'ndjson';
  if (!Object.hasOwn(EXPORT_FORMATS, value)) throw new CliError(`--format must be ndjson or sqlite, got "${value}"`);
  return value as ExportFormat;
}
