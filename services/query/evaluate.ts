import type { FieldPath } from './field-path.js';
import type { Filter, Scalar } from './filter.js';
import type { OrderKey } from './query-spec.js';

/**
 * The query semantics in JavaScript: what snapshot (`at=`) queries run, and
 * the reference the SQL of query-sql.ts is tested against (property test).
 * Both must agree exactly; see filter.ts for the filter's semantics.
 *
 * Sort values are what SQLite's json_extract() gives and how its ORDER BY
 * orders them: a missing field and null are NULL and sort first; numbers
 * and booleans (as 1 and 0) compare as numbers; strings, and arrays and
 * objects as their JSON text, compare as text by UTF-8 bytes (Unicode code
 * point order) after every number. Descending reverses all of it (NULL
 * last). Ties are broken by the object id, in the direction of the last key.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A document's value at `path`; undefined when missing (a path never steps into an array). */
export function valueAt(document: Json, path: FieldPath): Json | undefined {
  let current: Json | undefined = document;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/** Whether `document` (a parsed JSON object) matches `filter`. */
export function matches(filter: Filter, document: Json): boolean {
  switch (filter.kind) {
    case 'and':
      return filter.items.every((item) => matches(item, document));
    case 'or':
      return filter.items.some((item) => matches(item, document));
    case 'not':
      return !matches(filter.item, document);
    case 'cmp': {
      const value = valueAt(document, filter.path);
      if (filter.op === 'eq') return scalarEquals(value, filter.value);
      if (typeof value !== typeof filter.value || (typeof value !== 'number' && typeof value !== 'string')) return false;
      const order = compareSame(value, filter.value as number | string);
      return filter.op === 'lt' ? order < 0 : filter.op === 'lte' ? order <= 0 : filter.op === 'gt' ? order > 0 : order >= 0;
    }
    case 'in': {
      const value = valueAt(document, filter.path);
      return filter.values.some((item) => scalarEquals(value, item));
    }
    case 'exists':
      return (valueAt(document, filter.path) !== undefined) === filter.value;
    case 'prefix': {
      const value = valueAt(document, filter.path);
      return typeof value === 'string' && value.startsWith(filter.value);
    }
    case 'contains': {
      const value = valueAt(document, filter.path);
      return Array.isArray(value) && value.some((item) => scalarEquals(item, filter.value));
    }
  }
}

/** Type-strict equality of a field value with a filter scalar. */
function scalarEquals(value: Json | undefined, scalar: Scalar): boolean {
  if (value === undefined || typeof value === 'object') return scalar === null && value === null;
  return value === scalar;
}

/** Same-type comparison: numbers numerically, strings by code point. */
function compareSame(a: number | string, b: number | string): number {
  if (typeof a === 'number') return a - (b as number);
  return compareText(a, b as string);
}

/** Compares strings by Unicode code point (= UTF-8 byte order, SQLite's BINARY collation). */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** A sort value: what json_extract() gives (see the module comment). */
export type SortValue = null | number | string;

export function sortValue(document: Json, path: FieldPath): SortValue {
  const value = valueAt(document, path);
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** SQLite's order of values: NULL, then numbers, then text. */
export function compareSortValues(a: SortValue, b: SortValue): number {
  const rank = (v: SortValue) => (v === null ? 0 : typeof v === 'number' ? 1 : 2);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (a === null) return 0;
  return compareSame(a, b as number | string);
}

/** A row as ordered: its sort values (one per order key) and its id. */
export interface SortedRow {
  keys: SortValue[];
  id: string;
}

/** Compares two rows in the query's order (the id last, in the last key's direction). */
export function compareRows(order: readonly OrderKey[], a: SortedRow, b: SortedRow): number {
  for (let i = 0; i < order.length; i++) {
    const c = compareSortValues(a.keys[i]!, b.keys[i]!);
    if (c !== 0) return order[i]!.descending ? -c : c;
  }
  const c = compareText(a.id, b.id);
  return order.at(-1)?.descending ? -c : c;
}

/**
 * The document reduced to `fields` (nested objects kept nested; missing
 * paths left out). Input and output are JSON text.
 */
export function project(body: string, fields: readonly FieldPath[]): string {
  const document = JSON.parse(body) as Json;
  const out: Record<string, Json> = {};
  for (const path of fields) {
    const value = valueAt(document, path);
    if (value === undefined) continue;
    let target = out;
    for (const segment of path.slice(0, -1)) {
      const next = Object.hasOwn(target, segment) ? target[segment] : undefined;
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[segment] = {};
      target = target[segment] as Record<string, Json>;
    }
    target[path.at(-1)!] = value;
  }
  return JSON.stringify(out);
}

export type { Json };
