import { PinbaseError } from '../problem/pinbase-error.js';
import type { ChainHead, VersionHead } from './object-reads.js';
import type { WriteContext } from './object-writes.js';
import type { WriteResult } from './write-request.js';

/** An object with a version after some commit: its current version, and the one it had at that commit. */
export interface ChangedObject {
  collection: string;
  id: string;
  /** Its current version, tombstones included. */
  current: ChainHead;
  /** Its version at the commit (a tombstone included); undefined when it had none then. */
  then: PastVersion | undefined;
}

/** A version an object had at an earlier commit, as a revert needs to judge it. */
export interface PastVersion extends VersionHead {
  /** Bytes of its body (0 for a tombstone). */
  bytes: number;
  /** Whether its body is the current version's, byte for byte. */
  sameBody: boolean;
}

/**
 * Most objects one revert may change (each gets one new version in the
 * revert's commit). Beyond it: 413 transaction_too_large, nothing applied;
 * a larger revert is done collection by collection. A revert runs inside
 * one commit batch and holds the event loop throughout: measured (see
 * docs/ARCHITECTURE.md, "Revert") 0.65 s for 10,000 objects and 5 s for
 * 100,000 on a loaded 2-core machine. A block longer than the lease's
 * stale time (2 s by default) makes proper-lockfile give up every lease
 * this worker holds, so the bound stays well under it.
 */
export const MAX_REVERT_OBJECTS = 10_000;

/**
 * Most objects changed after `to` one revert walks (those that end up
 * unchanged included: changed and changed back, or created and deleted
 * since): bounds its CPU (a walked object costs about half of a changed
 * one) and the plan it keeps in memory (one small entry per object to
 * change, none per object walked).
 */
export const MAX_REVERT_WALK = 2 * MAX_REVERT_OBJECTS;

/** What the revert writes for one object: its body at `to`, or null (a tombstone). */
interface RevertStep {
  object: ChangedObject;
  /** The version whose body is restored; undefined: the object is deleted. */
  restore: PastVersion | undefined;
}

/**
 * One new commit that gives every object of `collection` (or of the user)
 * the state it had at commit `to`: a body that differs gets a new version
 * with the old body, an object absent or deleted at `to` and live now gets
 * a tombstone, one live at `to` and deleted now is re-created. History
 * stays, so a revert is itself revertible. Nothing to change: no commit,
 * the answer names the last commit and reverted 0.
 *
 * Cost: only objects with a version after `to` are walked (the objects
 * index by rev), each with one chain walk back to `to` (one row read per
 * version written since) and, when it was live both then and now under
 * another version, one comparison of the two bodies (in SQLite, one row
 * read); then each object to change gets one append, its old body read. Bounded by
 * MAX_REVERT_WALK objects walked and MAX_REVERT_OBJECTS changed (413
 * transaction_too_large), and the restored bytes count against the quota
 * (507 quota_exceeded). Everything is checked before anything is appended.
 */
export function applyRevert(ctx: WriteContext, to: number, collection: string | undefined): WriteResult {
  ctx.assertSnapshot(to);
  const steps: RevertStep[] = [];
  let walked = 0;
  let bytes = 0;
  for (const object of ctx.objects.changedSince(to, collection)) {
    if (++walked > MAX_REVERT_WALK) throw tooLarge(`walks more than ${MAX_REVERT_WALK} objects changed since ${to}`);
    const step = revertStep(object);
    if (step === undefined) continue;
    if (steps.length >= MAX_REVERT_OBJECTS) throw tooLarge(`changes more than ${MAX_REVERT_OBJECTS} objects`);
    bytes += step.restore?.bytes ?? 0;
    steps.push(step);
  }
  if (steps.length === 0) return { kind: 'revert', seq: ctx.lastSeq, reverted: 0 };
  ctx.assertRoom(bytes);
  const seq = ctx.commitSeq();
  for (const { object, restore } of steps) {
    const body = restore ? ctx.objects.body(restore) : null;
    ctx.objects.append(object.collection, object.id, body, object.current, seq, ctx.now);
  }
  return { kind: 'revert', seq, reverted: steps.length };
}

function revertStep(object: ChangedObject): RevertStep | undefined {
  const { current, then } = object;
  const liveThen = then !== undefined && !then.deleted;
  const liveNow = !current.deleted;
  if (!liveThen) return liveNow ? { object, restore: undefined } : undefined;
  if (!liveNow) return { object, restore: then };
  if (then.vid === current.vid || then.sameBody) return undefined;
  return { object, restore: then };
}

function tooLarge(what: string): PinbaseError {
  return new PinbaseError('transaction_too_large', `this revert ${what}; nothing was applied: revert by collection, or to a later commit`, {
    extensions: { maxObjects: MAX_REVERT_OBJECTS },
  });
}
