/**
 * The client's public types: what the worker answers and takes, as the
 * client hands them to callers. They mirror the worker's route schemas
 * (services/http/schemas.ts) and handlers; `T` is the caller's type of an
 * object's data (not checked at run time: the server stores any JSON object).
 */

import type {
  ChangeEvent,
  ChangeRow,
  HistoryPage,
  JsonDocument,
  JsonPatchOperation,
  ObjectEnvelope,
  ObjectVersion,
  Topology,
  TransactionOperation,
  TransactionRead,
  TransactionResult,
  TransactionResultEntry,
  WriteResult as WireWriteResult,
} from '../http/api-types.js';

// The wire shapes, derived from the worker's own schemas (services/http/api-types.ts): one source of truth.
export type { ChangeEvent, ChangeRow, HistoryPage, JsonPatchOperation, Topology };
/** A JSON object, as stored. */
export type JsonObject = JsonDocument;
/** One item of a listing or query page (a query's `fields` narrow `data`). */
export type PageItem<T> = ObjectEnvelope<T>;
/** One version of an object, newest first; `data` is null for a deletion. */
export type HistoryEntry<T> = ObjectVersion<T>;
/** A read-set entry of a transaction: the rev read (0: read as absent). */
export type TxRead = TransactionRead;
/** One operation of a transaction: put, patch (merge patch object or JSON Patch array), delete, create. */
export type TxOperation = TransactionOperation;
/** A committed transaction: its commit and one entry per operation, in order. */
export type TxResult = TransactionResult;
export type TxResultEntry = TransactionResultEntry;

/** One object as read or written: its id, revision (the seq of its last write), the commit the answer reflects, and its data. */
export interface ObjectResult<T> {
  id: string;
  rev: number;
  /** The partition seq the answer reflects (X-Pinbase-Seq): the write's commit, or the snapshot read. */
  seq: number;
  data: T;
}

/** What a write without a body to echo answers (patch, delete): the object's new revision (`deleted: true` on a delete), and the commit. */
export type WriteResult = WireWriteResult & { seq: number };

/** One page of a listing or query: the items and the commit they reflect. */
export interface Page<T> {
  items: ObjectResult<T>[];
  seq: number;
}

export interface ListOptions {
  /** Items per page, 1–1000 (server default 100). */
  limit?: number;
  /** An AbortSignal that stops the iteration (the pending request rejects with its reason). */
  signal?: AbortSignal;
}

/** A query (README "Queries"): filter in the Mongo / Mango style, order by paths (`-` descending), fields to keep. */
export interface QueryOptions extends ListOptions {
  filter?: JsonObject;
  order?: string[];
  fields?: string[];
}

export interface WriteOptions {
  /** The Idempotency-Key of this write (1–255 visible ASCII characters); a random UUID otherwise. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface PreconditionOptions extends WriteOptions {
  /** Apply only if the object is at this revision (If-Match); else 412 precondition_failed. */
  ifRev?: number;
}

export interface PutOptions extends PreconditionOptions {
  /** Apply only if the object does not exist (If-None-Match: *); else 412 precondition_failed. */
  ifAbsent?: boolean;
}

export interface ChangesOptions {
  /** Deliver the commits after this seq (0: from the beginning; default: only new commits). */
  since?: number;
  /** Include each object's data as of the feed's read. */
  includeData?: boolean;
  /** Ends the iteration (without an error). */
  signal?: AbortSignal;
  /** `auto` (default): WebSocket where available, else SSE; `sse`: SSE only. */
  transport?: 'auto' | 'websocket' | 'sse';
  /**
   * WebSocket: how many commits may wait in memory for a loop that consumes
   * them slower than they arrive (default 1000; also at most 16 Mi characters
   * of messages). Beyond it the client closes the connection and, once the
   * loop has taken what waits, resumes after the last commit delivered. SSE
   * reads only as fast as the loop consumes, and needs no such bound.
   */
  maxBuffered?: number;
}

export interface ClientOptions {
  /** The router's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** A bearer token for every user addressed. */
  token?: string;
  /** The bearer token for `userId`, awaited before every request (cache it yourself). */
  getToken?: (userId: string) => string | Promise<string>;
  /** `router` (default): every request through the router; `direct` (Node only): straight to the owning worker. */
  routing?: 'router' | 'direct';
  /** Overall time budget of one call, retries included (default 30 s). */
  deadlineMs?: number;
  /** Time budget of one attempt (default 10 s). */
  attemptTimeoutMs?: number;
  /** The fetch to use in router mode (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Direct mode: connections per worker (default 16). */
  connectionsPerWorker?: number;
}
