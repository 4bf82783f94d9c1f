import { PinbaseError } from '../problem/pinbase-error.js';

/**
 * Splits an RFC 6901 JSON pointer ("/a/b~1c/0") into reference tokens.
 * Throws `invalid_pointer` for a pointer that does not start with "/" or has
 * a "~" not followed by 0 or 1.
 */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PinbaseError('invalid_pointer', 'a JSON pointer starts with "/"');
  return pointer
    .slice(1)
    .split('/')
    .map((token) => {
      if (/~(?![01])/.test(token)) {
        throw new PinbaseError('invalid_pointer', `"~" must be followed by 0 or 1 in "${token}"`);
      }
      return token.replaceAll('~1', '/').replaceAll('~0', '~');
    });
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * The value at `tokens` inside `document`, or `undefined` if the path does
 * not exist. Only own properties are followed: a token like "__proto__" or
 * "constructor" never reaches a prototype.
 */
export function resolvePointer(document: unknown, tokens: readonly string[]): unknown {
  let current: unknown = document;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      if (!ARRAY_INDEX.test(token)) return undefined;
      current = current[Number(token)];
    } else if (typeof current === 'object' && current !== null) {
      if (!Object.hasOwn(current, token)) return undefined;
      current = (current as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}
