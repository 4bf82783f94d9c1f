import { COLLECTION_PATTERN, OBJECT_ID_PATTERN } from '../ids/id-patterns.js';
import type { ChangesPosition } from '../partition/object-reads.js';
import { PinbaseError } from '../problem/pinbase-error.js';

/** Where a listing page ends: the last id returned, and the snapshot it was read at (if any). */
export interface ListCursor {
  after: string;
  at?: number;
}

/** An opaque cursor: base64url JSON. Clients must not build or parse it. */
export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** Decodes a cursor made by encodeCursor; anything else is 400 `invalid_cursor`. */
export function decodeCursor(text: string): ListCursor {
  const invalid = new PinbaseError('invalid_cursor', 'the cursor is not one this server returned');
  const { after, at } = decodeCursorObject(text, invalid) as { after?: unknown; at?: unknown };
  if (typeof after !== 'string' || after.length > 256) throw invalid;
  if (at !== undefined && (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0)) throw invalid;
  return at === undefined ? { after } : { after, at };
}

/**
 * Where a query page ends: the hash of the query it belongs to (filter,
 * order and fields, normalised), its snapshot, and the keyset of the last
 * row (the order's values, then the object id).
 */
export interface QueryCursor {
  query: string;
  at?: number;
  keys: (string | number | null)[];
  id: string;
}

/** Longest cursor (the `cursor` parameter's schema limit). */
export const MAX_CURSOR_CHARS = 2048;

/** An opaque cursor of a query page; undefined when the row's order values make it longer than MAX_CURSOR_CHARS. */
export function encodeQueryCursor(cursor: QueryCursor): string | undefined {
  const text = Buffer.from(JSON.stringify({ q: cursor.query, ...(cursor.at === undefined ? {} : { a: cursor.at }), k: cursor.keys, i: cursor.id })).toString('base64url');
  return text.length > MAX_CURSOR_CHARS ? undefined : text;
}

/** Decodes a cursor made by encodeQueryCursor; anything else (a listing's cursor included) is 400 invalid_cursor. */
export function decodeQueryCursor(text: string): QueryCursor {
  const invalid = new PinbaseError('invalid_cursor', 'the cursor is not one this server returned for a query');
  const { q, a, k, i } = decodeCursorObject(text, invalid) as { q?: unknown; a?: unknown; k?: unknown; i?: unknown };
  if (typeof q !== 'string' || typeof i !== 'string' || i.length > 256 || !Array.isArray(k)) throw invalid;
  if (!k.every((key) => key === null || typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key)))) throw invalid;
  if (a !== undefined && (typeof a !== 'number' || !Number.isSafeInteger(a) || a < 0)) throw invalid;
  return { query: q, keys: k as QueryCursor['keys'], id: i, ...(a === undefined ? {} : { at: a }) };
}

/**
 * Where the change feed resumes inside a commit that comes in parts (a page
 * of `_changes`, an SSE event's id, a WebSocket message): the commit's seq
 * and the last object sent of it.
 */
export function encodeChangesCursor(position: Required<ChangesPosition>): string {
  return Buffer.from(JSON.stringify({ s: position.seq, c: position.after.collection, i: position.after.id })).toString('base64url');
}

/** Decodes a cursor made by encodeChangesCursor; anything else is 400 `invalid_cursor`. */
export function decodeChangesCursor(text: string): Required<ChangesPosition> {
  const invalid = new PinbaseError('invalid_cursor', 'the cursor is not one this server returned for the change feed');
  const { s, c, i } = decodeCursorObject(text, invalid) as { s?: unknown; c?: unknown; i?: unknown };
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 1) throw invalid;
  if (typeof c !== 'string' || !COLLECTION_PATTERN.test(c) || typeof i !== 'string' || !OBJECT_ID_PATTERN.test(i)) throw invalid;
  return { seq: s, after: { collection: c, id: i } };
}

/** The JSON object inside a base64url cursor of at most MAX_CURSOR_CHARS; `invalid` for anything else. */
function decodeCursorObject(text: string, invalid: PinbaseError): object {
  if (text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) throw invalid;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (typeof value !== 'object' || value === null) throw invalid;
  return value;
}
