import { PinbaseError } from '../problem/pinbase-error.js';
import { DOCUMENT_STRUCTURE, scanJsonText, type JsonStructureLimits } from './json-structure.js';

/**
 * Parses JSON text from outside (a request body, an import file's line or
 * stored row). Its structure is checked before JSON.parse
 * builds anything (see scanJsonText: DOCUMENT_STRUCTURE's depth and
 * node limits bound the time parsing takes): `invalid_body` for nesting or
 * nodes beyond them, `forbidden_key` for a `__proto__` or `constructor` key
 * at any depth (including ones spelled with \u escapes), `invalid_body` for
 * an object with two members of one name (JSON.parse would keep the last
 * one, so the document would be stored without the first); then
 * `invalid_json` for malformed JSON; then `invalid_body` for the rest of
 * what I-JSON (RFC 7493) rules out because it cannot be stored and read
 * back as sent: a number beyond the range of a double (JSON.parse makes it
 * Infinity, which would be stored as null) and an unpaired surrogate escape
 * (not a Unicode string).
 */
export function parseJsonText(text: string, limits: JsonStructureLimits = DOCUMENT_STRUCTURE): unknown {
  scanJsonText(text, limits, true);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PinbaseError('invalid_json', (error as Error).message);
  }
  // Only text with a surrogate escape or a very long number or exponent can hold either: the walk is paid for by those alone.
  if (MAY_LEAVE_I_JSON.test(text)) assertIJson(value);
  return value;
}

const MAY_LEAVE_I_JSON = /\\u[dD][89a-fA-F]|\d{300}|[eE][+-]?\d{3}/;

/** In Unicode mode a surrogate pair is one code point: only an unpaired surrogate matches. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/** Throws `invalid_body` for a non-finite number or a string with an unpaired surrogate anywhere in `value`. */
function assertIJson(value: unknown): void {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) throw new PinbaseError('invalid_body', 'a number is beyond the range of a double (RFC 7493 §2.2)');
    } else if (typeof current === 'string') {
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
