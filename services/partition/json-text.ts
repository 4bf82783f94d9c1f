import { PinbaseError } from '../problem/pinbase-error.js';
import { DOCUMENT_STRUCTURE, scanJsonText, type JsonStructureLimits } from './json-structure.js';

/**
 * Parses JSON text from outside (a request body, an import file's line or
 * stored row). Its structure is checked before JSON.parse builds anything
 * (see scanJsonText: DOCUMENT_STRUCTURE's depth and node limits bound the
 * time parsing takes): `invalid_body` for nesting or nodes beyond them,
 * `forbidden_key` for a `__proto__` or `constructor` key at any depth
 * (including ones spelled with \u escapes), `invalid_body` for what I-JSON
 * (RFC 7493) rules out because it could not be stored and read back as
 * sent: an object with two members of one name (JSON.parse would keep the
 * last one), a number a double cannot hold (beyond its range, or with more
 * digits than it keeps); then `invalid_json` for malformed JSON; then
 * `invalid_body` for an unpaired surrogate escape (not a Unicode string).
 */
export function parseJsonText(text: string, limits: JsonStructureLimits = DOCUMENT_STRUCTURE): unknown {
  scanJsonText(text, limits, true);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PinbaseError('invalid_json', (error as Error).message);
  }
  // Only text with a surrogate escape can hold one: the walk is paid for by those alone.
  if (SURROGATE_ESCAPE.test(text)) assertUnicodeStrings(value);
  return value;
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** In Unicode mode a surrogate pair is one code point: only an unpaired surrogate matches. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/** Throws `invalid_body` for a string with an unpaired surrogate anywhere in `value`, member names included. */
function assertUnicodeStrings(value: unknown): void {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'string') {
      if (UNPAIRED_SURROGATE.test(current)) throw new PinbaseError('invalid_body', 'a string holds an unpaired surrogate (RFC 7493 §2.1)');
    } else if (Array.isArray(current)) {
      for (const item of current) pending.push(item);
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) {
        pending.push(key, item);
      }
    }
  }
}
