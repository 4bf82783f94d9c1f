import { PinbaseError } from '../problem/pinbase-error.js';
import { applyJsonPatchToObject, inTransactionOp, PatchBudget } from './json-patch.js';
import { assertNodeCount, DOCUMENT_STRUCTURE, scanJsonStructure } from './json-structure.js';
import { mergePatchInPlace } from './merge-patch.js';
import { newObjectId } from './object-id.js';
import type { ChainHead, VersionHead } from './object-reads.js';
import { applyRevert, type ChangedObject } from './revert-write.js';
import type {
  JsonObject,
  ObjectPatch,
  Precondition,
  ReadCheck,
  TxOperation,
  TxResultEntry,
  WriteRequest,
  WriteResult,
} from './write-request.js';

/** The objects a write reads and appends versions to: a partition's file, or nothing (a user with no file). */
export interface ObjectAccess {
  /** The current version of (collection, id) without its body, tombstones included; undefined if it never existed. */
  head(collection: string, id: string): ChainHead | undefined;
  /** The body of a live version returned by head(). */
  body(head: VersionHead): string;
  /**
   * Makes `body` (null: a deletion) the current version of (collection, id)
   * at commit `seq`, linked to `previous` (its current version as head()
   * returned it).
   */
  append(collection: string, id: string, body: string | null, previous: ChainHead | undefined, seq: number, now: number): void;
  /**
   * Every object (of `collection`, or all) with a version after commit
   * `at`, tombstones included, with its version at `at`. Read lazily: the
   * caller may stop early; it appends only once done iterating.
   */
  changedSince(at: number, collection: string | undefined): Iterable<ChangedObject>;
}

/** What one write may cost. */
export interface WriteLimits {
  /** Largest document, serialised (413 body_too_large beyond). */
  maxDocumentBytes: number;
  /**
   * Most bytes of documents one transaction may touch: the stored size of
   * every object it patches (each loaded and parsed once) plus the size of
   * every version it writes (each serialised once). 413
   * transaction_too_large beyond, nothing applied.
   */
  maxTransactionBytes: number;
}

/**
 * Most JSON nodes (objects, arrays, members) of stored documents one
 * transaction may parse: two documents of the largest structure
 * (DOCUMENT_STRUCTURE.maxNodes), so that a transaction costs at most about
 * what a PATCH of the largest document does. 413 transaction_too_large
 * beyond.
 */
export const MAX_TRANSACTION_NODES = 2 * DOCUMENT_STRUCTURE.maxNodes;

/** What a write needs from the commit batch it runs in. */
export interface WriteContext {
  readonly objects: ObjectAccess;
  readonly now: number;
  readonly limits: WriteLimits;
  /** The last commit before this write: what a write that changes nothing answers with. */
  readonly lastSeq: number;
  /** Throws snapshot_in_future beyond lastSeq, snapshot_pruned before the retention horizon. */
  assertSnapshot(at: number): void;
  /** The seq of the commit this write request becomes; allocated on first call, then the same. */
  commitSeq(): number;
  /**
   * Throws quota_exceeded unless the user's file has room for `bytes` more
   * of documents. Deletions (0 bytes) always pass.
   */
  assertRoom(bytes: number): void;
}

/**
 * Applies one write request: checks its preconditions, then appends its
 * versions through ctx.objects. Throws PinbaseError (precondition_failed,
 * object_not_found, transaction_conflict, body_too_large,
 * transaction_too_large, quota_exceeded, ...) before it appends anything.
 */
export function applyWrite(ctx: WriteContext, request: WriteRequest): WriteResult {
  switch (request.op) {
    case 'put': {
      const stored = ctx.objects.head(request.collection, request.id);
      const current = live(stored);
      checkPrecondition(current, request.precondition);
      const document = serialize(ctx, request.document, false);
      ctx.assertRoom(document.bytes);
      const rev = append(ctx, request.collection, request.id, document.text, stored);
      return objectResult(ctx, current ? 'updated' : 'created', request.collection, request.id, rev);
    }
    case 'patch': {
      const current = live(ctx.objects.head(request.collection, request.id));
      checkPrecondition(current, request.precondition);
      if (!current) throw new PinbaseError('object_not_found', `${request.collection}/${request.id} does not exist`);
      const patched = patchDocument(JSON.parse(ctx.objects.body(current)) as JsonObject, request.patch);
      const document = serialize(ctx, patched, true);
      ctx.assertRoom(document.bytes);
      const rev = append(ctx, request.collection, request.id, document.text, current);
      return objectResult(ctx, 'updated', request.collection, request.id, rev);
    }
    case 'delete': {
      const current = live(ctx.objects.head(request.collection, request.id));
      checkPrecondition(current, request.precondition);
      if (!current) throw new PinbaseError('object_not_found', `${request.collection}/${request.id} does not exist`);
      const rev = append(ctx, request.collection, request.id, null, current);
      return objectResult(ctx, 'deleted', request.collection, request.id, rev);
    }
    case 'create': {
      const id = newObjectId(ctx.now);
      const document = serialize(ctx, request.document, false);
      ctx.assertRoom(document.bytes);
      const rev = append(ctx, request.collection, id, document.text, undefined);
      return objectResult(ctx, 'created', request.collection, id, rev);
    }
    case 'tx':
      return applyTransaction(ctx, request.reads, request.ops);
    case 'revert':
      return applyRevert(ctx, request.to, request.collection);
  }
}

/**
 * `document` (the caller's own: changed in place) patched by a merge patch
 * (an object) or a JSON Patch (an array). A JSON Patch throws
 * patch_test_failed, patch_conflict, invalid_patch, forbidden_key or
 * invalid_body (see applyJsonPatch), and may have changed `document`
 * before it threw: the write it belongs to is then abandoned.
 */
function patchDocument(document: JsonObject, patch: ObjectPatch, budget?: PatchBudget): JsonObject {
  return Array.isArray(patch) ? applyJsonPatchToObject(document, patch, budget) : (mergePatchInPlace(document, patch) as JsonObject);
}

/** A user with no file: no object exists, and nothing is ever appended. */
const NO_OBJECTS: ObjectAccess = {
  head: () => undefined,
  body: () => {
    throw new Error('a user with no file has no bodies');
  },
  append: () => undefined,
  changedSince: () => [],
};

/**
 * Bytes a new partition takes once created (its schema's pages: 7 of 2 KiB
 * measured), rounded up: what a user's first write is checked against its
 * quota with.
 */
export const NEW_PARTITION_BYTES = 32 * 1024;

/**
 * Judges `request` against a user who has no file: throws the PinbaseError
 * it would get there (a precondition, patch or delete of a missing object, a
 * transaction read set naming a rev, a limit), or returns when it would
 * commit. Pure: no I/O. This is how a write that fails creates no file.
 * Returns what the write would answer there: a result whose seq is 0 (a
 * revert, which has nothing to change) commits nothing and needs no file.
 */
export function judgeOnEmptyPartition(
  request: WriteRequest,
  limits: WriteLimits,
  maxUserBytes: number,
  now = Date.now(),
): WriteResult {
  return applyWrite(
    {
      objects: NO_OBJECTS,
      now,
      limits,
      lastSeq: 0,
      assertSnapshot: (at) => assertSnapshotWithin(at, 0, 0),
      commitSeq: () => 1,
      assertRoom: (bytes) => assertQuota(NEW_PARTITION_BYTES, bytes, maxUserBytes),
    },
    request,
  );
}

/** See WriteContext.assertSnapshot: `at` must lie in [prunedThrough, seq]. */
export function assertSnapshotWithin(at: number, seq: number, prunedThrough: number): void {
  if (at > seq) {
    throw new PinbaseError('snapshot_in_future', `the latest commit is ${seq}`, { extensions: { seq } });
  }
  if (at < prunedThrough) {
    throw new PinbaseError('snapshot_pruned', `the oldest snapshot kept is ${prunedThrough}`, {
      extensions: { oldest: prunedThrough },
    });
  }
}

/** Throws quota_exceeded when `bytes` more on `usedBytes` would exceed `maxUserBytes` (0: no quota). */
export function assertQuota(usedBytes: number, bytes: number, maxUserBytes: number): void {
  if (maxUserBytes === 0 || bytes === 0 || usedBytes + bytes <= maxUserBytes) return;
  throw new PinbaseError(
    'quota_exceeded',
    `this user's data takes ${usedBytes} of its ${maxUserBytes} bytes; this write needs ${bytes} more (deletes are still accepted)`,
    { extensions: { usedBytes, maxBytes: maxUserBytes } },
  );
}

function objectResult(
  ctx: WriteContext,
  outcome: 'created' | 'updated' | 'deleted',
  collection: string,
  id: string,
  rev: number,
): WriteResult {
  return { kind: 'object', outcome, collection, id, rev, seq: ctx.commitSeq() };
}

function append(ctx: WriteContext, collection: string, id: string, body: string | null, previous: ChainHead | undefined): number {
  const seq = ctx.commitSeq();
  ctx.objects.append(collection, id, body, previous, seq, ctx.now);
  return seq;
}

/** The version if it is a live object, undefined if missing or deleted. */
function live<V extends VersionHead>(version: V | undefined): V | undefined {
  return version && !version.deleted ? version : undefined;
}

function checkPrecondition(current: VersionHead | undefined, precondition: Precondition): void {
  const { ifMatch, ifNoneMatch } = precondition;
  const rev = current?.rev;
  if (ifMatch !== undefined) {
    const matches = rev !== undefined && (ifMatch === '*' || ifMatch.includes(rev));
    if (!matches) {
      throw new PinbaseError('precondition_failed', `If-Match failed: current rev is ${rev ?? 'none (object does not exist)'}`, {
        extensions: { currentRev: rev ?? null },
      });
    }
  }
  if (ifNoneMatch !== undefined) {
    const matches = rev !== undefined && (ifNoneMatch === '*' || ifNoneMatch.includes(rev));
    if (matches) {
      throw new PinbaseError('precondition_failed', `If-None-Match failed: current rev is ${rev}`, {
        extensions: { currentRev: rev },
      });
    }
  }
}

/**
 * The document as stored: JSON text of at most maxDocumentBytes. With
 * `countNodes`, first held to DOCUMENT_STRUCTURE's node limit: for a merged
 * document (a merge of two can hold more than either; its depth is at most
 * theirs) and a transaction's (its body's limit covers all its documents
 * together). A PUT or POST body was checked before it was parsed.
 */
function serialize(ctx: WriteContext, document: JsonObject, countNodes: boolean): { text: string; bytes: number } {
  if (countNodes) assertNodeCount(document);
  const text = JSON.stringify(document);
  const bytes = Buffer.byteLength(text);
  if (bytes > ctx.limits.maxDocumentBytes) {
    throw new PinbaseError('body_too_large', `documents are limited to ${ctx.limits.maxDocumentBytes} bytes`);
  }
  return { text, bytes };
}

interface Conflict {
  collection: string;
  id: string;
  /** The rev the client expected; null when it expected the object to exist. */
  expected: number | null;
  actual: number;
  reason: string;
}

/** One object a transaction touches, as the transaction has left it so far. */
interface TouchedObject {
  collection: string;
  id: string;
  /** Its current version before the transaction (tombstones included). */
  stored: ChainHead | undefined;
  /** Its rev before the transaction, 0 when absent: what read sets and `ifRev` are judged against. */
  committedRev: number;
  /** Whether it exists at this point of the transaction. */
  live: boolean;
  /** Its document at this point: undefined while not loaded (still `stored`), null once deleted. */
  value: JsonObject | null | undefined;
  /** Written by an op: gets one new version at the end. */
  dirty: boolean;
  /** `value` is the transaction's own (loaded, or copied): patches change it in place. */
  owned: boolean;
}

/** What a transaction has touched so far, against WriteLimits.maxTransactionBytes and MAX_TRANSACTION_NODES. */
class TouchBudget {
  private bytes = 0;
  private nodes = 0;

  constructor(private readonly maxBytes: number) {}

  add(bytes: number, nodes: number): void {
    this.bytes += bytes;
    this.nodes += nodes;
    if (this.bytes > this.maxBytes) {
      throw new PinbaseError('transaction_too_large', `a transaction may touch at most ${this.maxBytes} bytes of documents; nothing was applied`, {
        extensions: { maxBytes: this.maxBytes },
      });
    }
    if (this.nodes > MAX_TRANSACTION_NODES) {
      throw new PinbaseError(
        'transaction_too_large',
        `a transaction may parse at most ${MAX_TRANSACTION_NODES} JSON objects, arrays and members of stored documents; nothing was applied`,
        { extensions: { maxNodes: MAX_TRANSACTION_NODES } },
      );
    }
  }
}

/**
 * A transaction: every read-set entry and every `ifRev` must hold against
 * the state committed before it (the only revs a client can know); then all
 * operations apply in order, each seeing the ones before it, all at one seq.
 * Any conflict: nothing applies, and the 409 lists every conflict found.
 *
 * Cost: the ops run on an in-memory copy of each object touched. An object
 * is loaded and parsed at most once (at its first patch), serialised and
 * written once at the end, whatever the number of ops on it; the bytes and
 * nodes of all of that are held to WriteLimits.maxTransactionBytes and
 * MAX_TRANSACTION_NODES (413 transaction_too_large), and the op and read
 * counts to the body schema's 1000 each.
 */
function applyTransaction(ctx: WriteContext, reads: ReadCheck[], ops: TxOperation[]): WriteResult {
  const conflicts: Conflict[] = [];
  const budget = new TouchBudget(ctx.limits.maxTransactionBytes);
  // Shared by every JSON Patch of the transaction; what they copy or walk counts as nodes touched.
  const patchBudget = new PatchBudget((nodes) => budget.add(0, nodes));
  const touched = new Map<string, TouchedObject>();
  const touch = (collection: string, id: string): TouchedObject => {
    const key = `${collection}\u0000${id}`;
    let object = touched.get(key);
    if (!object) {
      const stored = ctx.objects.head(collection, id);
      const current = live(stored);
      object = {
        collection,
        id,
        stored,
        committedRev: current?.rev ?? 0,
        live: current !== undefined,
        value: undefined,
        dirty: false,
        owned: false,
      };
      touched.set(key, object);
    }
    return object;
  };
  for (const read of reads) {
    const actual = touch(read.collection, read.id).committedRev;
    if (actual !== read.rev) {
      conflicts.push({ collection: read.collection, id: read.id, expected: read.rev, actual, reason: 'read set changed' });
    }
  }
  const results: Omit<TxResultEntry, 'rev'>[] = [];
  for (const [index, op] of ops.entries()) {
    const id = op.op === 'create' ? (op.id ?? newObjectId(ctx.now)) : op.id;
    const object = touch(op.collection, id);
    const expected = op.op === 'create' ? 0 : op.ifRev;
    if (expected !== undefined && expected !== object.committedRev) {
      conflicts.push({ collection: op.collection, id, expected, actual: object.committedRev, reason: `${op.op} precondition` });
      continue;
    }
    if ((op.op === 'patch' || op.op === 'delete') && !object.live) {
      conflicts.push({ collection: op.collection, id, expected: null, actual: 0, reason: `${op.op} of a missing object` });
      continue;
    }
    // Ops after a conflict still apply (to the copies, which are then
    // dropped), so that later ops are judged as if earlier ones had applied
    // and only real conflicts are listed.
    if (op.op === 'delete') {
      object.value = null;
      object.live = false;
    } else if (op.op === 'patch') {
      if (!object.owned) {
        // The request's own data (a put earlier in the transaction) is copied before it is changed.
        object.value = object.value === undefined ? load(ctx, budget, object.stored!) : (JSON.parse(JSON.stringify(object.value)) as JsonObject);
        object.owned = true;
      }
      object.value = patchInTransaction(object.value!, op.patch, index, patchBudget);
    } else {
      object.value = op.data;
      object.live = true;
      object.owned = false;
    }
    object.dirty = true;
    results.push({ op: op.op, collection: op.collection, id, deleted: op.op === 'delete' });
  }
  if (conflicts.length > 0) {
    throw new PinbaseError('transaction_conflict', `${conflicts.length} conflict(s); nothing was applied`, {
      extensions: { conflicts },
    });
  }
  const writes: { object: TouchedObject; body: string | null }[] = [];
  let written = 0;
  for (const object of touched.values()) {
    if (!object.dirty) continue;
    if (object.value === null) {
      writes.push({ object, body: null });
      continue;
    }
    const document = serialize(ctx, object.value!, true);
    budget.add(document.bytes, 0);
    written += document.bytes;
    writes.push({ object, body: document.text });
  }
  ctx.assertRoom(written);
  const seq = ctx.commitSeq();
  for (const { object, body } of writes) ctx.objects.append(object.collection, object.id, body, object.stored, seq, ctx.now);
  return {
    kind: 'tx',
    seq,
    results: results.map(({ op, collection, id, deleted }) => ({ op, collection, id, rev: seq, deleted })),
  };
}

/**
 * A transaction's patch op `index` applied to `document`, within the
 * budget all its JSON Patches share; a patch that fails fails the whole
 * transaction, its problem naming the op (`txOp`) besides what the patch
 * names (`op`: the index of the operation inside the JSON Patch, and
 * `path`).
 */
function patchInTransaction(document: JsonObject, patch: ObjectPatch, index: number, budget: PatchBudget): JsonObject {
  try {
    return patchDocument(document, patch, budget);
  } catch (error) {
    throw error instanceof PinbaseError && error.code !== 'transaction_too_large' ? inTransactionOp(error, index) : error;
  }
}

/** Loads and parses a stored document for a transaction, within its budget (checked before parsing). */
function load(ctx: WriteContext, budget: TouchBudget, head: VersionHead): JsonObject {
  const text = ctx.objects.body(head);
  budget.add(Buffer.byteLength(text), 0);
  budget.add(0, scanJsonStructure(text, { maxDepth: Number.MAX_SAFE_INTEGER, maxNodes: Number.MAX_SAFE_INTEGER }));
  return JSON.parse(text) as JsonObject;
}
