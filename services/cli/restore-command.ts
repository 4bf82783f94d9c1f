/**
 * `pinbase restore --all <dir>`: every tenant export of a `pinbase backup
 * --all` directory imported into the cluster, through the router, a bounded
 * number at a time.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { USER_ID_PATTERN } from '../ids/id-patterns.js';
import { CLUSTER_OPTIONS, CLUSTER_USAGE, ClusterClient, RequestFailure, routerOrigin, timeoutOption, TokenSource } from './cluster-client.js';
import { CliError, integerOption, parseCommandLine } from './command.js';
import { readManifest } from './backup-manifest.js';
import { forEachBounded, withRetries } from './tenant-batch.js';
import { detectFormat, importTenant } from './tenant-transfer.js';
import { TransferProgress } from './transfer-progress.js';

export const usage = `Usage: pinbase restore --all <dir> [--replace] [--concurrency 4] [--router URL]

Imports every tenant of a \`pinbase backup --all\` directory into the cluster,
through the router, at most --concurrency tenants at a time: the tenants of
<dir>/manifest.json (each file must still have its recorded size), or, without a
manifest, every <user>.ndjson and <user>.sqlite in <dir>. .partial files are
never imported.

A tenant that already has data is refused (409 tenant_not_empty) and reported,
unless --replace. A tenant whose import fails for a passing reason (503, a broken
connection) is tried 3 times (with backoff). The exit code is 1 if any tenant
failed. Progress as for \`pinbase backup\`: a bar on a terminal, otherwise one
summary line (and one line per failed tenant).

Options:
  --all               every tenant of <dir> (required: for one tenant use \`pinbase import\`)
  --replace           replace the data of tenants that have some
  --concurrency N     tenants imported at once (default 4, 1..64)
${CLUSTER_USAGE}`;

interface RestoreItem {
  readonly user: string;
  readonly path: string;
  /** The size the manifest recorded, when there is one. */
  readonly bytes: number | undefined;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(argv, {
    ...CLUSTER_OPTIONS,
    all: { type: 'boolean' },
    replace: { type: 'boolean' },
    concurrency: { type: 'string' },
  });
  if (values.all !== true) throw new CliError('give --all: pinbase restore --all <dir> (for one tenant, use `pinbase import`)');
  if (positionals.length !== 1) throw new CliError('usage: pinbase restore --all <dir>');
  const dir = positionals[0]!;
  const concurrency = integerOption(values.concurrency, 'concurrency', 4, 1, 64);
  const items = await restoreItems(dir);
  const client = new ClusterClient(routerOrigin(values.router), TokenSource.resolve(values.token, values.data), timeoutOption(values.timeout), concurrency);
  const progress = new TransferProgress('restored', items.length, 0);
  try {
    await forEachBounded(items, concurrency, async (item) => {
      const outcome = await withRetries(async () => {
        const size = (await stat(item.path)).size;
        if (item.bytes !== undefined && size !== item.bytes) {
          throw new RequestFailure('backup_file_changed', `${item.path} has ${size} bytes, the manifest says ${item.bytes}`, undefined, false);
        }
        const format = await detectFormat(item.path);
        if (format === undefined) throw new RequestFailure('not_an_export', `${item.path} is neither NDJSON nor SQLite`, undefined, false);
        await importTenant(client, item.user, item.path, format, values.replace === true);
        return size;
      });
      if (outcome.ok) progress.succeeded(outcome.value);
      else progress.failed(item.user, outcome.failure);
    });
  } finally {
    await client.close();
  }
  progress.finish();
  if (progress.failedCount > 0) process.exitCode = 1;
}

/** The manifest's tenants, or every `<user>.ndjson|sqlite` of `dir` when it has no manifest. */
async function restoreItems(dir: string): Promise<RestoreItem[]> {
  const manifest = await readManifest(dir);
  if (manifest !== undefined) return manifest.tenants.map((t) => ({ user: t.user, path: join(dir, t.file), bytes: t.bytes }));
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new CliError(`cannot read ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const items: RestoreItem[] = [];
  for (const name of names.sort()) {
    const match = /^(.+)\.(ndjson|sqlite)$/.exec(name);
    if (match !== null && USER_ID_PATTERN.test(match[1]!)) items.push({ user: match[1]!, path: join(dir, name), bytes: undefined });
  }
  return items;
}
