import { PinbaseError } from '../problem/pinbase-error.js';
import { applyMergePatch } from './merge-patch.js';
import { newObjectId } from './object-id.js';
import { readHead, readObject, type StoredVersion, type VersionHead } from './object-reads.js';
import type { Statements } from './statements.js';
import type {
  JsonObject,
  Precondition,
  ReadCheck,
  TxOperation,
  TxResultEntry,
  WriteRequest,
  WriteResult,
} from './write-request.js';

/** What a write needs from the commit batch it runs in. */
export interface WriteContext {
  readonly sql: Statements;
  readonly now: number;
  readonly maxDocumentBytes: number;
  /** The seq of the commit this write request becomes; allocated on first call, then the same. */
  commitSeq(): number;
}

/**
 * Applies one write request inside the current SQLite transaction (a
 * savepoint of the batch). Throws PinbaseError (precondition_failed,
 * object_not_found, transaction_conflict, ...) without having changed
 * anything the savepoint does not roll back.
 */
export function applyWrite(ctx: WriteContext, request: WriteRequest): WriteResult {
  switch (request.op) {
    case 'put': {
      const stored = readHead(ctx.sql, request.collection, request.id);
      const current = live(stored);
      checkPrecondition(current, request.precondition);
      const rev = writeVersion(ctx, request.collection, request.id, serialize(ctx, request.document), stored);
      return objectResult(ctx, current ? 'updated' : 'created', request.collection, request.id, rev);
    }
    case 'patch': {
      const current = live(readObject(ctx.sql, request.collection, request.id));
      checkPrecondition(current, request.precondition);
      if (!current) throw new PinbaseError('object_not_found', `${request.collection}/${request.id} does not exist`);
      const rev = writeVersion(ctx, request.collection, request.id, patched(ctx, current, request.patch), current);
      return objectResult(ctx, 'updated', request.collection, request.id, rev);
    }
    case 'delete': {
      const current = live(readHead(ctx.sql, request.collection, request.id));
      checkPrecondition(current, request.precondition);
      if (!current) throw new PinbaseError('object_not_found', `${request.collection}/${request.id} does not exist`);
      const rev = writeVersion(ctx, request.collection, request.id, null, current);
      return objectResult(ctx, 'deleted', request.collection, request.id, rev);
    }
    case 'create': {
      const id = newObjectId(ctx.now);
      const rev = writeVersion(ctx, request.collection, id, serialize(ctx, request.document), undefined);
      return objectResult(ctx, 'created', request.collection, id, rev);
    }
    case 'tx':
      return applyTransaction(ctx, request.reads, request.ops);
  }
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

function serialize(ctx: WriteContext, document: JsonObject): string {
  const text = JSON.stringify(document);
  if (Buffer.byteLength(text) > ctx.maxDocumentBytes) {
    throw new PinbaseError('body_too_large', `documents are limited to ${ctx.maxDocumentBytes} bytes`);
  }
  return text;
}

function patched(ctx: WriteContext, current: StoredVersion, patch: JsonObject): string {
  const merged = applyMergePatch(JSON.parse(current.body!) as unknown, patch) as JsonObject;
  return serialize(ctx, merged);
}

/**
 * Makes `body` (null: a deletion) the current version of (collection, id) at
 * this commit's seq: appends it to `versions`, linked to `previous` (the
 * current version, tombstone included, as just read), and points the
 * object's head at it. Returns the new rev.
 */
export function writeVersion(
  ctx: WriteContext,
  collection: string,
  id: string,
  body: string | null,
  previous: VersionHead | undefined,
): number {
  const seq = ctx.commitSeq();
  const deleted = body === null ? 1 : 0;
  if (previous && previous.rev === seq) {
    // A second write to the same object in one commit replaces the first outright.
    ctx.sql.get('UPDATE versions SET deleted = ?, body = ?, committed_at = ? WHERE vid = ?').run(deleted, body, ctx.now, previous.vid);
    ctx.sql.get('UPDATE objects SET deleted = ? WHERE collection = ? AND id = ?').run(deleted, collection, id);
    return seq;
  }
  const vid = ctx.sql
    .get('INSERT INTO versions (rev, collection, id, prev, deleted, committed_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(seq, collection, id, previous?.vid ?? null, deleted, ctx.now, body).lastInsertRowid;
  if (previous) {
    ctx.sql.get('UPDATE objects SET vid = ?, rev = ?, deleted = ? WHERE collection = ? AND id = ?').run(vid, seq, deleted, collection, id);
  } else {
    ctx.sql.get('INSERT INTO objects (collection, id, vid, rev, deleted) VALUES (?, ?, ?, ?, ?)').run(collection, id, vid, seq, deleted);
  }
  return seq;
}

interface Conflict {
  collection: string;
  id: string;
  /** The rev the client expected; null when it expected the object to exist. */
  expected: number | null;
  actual: number;
  reason: string;
}

/**
 * A transaction: every read-set entry and every `ifRev` must hold against
 * the state committed before it (the only revs a client can know); then all
 * operations apply in order, each seeing the ones before it, all at one seq.
 * Any conflict: nothing applies, and the 409 lists every conflict found.
 */
function applyTransaction(ctx: WriteContext, reads: ReadCheck[], ops: TxOperation[]): WriteResult {
  const conflicts: Conflict[] = [];
  /** Rev of each object touched, as committed before this transaction (0: absent). */
  const committedRevs = new Map<string, number>();
  const committedRev = (collection: string, id: string, stored: VersionHead | undefined) => {
    const key = `${collection}\u0000${id}`;
    let rev = committedRevs.get(key);
    if (rev === undefined) committedRevs.set(key, (rev = live(stored)?.rev ?? 0));
    return rev;
  };
  for (const read of reads) {
    const actual = committedRev(read.collection, read.id, readHead(ctx.sql, read.collection, read.id));
    if (actual !== read.rev) {
      conflicts.push({ collection: read.collection, id: read.id, expected: read.rev, actual, reason: 'read set changed' });
    }
  }
  const results: TxResultEntry[] = [];
  for (const op of ops) {
    const id = op.op === 'create' ? (op.id ?? newObjectId(ctx.now)) : op.id;
    const stored = readHead(ctx.sql, op.collection, id);
    const before = committedRev(op.collection, id, stored);
    const actual = live(stored);
    const expected = op.op === 'create' ? 0 : op.ifRev;
    if (expected !== undefined && expected !== before) {
      conflicts.push({ collection: op.collection, id, expected, actual: before, reason: `${op.op} precondition` });
      continue;
    }
    if ((op.op === 'patch' || op.op === 'delete') && !actual) {
      conflicts.push({ collection: op.collection, id, expected: null, actual: 0, reason: `${op.op} of a missing object` });
      continue;
    }
    // Ops after a conflict still apply (in the savepoint that is rolled back
    // below), so that later ops are judged as if earlier ones had applied and
    // only real conflicts are listed.
    const body =
      op.op === 'delete' ? null : op.op === 'patch' ? patched(ctx, readObject(ctx.sql, op.collection, id)!, op.patch) : serialize(ctx, op.data);
    const rev = writeVersion(ctx, op.collection, id, body, stored);
    results.push({ op: op.op, collection: op.collection, id, rev, deleted: body === null });
  }
  if (conflicts.length > 0) {
    throw new PinbaseError('transaction_conflict', `${conflicts.length} conflict(s); nothing was applied`, {
      extensions: { conflicts },
    });
  }
  return { kind: 'tx', seq: ctx.commitSeq(), results };
}
