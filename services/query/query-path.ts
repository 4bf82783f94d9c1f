import { PinbaseError } from '../problem/pinbase-error.js';
import { parseFieldPath, type FieldPath } from './field-path.js';

/** Keys documents can never hold (json-structure.ts refuses them): a path naming one is a mistake or an attack. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor']);

/**
 * A field path of a query (filter key, order or fields item): parseFieldPath,
 * and no `__proto__` / `constructor` segment (no document holds one).
 */
export function parseQueryPath(text: string, errorCode: 'invalid_filter' | 'invalid_order' | 'invalid_fields'): FieldPath {
  const path = parseFieldPath(text, errorCode);
  const forbidden = path.find((segment) => FORBIDDEN_SEGMENTS.has(segment));
  if (forbidden !== undefined) throw new PinbaseError(errorCode, `a field path never names "${forbidden}" (documents cannot hold that key)`);
  return path;
}
