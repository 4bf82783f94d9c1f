import { openChangeFeed, type FeedContext } from './change-feed.js';
import { CollectionHandle, CollectionReads, newIdempotencyKey, parseJson, userPath } from './collection-handle.js';
import type { IndexDefinition, IndexInfo } from '../http/api-types.js';
import type { RetryingExchange } from './retrying-exchange.js';
import type { ChangeEvent, ChangesOptions, JsonObject, TxOperation, TxRead, TxResult, WriteOptions } from './types.js';

/** A read-only view of one user's data as of commit `seq`: get, list and query see that snapshot. */
export class SnapshotView {
  constructor(
    private readonly exchange: RetryingExchange,
    readonly userId: string,
    readonly seq: number,
  ) {}

  /** The collection `name` at this snapshot (410 `snapshot_pruned` before the retention horizon). */
  collection<T = JsonObject>(name: string): CollectionReads<T> {
    return new CollectionReads<T>(this.exchange, this.userId, name, this.seq);
  }
}

export type { IndexDefinition, IndexInfo };

/** Everything addressed to one user (tenant): its collections, snapshots, transactions, change feed and indexes. */
export class UserHandle {
  constructor(
    private readonly exchange: RetryingExchange,
    private readonly feed: FeedContext,
    readonly userId: string,
  ) {}

  collection<T = JsonObject>(name: string): CollectionHandle<T> {
    return new CollectionHandle<T>(this.exchange, this.userId, name);
  }

  /** Reads as of commit `seq` (time travel). */
  at(seq: number): SnapshotView {
    return new SnapshotView(this.exchange, this.userId, seq);
  }

  /**
   * Commits `ops` all or nothing if every read of `reads` still has the rev
   * read (0: absent) and every `ifRev` holds; else nothing is applied and
   * PinbaseError `transaction_conflict` (409) lists `problem.conflicts`.
   * Retried with one Idempotency-Key, so it commits at most once.
   */
  async tx(reads: TxRead[], ops: TxOperation[], options: WriteOptions = {}): Promise<TxResult> {
    const response = await this.exchange.call(this.userId, 'POST', userPath(this.userId, '_tx'), {
      headers: { 'content-type': 'application/json', 'idempotency-key': options.idempotencyKey ?? newIdempotencyKey() },
      body: JSON.stringify({ reads, ops }),
      signal: options.signal,
    });
    return parseJson(response) as TxResult;
  }

  /**
   * The user's commits after `since`, one event per commit, as they happen:
   * over a WebSocket where one is available, else SSE. Reconnects after a
   * handover, a worker restart or a network error and resumes after the
   * last commit it delivered (no duplicate, no gap). Ends when `signal`
   * aborts; throws PinbaseError on 401/403 and other non-retryable refusals.
   */
  changes(options: ChangesOptions = {}): AsyncIterableIterator<ChangeEvent> {
    return openChangeFeed(this.feed, this.userId, options);
  }

  /** Creates (or confirms) the index `name` on `collection`; see the README for its states. */
  async putIndex(collection: string, name: string, definition: IndexDefinition, options: { signal?: AbortSignal } = {}): Promise<IndexInfo> {
    const response = await this.exchange.call(this.userId, 'PUT', userPath(this.userId, '_indexes', collection, name), {
      headers: { 'content-type': 'application/json', 'idempotency-key': newIdempotencyKey() },
      body: JSON.stringify(definition),
      signal: options.signal,
    });
    return parseJson(response) as IndexInfo;
  }

  /** Drops the index `name` of `collection` (404 `index_not_found` when absent). */
  async deleteIndex(collection: string, name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.exchange.call(this.userId, 'DELETE', userPath(this.userId, '_indexes', collection, name), {
      headers: { 'idempotency-key': newIdempotencyKey() },
      signal: options.signal,
    });
  }
}
