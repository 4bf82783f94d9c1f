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
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(text)) throw invalid;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (typeof value !== 'object' || value === null) throw invalid;
  const { after, at } = value as { after?: unknown; at?: unknown };
  if (typeof after !== 'string' || after.length > 256) throw invalid;
  if (at !== undefined && (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0)) throw invalid;
  return at === undefined ? { after } : { after, at };
}
