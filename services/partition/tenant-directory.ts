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
 * - a page stats only its own entries: at most MAX_PAGE (1000) stat calls.
 * Only names that match USER_ID_PATTERN, end in `.sqlite` and sit in their
 * id's own fan-out directory count: `-wal` files, lease lock directories,
 * owner records and temporary files are ignored.
 *
 * A tenant created or erased in the last CACHE_MS may be missing from (or
 * still be in) the list; one erased between the listing and the page's stat
 * is left out of the page (the page is then shorter than `limit`).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
  ) {}

  /** The tenants whose id sorts after `after` (all when undefined), at most `limit` (1..MAX_PAGE). Reads only. */
  async page(after: string | undefined, limit: number): Promise<TenantPage> {
    const ids = await this.ids();
    const start = after === undefined ? 0 : firstAfter(ids, after);
    const slice = ids.slice(start, start + Math.min(Math.max(limit, 1), MAX_PAGE));
    const stats = await Promise.all(slice.map((id) => this.entry(id)));
    const end = start + slice.length;
    return {
      users: stats.filter((entry): entry is TenantEntry => entry !== undefined),
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

  private async entry(id: string): Promise<TenantEntry | undefined> {
    try {
      const info = await stat(join(this.dataDir, fanOutDir(id), `${id}${SUFFIX}`));
      return { id, bytes: info.size, modifiedAt: info.mtime.toISOString() };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
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
