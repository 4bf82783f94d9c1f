/**
 * `pinbase import <user> <file>`: one tenant's export file into the cluster,
 * through the router.
 */
import { CLUSTER_OPTIONS, CLUSTER_USAGE, ClusterClient, RequestFailure, routerOrigin, timeoutOption, TokenSource } from './cluster-client.js';
import { CliError, parseCommandLine } from './command.js';
import { userArgument } from './export-command.js';
import { detectFormat, importTenant } from './tenant-transfer.js';

export const usage = `Usage: pinbase import <user> <file> [--replace] [--router URL] [--token T]

Imports an export file (from \`pinbase export\` or GET /_export) into <user>. The
format is read from the file's first bytes ("SQLite format 3" or "{"). The
tenant must be empty (409 tenant_not_empty otherwise) unless --replace. A
malformed, truncated or foreign file is refused (400 invalid_import) and
changes nothing. Prints the import's result (seq, objects, versions, indexes)
as JSON.

Options:
  --replace           replace the tenant's data if it has any
${CLUSTER_USAGE}

Example:
  pinbase import alice alice.ndjson`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(argv, { ...CLUSTER_OPTIONS, replace: { type: 'boolean' } });
  const [user, file] = userArgument(positionals, 'pinbase import <user> <file>', 2) as [string, string];
  let format;
  try {
    format = await detectFormat(file);
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (format === undefined) throw new CliError(`${file} is neither an NDJSON export (it starts with "{") nor a SQLite file`);
  const client = new ClusterClient(routerOrigin(values.router), TokenSource.resolve(values.token, values.data), timeoutOption(values.timeout), 1);
  try {
    const result = await importTenant(client, user, file, format, values.replace === true);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    if (error instanceof RequestFailure) throw new CliError(`import of ${user} failed: ${error.message}`);
    throw error;
  } finally {
    await client.close();
  }
}
