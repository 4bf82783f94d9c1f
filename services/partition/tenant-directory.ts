/**
 * The tenants that exist on shared storage, read from the data directory's
 * fan-out directories (`<data>/<2 hex>/<userId>.sqlite`, user-id.ts), in
 * user-id order (code-unit order: ids are ASCII), keyset-paginated.
 *
 * Cost per request is bounded by design:
 * - the sorted list of ids is built by listing the names of the 256 fan-out
 *   directories (no stat per file) and is reused for CACHE_MS, one build at
 *   a time however many requests ask: at most 256 readdir calls per
 *   CACHE_MS, and memory proportional to the number of tenants (~100 bytes
 *   per id);
 * - a page stats only its own entries: at most MAX_PAGE (1000) stat calls;
 * - a page reads each entry's last commit (lastSeq, lastWriteAt): from the
 *   partition when this worker has it open (no file access), else by a short
 *   open of the file, one file at a time, the event loop let go between two
 *   files (see readLastCommit for what such an open may and may not do).
 *   Measured (`npm run build && node dist/bench/partition/tenant-list-bench.js
 *   1000`, 2 cores shared with other jobs, load ~10, ext4): a 1000-entry page
 *   of closed files takes 1.1-1.9 s (~1 ms a file: the open, SQLite's schema
 *   read and its transient `-wal`), the event loop held by one file's read at
 *   a time (median 1 ms, p99 13 ms; the longest event-loop delay seen during
 *   a page, scheduling on the loaded machine included, 81-128 ms). The
 *   router's and the CLI's default page
 *   is 100 entries (~0.1-0.2 s); MAX_PAGE stays for scripts that want fewer
 *   round trips. Open partitions cost one indexed row each, no file access.
 * Only names that match USER_ID_PATTERN, end in `.sqlite` and sit in their
 * id's own fan-out directory count: `-wal` files, lease lock directories,
 * owner records and temporary files are ignored.
 *
 * A tenant created or erased in the last CACHE_MS may be missing from (or
 * still be in) the list; one erased between the listing and the page's stat
 * is left out of the page (the page is then shorter than `limit`).
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { USER_ID_PATTERN } from '../ids/id-patterns.js';
import { fanOutDir } from './user-id.js';

/** Largest page a caller may ask for. */
export const MAX_PAGE = 1000;
/** How long one listing of the fan-out directories is reused. */
export const CACHE_MS = 5000;
/** Fan-out directories listed at once while building the list. */
const READDIR_CONCURRENCY = 16;
const SUFFIX = '.sqlite';

export interface TenantEntry {
  readonly id: string;
  /** Size of the tenant's SQLite file (its WAL not included), bytes. */
  readonly bytes: number;
  /** The file's mtime, ISO 8601. */
  readonly modifiedAt: string;
  /**
   * Seq of the tenant's last commit; null when it could not be read here
   * (another worker has the file open, a WAL left by a crash, a locked,
   * corrupt or vanishing file).
   */
  readonly lastSeq: number | null;
  /** Commit time of the tenant's last written version (the `committed_at` the commit stored), ISO 8601; null as lastSeq, or with no version. */
  readonly lastWriteAt: string | null;
}

/** A tenant's last commit, as the partition records it. */
export interface LastCommit {
  readonly lastSeq: number;
  readonly lastWriteAt: string | null;
}

/** The worker's open partitions, asked for their last commit without touching their files. */
export interface OpenPartitions {
  /** The last commit of each of `ids` that is open here (others absent). At most `ids.length` lookups. */
  lastCommits(ids: readonly string[]): Map<string, LastCommit>;
}

export interface TenantPage {
  readonly users: TenantEntry[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: string | null;
  /** Tenants in the whole listing. */
  readonly total: number;
}

export class TenantDirectory {
  private listing: { ids: string[]; at: number } | undefined;
  private building: Promise<string[]> | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly cacheMs: number = CACHE_MS,
    private readonly open: OpenPartitions | undefined = undefined,
  ) {}

  /** The last commit of those of `ids` this worker has open (no file access): what the router asks the other workers for. */
  openLastCommits(ids: readonly string[]): Map<string, LastCommit> {
    return this.open?.lastCommits(ids.slice(0, MAX_PAGE)) ?? new Map<string, LastCommit>();
  }

  /** The tenants whose id sorts after `after` (all when undefined), at most `limit` (1..MAX_PAGE). Reads only. */
  async page(after: string | undefined, limit: number): Promise<TenantPage> {
    const ids = await this.ids();
    const start = after === undefined ? 0 : firstAfter(ids, after);
    const slice = ids.slice(start, start + Math.min(Math.max(limit, 1), MAX_PAGE));
    const stats = await Promise.all(slice.map((id) => this.entry(id)));
    const found = stats.filter((entry): entry is FileEntry => entry !== undefined);
    const open = this.openLastCommits(found.map((entry) => entry.id));
    const users: TenantEntry[] = [];
    for (const entry of found) {
      let last = open.get(entry.id);
      if (last === undefined) {
        // One file at a time, the event loop let go in between: a page never holds it longer than one read.
        if (users.length > 0) await nextTurn();
        last = readLastCommit(join(this.dataDir, fanOutDir(entry.id), `${entry.id}${SUFFIX}`));
      }
      users.push({ ...entry, lastSeq: last?.lastSeq ?? null, lastWriteAt: last?.lastWriteAt ?? null });
    }
    const end = start + slice.length;
    return {
      users,
      next: end < ids.length && slice.length > 0 ? slice[slice.length - 1]! : null,
      total: ids.length,
    };
  }

  private async ids(): Promise<string[]> {
    if (this.listing !== undefined && Date.now() - this.listing.at < this.cacheMs) return this.listing.ids;
    this.building ??= listTenantIds(this.dataDir).then(
      (ids) => {
        this.listing = { ids, at: Date.now() };
        this.building = undefined;
        return ids;
      },
      (error: unknown) => {
        this.building = undefined;
        throw error;
      },
    );
    return this.building;
  }

  private async entry(id: string): Promise<FileEntry | undefined> {
    try {
      const info = await stat(join(this.dataDir, fanOutDir(id), `${id}${SUFFIX}`));
      return { id, bytes: info.size, modifiedAt: info.mtime.toISOString() };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

type FileEntry = Omit<TenantEntry, 'lastSeq' | 'lastWriteAt'>;

/** The last seq: as Partition computes it on open (an import keeps its export's seq). */
const LAST_COMMIT_SQL =
  'SELECT (SELECT rev FROM versions ORDER BY vid DESC LIMIT 1) AS seq, (SELECT committed_at FROM versions ORDER BY vid DESC LIMIT 1) AS at,' +
  " (SELECT value FROM meta WHERE key = 'imported_seq') AS imported";

/** The open partitions of a pool (partition-pool.ts) as an OpenPartitions: one pass over at most maxOpen entries per call. */
export function poolPartitions(pool: { openPartitions(): readonly { userId: string; seq: number; db: Database.Database }[] }): OpenPartitions {
  return {
    lastCommits(ids) {
      const open = new Map(pool.openPartitions().map((partition) => [partition.userId, partition]));
      const found = new Map<string, LastCommit>();
      for (const id of ids) {
        const partition = open.get(id);
        if (partition !== undefined) found.set(id, lastCommitOf(partition.db, partition.seq));
      }
      return found;
    },
  };
}

/** The last commit of an open partition's connection (one indexed row). */
export function lastCommitOf(db: Database.Database, seq: number): LastCommit {
  const at = db.prepare('SELECT committed_at FROM versions ORDER BY vid DESC LIMIT 1').pluck().get() as number | undefined;
  return { lastSeq: seq, lastWriteAt: at === undefined ? null : new Date(at).toISOString() };
}

/**
 * The last commit recorded in the partition file `file`, read by a short
 * open that this worker does not keep; undefined when it cannot be read.
 *
 * - Skipped (undefined) when a `-wal` file sits beside it: a worker has the
 *   file open (it keeps SQLite's exclusive lock, so nobody else could read
 *   it anyway), or a crashed owner left commits there that only the next
 *   owner may recover. The router asks the workers that have it open.
 * - No lease is taken and nothing is written: the connection is query_only,
 *   opened without SQLITE_OPEN_CREATE (fileMustExist), timeout 0. It sets
 *   locking_mode=EXCLUSIVE like every Pinbase connection (WAL without shared
 *   memory): a `readonly: true` open would instead create `-shm` and `-wal`
 *   files beside the tenant's file and leave them there; this one has SQLite
 *   create an empty `-wal` while it reads and delete it at close.
 * - Synchronous, one indexed row, typically ~0.2 ms: the exclusive lock is
 *   held that long. An owner opening the file meanwhile gets SQLITE_BUSY and
 *   retries (partition-pool.ts openDatabase: every 50 ms up to the lease
 *   wait); a writer that already has it open makes this read fail with
 *   SQLITE_BUSY at once (undefined), never the other way round.
 */
export function readLastCommit(file: string): LastCommit | undefined {
  if (existsSync(`${file}-wal`)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA query_only = 1;');
    const row = db.prepare(LAST_COMMIT_SQL).get() as { seq: number | null; at: number | null; imported: number | string | null };
    return {
      lastSeq: Math.max(row.seq ?? 0, Number(row.imported ?? 0)),
      lastWriteAt: row.at === null ? null : new Date(row.at).toISOString(),
    };
  } catch {
    // Locked (another worker opened it), corrupt, erased meanwhile, or an older schema: unknown here.
    return undefined;
  } finally {
    db?.close();
  }
}

/** Every tenant id under `dataDir`, sorted. A missing fan-out directory has no tenants. */
export async function listTenantIds(dataDir: string): Promise<string[]> {
  const dirs = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  const ids: string[] = [];
  for (let i = 0; i < dirs.length; i += READDIR_CONCURRENCY) {
    const batch = await Promise.all(dirs.slice(i, i + READDIR_CONCURRENCY).map((dir) => tenantsIn(dataDir, dir)));
    for (const found of batch) ids.push(...found);
  }
  return ids.sort(compareIds);
}

async function tenantsIn(dataDir: string, dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(dataDir, dir));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
  const ids: string[] = [];
  for (const name of names) {
    if (!name.endsWith(SUFFIX)) continue;
    const id = name.slice(0, -SUFFIX.length);
    if (USER_ID_PATTERN.test(id) && fanOutDir(id) === dir) ids.push(id);
  }
  return ids;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The index of the first id greater than `after` in the sorted `ids`. */
function firstAfter(ids: readonly string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
