import type { StoredVersion } from './object-reads.js';

/**
 * The current versions of recently read objects, worker-wide, within a byte
 * budget: a hot read answers from memory instead of the user's SQLite file
 * (a primary-key read costs 4 µs with one file open and 15–35 µs with a
 * thousand, the connections' pages and B-trees no longer in the CPU's caches).
 *
 * Always coherent, because a partition has one writer and it is this process:
 * entries are keyed by the partition's cache generation, a number no other
 * open of any file ever had, which the partition moves on before each of its
 * commits (Partition.commitNext: every write, import, revert, prune and index
 * build goes through one). An entry of an older generation can no longer be
 * looked up; it waits for the LRU to drop it. A read of a snapshot (`?at=`)
 * never comes here.
 *
 * Bounded: an entry counts its body's and key's UTF-16 size plus ENTRY_OVERHEAD
 * bytes; bodies over `maxBytes / 64` are not kept; least recently used go first.
 */
export class ObjectCache {
  private readonly entries = new Map<string, { version: StoredVersion; bytes: number }>();
  private bytes = 0;
  private readonly maxEntryBytes: number;
  private nextGeneration = 1;
  hits = 0;
  misses = 0;

  /** `maxBytes` 0: nothing is kept. */
  constructor(readonly maxBytes: number) {
    this.maxEntryBytes = Math.floor(maxBytes / 64);
  }

  /** A cache generation used by no one before: a partition takes one at open and before each commit. */
  generation(): number {
    return this.nextGeneration++;
  }

  /** The current version of (collection, id) in `generation`, if kept. */
  get(generation: number, collection: string, id: string): StoredVersion | undefined {
    if (this.maxBytes === 0) return undefined;
    const key = cacheKey(generation, collection, id);
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Most recently used last: re-inserting moves it to the end of the Map's order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.version;
  }

  /** Keeps `version` as the current version of (collection, id) in `generation`. */
  set(generation: number, collection: string, id: string, version: StoredVersion): void {
    const key = cacheKey(generation, collection, id);
    const bytes = 2 * (key.length + (version.body?.length ?? 0)) + ENTRY_OVERHEAD;
    if (bytes > this.maxEntryBytes) return;
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.bytes -= previous.bytes;
    }
    this.entries.set(key, { version, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  /** Bytes held, as counted against maxBytes. */
  get size(): number {
    return this.bytes;
  }

  get count(): number {
    return this.entries.size;
  }
}

/** What an entry costs beyond its strings: the Map slot, the entry and version objects (measured ~150 bytes; rounded up). */
const ENTRY_OVERHEAD = 256;

/** Collections never contain "/" (COLLECTION_PATTERN), so the key is unambiguous. */
function cacheKey(generation: number, collection: string, id: string): string {
  return `${generation}/${collection}/${id}`;
}
