import type { JsonPatchOperation } from './json-patch.js';

/** A parsed JSON object (a document, or a merge patch). */
export type JsonObject = Record<string, unknown>;

/** A JSON Merge Patch (RFC 7396: an object) or a JSON Patch (RFC 6902: an array of operations, checked by parseJsonPatch). */
export type ObjectPatch = JsonObject | JsonPatchOperation[];

/** HTTP conditional headers, parsed: revs, or "*" (any / none). */
export interface Precondition {
  ifMatch?: '*' | number[];
  ifNoneMatch?: '*' | number[];
}

export interface ReadCheck {
  collection: string;
  id: string;
  /** The rev the client read; 0 when it read "does not exist". */
  rev: number;
}

export type TxOperation =
  | { op: 'put'; collection: string; id: string; data: JsonObject; ifRev?: number }
  | { op: 'patch'; collection: string; id: string; patch: ObjectPatch; ifRev?: number }
  | { op: 'delete'; collection: string; id: string; ifRev?: number }
  | { op: 'create'; collection: string; id?: string; data: JsonObject };

/** What the store is asked to write. Built by the HTTP layer from validated names and parsed JSON. */
export type WriteRequest =
  | { op: 'put'; collection: string; id: string; document: JsonObject; precondition: Precondition }
  | { op: 'patch'; collection: string; id: string; patch: ObjectPatch; precondition: Precondition }
  | { op: 'delete'; collection: string; id: string; precondition: Precondition }
  | { op: 'create'; collection: string; document: JsonObject }
  | { op: 'tx'; reads: ReadCheck[]; ops: TxOperation[] }
  /** Restores every object (of `collection`, or of the whole user) to its state at commit `to`, in one new commit. */
  | { op: 'revert'; to: number; collection?: string };

export interface TxResultEntry {
  op: TxOperation['op'];
  collection: string;
  id: string;
  rev: number;
  deleted: boolean;
}

/** What a write did. Stored under its Idempotency-Key and replayed verbatim. */
export type WriteResult =
  | {
      kind: 'object';
      outcome: 'created' | 'updated' | 'deleted';
      collection: string;
      id: string;
      rev: number;
      seq: number;
    }
  | { kind: 'tx'; seq: number; results: TxResultEntry[] }
  /** `reverted` objects changed at `seq`; none: `seq` is the last commit, and nothing was committed. */
  | { kind: 'revert'; seq: number; reverted: number };

export interface IdempotencyClaim {
  key: string;
  /** A hash of everything that makes the request what it is (method, path, headers, body). */
  requestHash: string;
}

export interface WriteOutcome {
  result: WriteResult;
  /** True when the result was stored earlier under the same Idempotency-Key and nothing was applied now. */
  replayed: boolean;
}
