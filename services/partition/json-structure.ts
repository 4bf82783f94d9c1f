import { PinbaseError } from '../problem/pinbase-error.js';

/**
 * What one JSON document may hold, besides its size in bytes. Parsing and
 * serialising JSON costs time on the event loop in proportion to its
 * objects, arrays and object members far more than to its bytes (measured
 * on a 2-core machine: 1 MiB of `[{},{},…]` took 60–240 ms to parse, 1 MiB
 * of one string 2 ms; members with distinct keys cost ~1 µs each to parse
 * and serialise). The node limit bounds that time: a document of 10,000
 * nodes of the worst shape measured (every member a distinct key) parses
 * and serialises in ~10 ms, so that a PATCH, which parses two and
 * serialises one, stays well under 50 ms.
 */
export interface JsonStructureLimits {
  /** Deepest nesting of objects and arrays. */
  maxDepth: number;
  /** Most objects, arrays and object members together. */
  maxNodes: number;
}

/** The limits of every document stored, and of every JSON request body but a transaction's. */
export const DOCUMENT_STRUCTURE: JsonStructureLimits = { maxDepth: 100, maxNodes: 10_000 };

/**
 * The limits of a transaction's body: its envelope (up to 1000 reads and
 * 1000 ops: at most ~10,000 nodes, of a few shared keys, cheap to parse)
 * and the documents it carries, each of which is held to DOCUMENT_STRUCTURE
 * when written.
 */
export const TRANSACTION_BODY_STRUCTURE: JsonStructureLimits = { maxDepth: 100, maxNodes: 3 * DOCUMENT_STRUCTURE.maxNodes };

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Checks the structure of JSON text before anything parses it, in one pass
 * over its UTF-8 bytes (strings are skipped with indexOf) and without
 * building values: throws `invalid_body` when it nests deeper or holds more
 * nodes than `limits`, `forbidden_key` for a `__proto__` or `constructor`
 * key at any depth (escaped spellings included). Returns the number of
 * nodes. Text that is not JSON passes or fails arbitrarily: JSON.parse, run
 * after, rejects it. (Bytes, not the string: V8 strings come in several
 * representations, e.g. JSON.stringify returns a rope, and a loop of
 * charCodeAt over them measured 50–100× slower than over a Buffer.)
 */
export function scanJsonStructure(text: string, limits: JsonStructureLimits = DOCUMENT_STRUCTURE): number {
  return scanJsonText(text, limits, false);
}

/** The member names seen so far in one open object: the first alone, a set from the second on. */
interface ObjectNames {
  first: string | undefined;
  seen: Set<string> | undefined;
}

/**
 * scanJsonStructure, and with `fromOutside` also what I-JSON (RFC 7493)
 * asks of text that is to be stored and read back as sent, `invalid_body`
 * for:
 * - an object that has two members of one name, escaped spellings included
 *   (`"a"` and `"\u0061"` are one name): JSON.parse would keep the last
 *   one, so the document could not be stored as sent (§2.3). Each name is
 *   read once, in the same pass: measured on the 2-core development VM,
 *   ~0.1 µs per name in small objects, ~0.35 µs in one object of 9,000
 *   members (+3 ms for a text JSON.parse reads in ~4 ms);
 * - a number a double cannot hold (§2.2): beyond its range (JSON.parse
 *   makes it Infinity, stored as null), an integer it does not hold exactly
 *   (`12345678901234567890` would be read back as `12345678901234567000`),
 *   more significant digits than any double has; see exactNumberEnd.
 */
export function scanJsonText(text: string, limits: JsonStructureLimits, fromOutside: boolean): number {
  const bytes = Buffer.from(text, 'utf8');
  const length = bytes.length;
  let depth = 0;
  let nodes = 0;
  /** With fromOutside: one entry per open object (its names) or array (null). */
  const open: (ObjectNames | null)[] = [];
  /** Position of the next backslash at or after the current string (-1: none left). */
  let nextBackslash = bytes.indexOf(BACKSLASH);
  for (let i = 0; i < length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      const end = stringEnd(bytes, i);
      if (end < 0) return nodes;
      let after = end + 1;
      while (after < length && isWhitespace(bytes[after]!)) after++;
      if (after < length && bytes[after] === COLON) {
        if (++nodes > limits.maxNodes) throw tooManyNodes(limits);
        if (nextBackslash >= 0 && nextBackslash < i) nextBackslash = bytes.indexOf(BACKSLASH, i);
        const escaped = nextBackslash >= 0 && nextBackslash < end;
        checkKey(bytes, i, end, escaped);
        const names = fromOutside ? open.at(-1) : undefined;
        if (names) addName(names, keyBytes(bytes, i, end, escaped));
        i = after;
      } else {
        i = end;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limits.maxDepth) {
        throw new PinbaseError('invalid_body', `objects and arrays may nest at most ${limits.maxDepth} levels deep`);
      }
      if (++nodes > limits.maxNodes) throw tooManyNodes(limits);
      if (fromOutside) open.push(c === OPEN_BRACE ? { first: undefined, seen: undefined } : null);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (fromOutside) open.pop();
    } else if (fromOutside && (c === MINUS || isDigit(c))) {
      i = exactNumberEnd(bytes, i) - 1;
    }
  }
  return nodes;
}

/**
 * The key between the quotes at `open` and `close` as its UTF-8 bytes read
 * as Latin-1 (one character per byte, the cheapest string to make: two
 * names are equal exactly when these are); an escaped key is unescaped
 * first. Undefined when its escapes are not JSON (JSON.parse refuses the
 * text).
 */
function keyBytes(bytes: Buffer, open: number, close: number, escaped: boolean): string | undefined {
  if (!escaped) return bytes.toString('latin1', open + 1, close);
  try {
    return Buffer.from(JSON.parse(bytes.toString('utf8', open, close + 1)) as string, 'utf8').toString('latin1');
  } catch {
    return undefined;
  }
}

function addName(names: ObjectNames, name: string | undefined): void {
  if (name === undefined) return;
  if (names.first === undefined) {
    names.first = name;
    return;
  }
  names.seen ??= new Set([names.first]);
  if (names.seen.has(name)) {
    const text = Buffer.from(name, 'latin1').toString('utf8');
    throw new PinbaseError('invalid_body', `an object has two members named ${JSON.stringify(text)} (RFC 7493 §2.3)`);
  }
  names.seen.add(name);
}

/** The most digits a decimal can have and still be read back as written from the double nearest it (DBL_DIG). */
const DIGITS_EXACT_BY_CONSTRUCTION = 15;
/** The most significant digits a double ever needs to be written so that it reads back as itself (%.17g). */
const DIGITS_OF_A_DOUBLE = 17;

/** A JSON number (RFC 8259 §6), the whole of a token. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * Reads the number token that starts at `start` and returns the index just
 * after it; throws `invalid_body` for a number that a double (what JSON.parse
 * makes of it, and what is stored) cannot hold (RFC 7493 §2.2):
 * - beyond its range (read back as null) or a non-zero number so small that
 *   it would be read back as 0;
 * - an integer (no fraction, no exponent) that would be read back as
 *   another, such as a 64-bit id beyond 2^53 (`12345678901234567890` would
 *   be read back as `12345678901234567000`, and so would 2^60,
 *   `1152921504606846976`, as `1152921504606847000`: JavaScript writes a
 *   double with the fewest digits that read back as it);
 * - more than 17 significant digits (more precision than any double has:
 *   `3.141592653589793238` would be read back as `3.141592653589793`).
 *   A number of up to 17 significant digits with a fraction or an exponent
 *   is taken as the double nearest it, as every JSON library that writes
 *   doubles (`%.17g` included: `0.10000000000000001` is 0.1) means it.
 * Most numbers are decided in the one pass over their bytes (an integer
 * below 2^53; up to 17 significant digits with at most 20 zeros before
 * them and an exponent of at most ±280); the rest are parsed (and integers
 * written back and compared). `node dist/bench/partition/json-numbers.js`
 * on the 2-core development VM (2026-12-02), a 1 MiB body of nothing but
 * such numbers: integers above 2^53 ~43 ms, 17 digits with an exponent
 * beyond 280 ~21 ms, against ~8 ms for JSON.parse of the same text; typical
 * doubles ~7 ms, all of it the structure scan.
 * Text that is not a JSON number is left to JSON.parse, which refuses it.
 */
function exactNumberEnd(bytes: Buffer, start: number): number {
  let end = start;
  /** Digits before any exponent, those from the first non-zero one on, and their value while it is exact (integers). */
  let digits = 0;
  let significant = 0;
  let mantissa = 0;
  let integer = true;
  let inExponent = false;
  let exponent = 0;
  for (; end < bytes.length; end++) {
    const c = bytes[end]!;
    if (isDigit(c)) {
      if (inExponent) {
        exponent = Math.min(exponent * 10 + (c - ZERO), 1e6);
      } else {
        digits++;
        if (mantissa > 0 || c !== ZERO) significant++;
        mantissa = mantissa * 10 + (c - ZERO);
      }
    } else if (c === DOT) {
      integer = false;
    } else if (c === LOWER_E || c === UPPER_E) {
      integer = false;
      inExponent = true;
    } else if (c !== MINUS && c !== PLUS) {
      break;
    }
  }
  // Integers below 2^53 are exact, and so was their running value; up to 17
  // significant digits, 20 zeros before them and an exponent of at most ±280
  // stay among normal doubles.
  const fast = integer
    ? digits <= DIGITS_EXACT_BY_CONSTRUCTION || mantissa <= Number.MAX_SAFE_INTEGER
    : significant <= DIGITS_OF_A_DOUBLE && digits - significant <= 20 && exponent <= 280;
  if (fast) return end;
  const token = bytes.toString('latin1', start, end);
  if (!JSON_NUMBER.test(token)) return end;
  const value = Number(token);
  if (!Number.isFinite(value)) throw new PinbaseError('invalid_body', 'a number is beyond the range of a double (RFC 7493 §2.2)');
  // Up to 17 significant digits with a fraction or an exponent mean the double nearest them: only a
  // value that would be read back as 0 is left to refuse (no need to write the double out).
  if (!integer && significant <= DIGITS_OF_A_DOUBLE && (value !== 0 || significant === 0)) return end;
  const stored = String(value);
  if (stored === token) return end;
  const written = decimalParts(token);
  if (written.digits === '') return end;
  const shown = token.length > 40 ? `${token.slice(0, 37)}...` : token;
  if (value === 0) {
    throw new PinbaseError('invalid_body', `the number ${shown} is too small for a double and would be read back as 0 (RFC 7493 §2.2)`);
  }
  const readBack = decimalParts(stored);
  if (sameDecimal(written, readBack)) return end;
  if (integer) {
    throw new PinbaseError(
      'invalid_body',
      `the integer ${shown} would be read back as ${stored}: a double does not hold it exactly (beyond 2^53; RFC 7493 §2.2): send it as a string`,
    );
  }
  if (written.digits.length <= DIGITS_OF_A_DOUBLE) return end;
  throw new PinbaseError(
    'invalid_body',
    `the number ${shown} has more significant digits than a double keeps (17) and would be read back as ${stored} (RFC 7493 §2.2): send it as a string`,
  );
}

interface DecimalParts {
  negative: boolean;
  /** The significant digits, without leading or trailing zeros ('' for zero). */
  digits: string;
  /** The value is ±0.digits × 10^point. */
  point: number;
}

function sameDecimal(a: DecimalParts, b: DecimalParts): boolean {
  return a.negative === b.negative && a.digits === b.digits && a.point === b.point;
}

/** The value of a JSON number's text (or JavaScript's, e.g. `1e+21`). */
function decimalParts(text: string): DecimalParts {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const e = body.search(/[eE]/);
  const mantissa = e < 0 ? body : body.slice(0, e);
  const exponent = e < 0 ? 0 : Number(body.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const whole = dot < 0 ? mantissa : mantissa.slice(0, dot);
  const fraction = dot < 0 ? '' : mantissa.slice(dot + 1);
  const all = whole + fraction;
  let first = 0;
  while (first < all.length && all.charCodeAt(first) === ZERO) first++;
  let last = all.length;
  while (last > first && all.charCodeAt(last - 1) === ZERO) last--;
  return { negative, digits: all.slice(first, last), point: whole.length + exponent - first };
}

/** The index of the quote closing the string that opens at `start`, or -1 if it is not closed. */
function stringEnd(bytes: Buffer, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = bytes.indexOf(QUOTE, from);
    if (quote < 0) return -1;
    // The quote is escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

function checkKey(bytes: Buffer, open: number, close: number, escaped: boolean): void {
  const rawLength = close - open - 1;
  let key: string;
  if (escaped) {
    try {
      key = JSON.parse(bytes.toString('utf8', open, close + 1)) as string;
    } catch {
      return;
    }
  } else if (rawLength === 9 || rawLength === 11) {
    key = bytes.toString('latin1', open + 1, close);
  } else {
    return;
  }
  if (FORBIDDEN_KEYS.has(key)) throw new PinbaseError('forbidden_key', `key "${key}" is not allowed in a document`);
}

/**
 * Counts the nodes (objects, arrays, object members) of a parsed value,
 * without recursion, and throws `invalid_body` as soon as there are more
 * than `maxNodes`: a merged document is checked this way before it is
 * serialised.
 */
export function assertNodeCount(value: unknown, maxNodes: number = DOCUMENT_STRUCTURE.maxNodes): void {
  const pending: unknown[] = [value];
  let nodes = 0;
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current !== 'object' || current === null) continue;
    if (Array.isArray(current)) {
      nodes++;
      for (const item of current) if (typeof item === 'object' && item !== null) pending.push(item);
    } else {
      const values = Object.values(current);
      nodes += 1 + values.length;
      for (const item of values) if (typeof item === 'object' && item !== null) pending.push(item);
    }
    if (nodes > maxNodes) throw tooManyNodes({ maxDepth: DOCUMENT_STRUCTURE.maxDepth, maxNodes });
  }
}

function tooManyNodes(limits: JsonStructureLimits): PinbaseError {
  return new PinbaseError(
    'invalid_body',
    `a document may hold at most ${limits.maxNodes} objects, arrays and object members together`,
  );
}
