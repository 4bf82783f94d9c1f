import { setTimeout as sleep } from 'node:timers/promises';
import type { Statements } from '../partition/statements.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import {
  buildIndexStep,
  countIndexes,
  createIndex,
  dropIndex,
  findIndex,
  listIndexes,
  sameDefinition,
  type IndexEntry,
  type IndexSpec,
} from './index-catalog.js';

/** What the builder needs of the partition it builds in (Partition). */
export interface BuildHost {
  readonly state: string;
  /** The partition's connection, for reads between batches. */
  readonly sql: Statements;
  /** The pool closes a partition unused for a while; a build step counts as a use. */
  lastUsed: number;
  readonly objects: { indexGeneration: number; readonly indexedCollections: Set<string> };
  maintain<T>(task: (sql: Statements, now: number) => T): Promise<T>;
}

/** What a PUT of an index did. */
export interface IndexPutOutcome {
  entry: IndexEntry;
  /** False: an index of that name and definition existed (a no-op). */
  created: boolean;
}

/** A build that met the partition full of writes waits this long before its next step. */
const OVERLOADED_BACKOFF_MS = 100;

/**
 * Creates, drops and builds the secondary indexes of one open partition.
 * Owned by the partition: a build runs only while it is open, one step (one
 * maintain() job of INDEX_BUILD_BATCH objects) at a time, yielding to the
 * event loop between steps, so ordinary writes commit between them and a
 * closing partition waits for one step at most. A build interrupted by a
 * close (eviction, handover, shutdown, crash) is resumed by whoever opens
 * the partition next (resume(), on open), from the catalog's built_through.
 */
export class IndexBuilder {
  /** Builds running, by collection/name/generation: at most one loop per index. */
  private readonly running = new Set<string>();
  private readonly finished = new Set<() => void>();

  constructor(private readonly host: BuildHost) {}

  /** Starts the builds the catalog says are unfinished (on open). */
  resume(sql: Statements): void {
    for (const entry of listIndexes(sql)) if (entry.state === 'building') this.start(entry);
  }

  /**
   * PUT: creates the index unless one of that name exists. The same
   * definition again is a no-op answering the index as it is; another is
   * index_exists. A new index starts building in the job that creates it:
   * a collection of at most INDEX_BUILD_BATCH objects is ready at once, and
   * a unique index on such a collection whose objects break it is refused
   * (unique_violation, nothing created). A larger collection continues in
   * the background.
   */
  async put(spec: IndexSpec): Promise<IndexPutOutcome> {
    const outcome = await this.host.maintain((sql, now): IndexPutOutcome => {
      const existing = findIndex(sql, spec.collection, spec.name);
      if (existing) {
        if (!sameDefinition(existing, spec)) {
          throw new PinbaseError('index_exists', `index "${spec.name}" of "${spec.collection}" exists with another definition; delete it first`);
        }
        return { entry: existing, created: false };
      }
      const previousGeneration = this.host.objects.indexGeneration;
      const entry = createIndex(sql, spec, now);
      // Every version written from now on (this batch's later writes too) is
      // covered by the new index, and keeps `live` exact in its collection
      // (StoredObjects.indexedCollections). Should the batch not commit, the
      // collection stays in the set: that costs writes there an UPDATE each
      // until the partition is reopened, and is never wrong.
      this.host.objects.indexGeneration = entry.generation;
      this.host.objects.indexedCollections.add(spec.collection);
      try {
        return { entry: buildIndexStep(sql, entry, 'throw')!, created: true };
      } catch (error) {
        // The job's savepoint takes the index back: so does the generation.
        this.host.objects.indexGeneration = previousGeneration;
        throw error;
      }
    });
    if (outcome.created && outcome.entry.state === 'building') this.start(outcome.entry);
    return outcome;
  }

  /** DELETE: drops the index (a build of it stops at its next step). index_not_found if there is none. */
  async drop(collection: string, name: string): Promise<void> {
    await this.host.maintain((sql) => {
      if (!dropIndex(sql, collection, name)) throw notFound(collection, name);
    });
    // Writes to a collection without an index need not keep `live` exact
    // (StoredObjects.indexedCollections). Only once the drop has committed
    // (a batch that does not commit leaves the index, which must keep seeing
    // exact flags), and only if the collection has no index now: read here,
    // between batches (they run synchronously), so that an index created
    // since, which added the collection inside its own job, keeps it. A
    // superseded version left live = 1 from now on has an `ixgen` below any
    // later index's generation: no index sees it.
    if (this.host.state === 'open' && countIndexes(this.host.sql, collection) === 0) {
      this.host.objects.indexedCollections.delete(collection);
    }
  }

  /** Resolves once no build is running (they finished, failed or stopped for a close). */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.finished.add(resolve));
  }

  private start(key: { collection: string; name: string; generation: number }): void {
    const id = `${key.collection}/${key.name}/${key.generation}`;
    if (this.running.has(id)) return;
    this.running.add(id);
    void this.build(key).finally(() => {
      this.running.delete(id);
      if (this.running.size > 0) return;
      for (const resolve of this.finished) resolve();
      this.finished.clear();
    });
  }

  private async build(key: { collection: string; name: string; generation: number }): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.host.state !== 'open') return;
      let entry: IndexEntry | undefined;
      try {
        entry = await this.host.maintain((sql) => buildIndexStep(sql, key));
      } catch (error) {
        // A full queue: let the writes go first. Anything else (the partition
        // lost or closing, storage failing): stop; the next open resumes.
        if (error instanceof PinbaseError && error.code === 'overloaded') {
          await sleep(OVERLOADED_BACKOFF_MS);
          continue;
        }
        return;
      }
      this.host.lastUsed = Date.now();
      if (entry?.state !== 'building') return;
    }
  }
}

export function notFound(collection: string, name: string): PinbaseError {
  return new PinbaseError('index_not_found', `no index "${name}" on "${collection}"`, { extensions: { collection, index: name } });
}
