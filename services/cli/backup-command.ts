/**
 * `pinbase backup --all <dir>`: every tenant of the cluster, through the
 * router, a bounded number at a time, into one export file per tenant and a
 * manifest (backup-manifest.ts). Resumable: tenants complete in the
 * manifest are skipped, `.partial` files are discarded and redone.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bearer } from '../auth/admin-token.js';
import { CLUSTER_OPTIONS, CLUSTER_USAGE, ClusterClient, RequestFailure, routerOrigin, timeoutOption, TokenSource } from './cluster-client.js';
import { CliError, integerOption, parseCommandLine } from './command.js';
import { formatOption } from './export-command.js';
import { fileName, MANIFEST_EVERY, readManifest, writeManifest, type Manifest, type ManifestEntry } from './backup-manifest.js';
import { resolveAdminToken } from './status-command.js';
import { forEachBounded, withRetries } from './tenant-batch.js';
import { exportTenantToFile, type ExportFormat } from './tenant-transfer.js';
import { TransferProgress } from './transfer-progress.js';

export const usage = `Usage: pinbase backup --all <dir> [--format ndjson|sqlite] [--concurrency 4] [--router URL]

Backs up every tenant of the cluster into <dir>, through the router, at most
--concurrency tenants at a time: <dir>/<user>.ndjson (or .sqlite) per tenant and
<dir>/manifest.json listing each tenant's seq, bytes, sha256 and time.

Each export is written to <user>.<ext>.partial and renamed to <user>.<ext> only
once complete and verified, so a file with the final name is always complete.
The manifest is written atomically, every ${MANIFEST_EVERY} tenants and at the end.

Interrupted (Ctrl-C, a crash) and run again with the same <dir>: tenants already
complete in the manifest are skipped, .partial files are discarded and those
tenants exported again. A tenant whose export fails is tried 3 times (with
backoff), then reported; the exit code is 1 if any tenant failed.

Progress: a bar on stderr when it is a terminal; otherwise one summary line at
the end (and one line per failed tenant).

Options:
  --all                    every tenant (required: for one tenant use \`pinbase export\`)
  --format F               ndjson (default) or sqlite
  --history                every retained version, not only the current objects (ndjson)
  --concurrency N          tenants exported at once (default 4, 1..64)
  --admin-token-file FILE  the cluster's admin token, to list the tenants (GET /_router/users);
                           default: DIR/secrets/admin-token of --data, as \`pinbase status\`
${CLUSTER_USAGE}

Example:
  pinbase backup --all backups/2026-12-01 --format sqlite`;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(argv, {
    ...CLUSTER_OPTIONS,
    all: { type: 'boolean' },
    format: { type: 'string' },
    history: { type: 'boolean' },
    concurrency: { type: 'string' },
    'admin-token-file': { type: 'string' },
  });
  if (values.all !== true) throw new CliError('give --all: pinbase backup --all <dir> (for one tenant, use `pinbase export`)');
  if (positionals.length !== 1) throw new CliError('usage: pinbase backup --all <dir>');
  const dir = positionals[0]!;
  const format = formatOption(values.format);
  const history = values.history === true;
  const concurrency = integerOption(values.concurrency, 'concurrency', 4, 1, 64);
  const base = routerOrigin(values.router);
  const adminToken = resolveAdminToken(base, values['admin-token-file'], values.data);
  const client = new ClusterClient(base, TokenSource.resolve(values.token, values.data), timeoutOption(values.timeout), concurrency + 1);
  try {
    await mkdir(dir, { recursive: true });
    const previous = await readManifest(dir);
    if (previous !== undefined && (previous.exportFormat !== format || previous.history !== history)) {
      throw new CliError(`${dir} holds a ${previous.exportFormat}${previous.history ? ' --history' : ''} backup: use another directory, or the same options`);
    }
    await discardPartials(dir);
    const users = await listTenants(client, adminToken);
    const complete = await completeEntries(dir, previous);
    const todo = users.filter((user) => !complete.has(user));
    const backup = new BackupRun(dir, { format, history, router: base }, complete);
    const progress = new TransferProgress('backed up', todo.length, users.length - todo.length);
    await forEachBounded(todo, concurrency, async (user) => {
      const file = join(dir, fileName(user, format));
      const outcome = await withRetries(() => exportTenantToFile(client, user, format, history, file));
      if (!outcome.ok) return progress.failed(user, outcome.failure);
      const { seq, bytes, sha256 } = outcome.value;
      progress.succeeded(bytes);
      await backup.add({ user, file: fileName(user, format), seq, bytes, sha256, at: new Date().toISOString() });
    });
    await backup.save();
    progress.finish();
    if (progress.failedCount > 0) process.exitCode = 1;
  } catch (error) {
    if (error instanceof RequestFailure) throw new CliError(`backup failed: ${error.message}`);
    throw error;
  } finally {
    await client.close();
  }
}

/** The manifest as it grows; saved every MANIFEST_EVERY tenants, one save at a time. */
class BackupRun {
  private added = 0;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly options: { format: ExportFormat; history: boolean; router: string },
    private readonly entries: Map<string, ManifestEntry>,
  ) {}

  async add(entry: ManifestEntry): Promise<void> {
    this.entries.set(entry.user, entry);
    if (++this.added % MANIFEST_EVERY === 0) await this.save();
  }

  /** Writes the manifest with every entry so far, after any save in progress. */
  save(): Promise<void> {
    const options = this.options;
    this.saving = this.saving.then(() =>
      writeManifest(this.dir, {
        format: 'pinbase-backup',
        version: 1,
        exportFormat: options.format,
        history: options.history,
        router: options.router,
        updatedAt: new Date().toISOString(),
        tenants: [...this.entries.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)),
      }),
    );
    return this.saving;
  }
}

/** Removes every `*.partial` of `dir`: what an interrupted run left behind is redone, never trusted. */
async function discardPartials(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (name.endsWith('.partial')) await rm(join(dir, name), { force: true });
}

/** The manifest's entries whose file is still there with its recorded size. */
async function completeEntries(dir: string, manifest: Manifest | undefined): Promise<Map<string, ManifestEntry>> {
  const entries = new Map<string, ManifestEntry>();
  for (const entry of manifest?.tenants ?? []) {
    const size = await stat(join(dir, entry.file)).then((s) => s.size, () => -1);
    if (size === entry.bytes) entries.set(entry.user, entry);
  }
  return entries;
}

/** Every tenant id, from the router's GET /_router/users, page by page (1000 a page). */
export async function listTenants(client: ClusterClient, adminToken: string | undefined): Promise<string[]> {
  const users: string[] = [];
  let after: string | null = null;
  do {
    const query: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
    let response;
    try {
      response = await client.send({ method: 'GET', path: `/_router/users?limit=1000${query}` }, adminToken === undefined ? undefined : bearer(adminToken));
    } catch (error) {
      if (error instanceof RequestFailure && error.status === 401) {
        throw new CliError(`the router at ${client.base} needs the cluster's admin token to list tenants: pass --admin-token-file FILE (or --data DIR of \`pinbase up\`)`);
      }
      throw error;
    }
    const page = (await response.body.json()) as { users: { id: string }[]; next: string | null };
    users.push(...page.users.map((u) => u.id));
    after = page.next;
  } while (after !== null);
  return users;
}
