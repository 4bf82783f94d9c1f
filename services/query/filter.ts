import { DOCUMENT_STRUCTURE, scanJsonText } from '../partition/json-structure.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { formatFieldPath, type FieldPath } from './field-path.js';
import { parseQueryPath } from './query-path.js';

/**
 * The filter language of queries: URL-encoded JSON in the style of MongoDB /
 * CouchDB Mango, parsed and validated here into a Filter (the AST that
 * query-sql.ts compiles and evaluate.ts evaluates; both follow the semantics
 * written down below and in docs/ARCHITECTURE.md).
 *
 *   {"status":"open","total":{"$gte":100},"$or":[{"tags":{"$contains":"urgent"}},{"owner":{"$in":["a","b"]}}]}
 *
 * - Keys of an object are field paths (dot form, field-path.ts) or `$and`,
 *   `$or` (non-empty arrays of filters), `$not` (a filter). Several keys are
 *   ANDed. `{}` matches every object.
 * - A field's value is a JSON scalar (implicit `$eq`) or an object of
 *   operators, all ANDed: `$eq $ne $lt $lte $gt $gte $in $nin $exists
 *   $prefix $contains`. Equality with an array or object is refused (use
 *   `$contains` for array membership).
 * - Type-strict: a value matches only a field of the same JSON type. `$eq 5`
 *   matches the number 5 (5.0 alike), not "5" nor true; `{"f":null}` an
 *   explicit null only. Ranges take a number (match numbers) or a string
 *   (match strings, compared by Unicode code point, which is UTF-8 byte
 *   order). `$ne` / `$nin` are the negation of `$eq` / `$in`: they also
 *   match objects where the field is missing or of another type.
 *   `$exists: true` matches a present field (null included), false a
 *   missing one. `$prefix` matches strings starting with it. `$contains`
 *   matches an array holding an element equal (type-strict) to the scalar.
 *   A path does not step into arrays: `a.b` is missing when `a` is an array.
 *
 * Bounds (each a 400 invalid_filter beyond): text ≤ MAX_FILTER_CHARS,
 * nesting of $and/$or/$not ≤ MAX_FILTER_DEPTH, leaf conditions ≤
 * MAX_FILTER_CLAUSES, `$in`/`$nin` lists ≤ MAX_IN_VALUES. So a filter costs
 * at most 32 conditions (with up to 256 bound values each) per examined row.
 */

export type Scalar = string | number | boolean | null;

export type Filter =
  | { kind: 'and'; items: Filter[] }
  | { kind: 'or'; items: Filter[] }
  | { kind: 'not'; item: Filter }
  | { kind: 'cmp'; path: FieldPath; op: CompareOp; value: Scalar }
  | { kind: 'in'; path: FieldPath; values: Scalar[] }
  | { kind: 'exists'; path: FieldPath; value: boolean }
  | { kind: 'prefix'; path: FieldPath; value: string }
  | { kind: 'contains'; path: FieldPath; value: Scalar };

export type CompareOp = 'eq' | 'lt' | 'lte' | 'gt' | 'gte';

export const MAX_FILTER_CHARS = 4096;
export const MAX_FILTER_DEPTH = 8;
export const MAX_FILTER_CLAUSES = 32;
export const MAX_IN_VALUES = 256;

const OPERATORS = ['$eq', '$ne', '$lt', '$lte', '$gt', '$gte', '$in', '$nin', '$exists', '$prefix', '$contains'] as const;

/** The filter that matches everything. */
export const MATCH_ALL: Filter = { kind: 'and', items: [] };

/** Parses the `filter` query parameter; any fault is a 400 invalid_filter saying what and where. */
export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_CHARS) fail(`the filter has ${text.length} characters; at most ${MAX_FILTER_CHARS}`);
  assertIJson(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(`the filter is not JSON (${(error as Error).message})`);
  }
  const state = { clauses: 0 };
  return parseObject(value, '', 1, state);
}

/**
 * A key given twice in one object (`{"status":"open","status":"closed"}`)
 * would leave JSON.parse's last one alone, and a number a double cannot
 * hold (`{"id":12345678901234567890}`) would be compared as another: 400,
 * as in a document (RFC 7493 §2.2, §2.3). A `__proto__` or `constructor`
 * key is left to parseObject, which says where it is.
 */
function assertIJson(text: string): void {
  try {
    scanJsonText(text, DOCUMENT_STRUCTURE, true);
  } catch (error) {
    if (error instanceof PinbaseError && error.code === 'invalid_body') fail(`the filter: ${error.detail ?? error.message}`);
    if (!(error instanceof PinbaseError && error.code === 'forbidden_key')) throw error;
  }
}

interface ParseState {
  clauses: number;
}

function parseObject(value: unknown, where: string, depth: number, state: ParseState): Filter {
  if (depth > MAX_FILTER_DEPTH) fail(`at ${where}: the filter nests $and/$or/$not deeper than ${MAX_FILTER_DEPTH}`);
  if (!isPlainObject(value)) fail(`${at(where)}a filter must be a JSON object`);
  const items: Filter[] = [];
  for (const [key, item] of Object.entries(value)) {
    const here = where === '' ? key : `${where}.${key}`;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(item) || item.length === 0) fail(`at ${here}: ${key} takes a non-empty array of filters`);
      const parts = item.map((part, i) => parseObject(part, `${here}[${i}]`, depth + 1, state));
      items.push({ kind: key === '$and' ? 'and' : 'or', items: parts });
    } else if (key === '$not') {
      items.push({ kind: 'not', item: parseObject(item, here, depth + 1, state) });
    } else if (key.startsWith('$')) {
      fail(`at ${here}: unknown operator ${key} (a filter's keys are field paths, $and, $or or $not)`);
    } else {
      const path = parseQueryPath(key, 'invalid_filter');
      items.push(...parseField(path, item, here, state));
    }
  }
  return items.length === 1 ? items[0]! : { kind: 'and', items };
}

function parseField(path: FieldPath, value: unknown, where: string, state: ParseState): Filter[] {
  if (!isPlainObject(value)) return [leaf(state, where, { kind: 'cmp', path, op: 'eq', value: scalar(value, where, '$eq') })];
  const entries = Object.entries(value);
  if (entries.length === 0 || entries.some(([key]) => !key.startsWith('$'))) {
    fail(`at ${where}: equality with an object is not supported; give a scalar or an object of operators (${OPERATORS.join(' ')})`);
  }
  return entries.map(([op, operand]) => {
    const here = `${where}.${op}`;
    switch (op) {
      case '$eq':
        return leaf(state, here, { kind: 'cmp', path, op: 'eq', value: scalar(operand, here, op) });
      case '$ne':
        return leaf(state, here, { kind: 'not', item: { kind: 'cmp', path, op: 'eq', value: scalar(operand, here, op) } });
      case '$lt':
      case '$lte':
      case '$gt':
      case '$gte': {
        if (typeof operand !== 'string' && !isFiniteNumber(operand)) fail(`at ${here}: ${op} takes a number or a string`);
        return leaf(state, here, { kind: 'cmp', path, op: op.slice(1) as CompareOp, value: operand });
      }
      case '$in':
      case '$nin': {
        if (!Array.isArray(operand) || operand.length === 0 || operand.length > MAX_IN_VALUES) {
          fail(`at ${here}: ${op} takes an array of 1 to ${MAX_IN_VALUES} scalars`);
        }
        const values = operand.map((item, i) => scalar(item, `${here}[${i}]`, op));
        const node: Filter = { kind: 'in', path, values };
        return leaf(state, here, op === '$in' ? node : { kind: 'not', item: node });
      }
      case '$exists':
        if (typeof operand !== 'boolean') fail(`at ${here}: $exists takes true or false`);
        return leaf(state, here, { kind: 'exists', path, value: operand });
      case '$prefix':
        if (typeof operand !== 'string') fail(`at ${here}: $prefix takes a string`);
        return leaf(state, here, { kind: 'prefix', path, value: operand });
      case '$contains':
        return leaf(state, here, { kind: 'contains', path, value: scalar(operand, here, op) });
      default:
        return fail(`at ${here}: unknown operator ${op} (operators: ${OPERATORS.join(' ')})`);
    }
  });
}

function leaf(state: ParseState, where: string, node: Filter): Filter {
  if (++state.clauses > MAX_FILTER_CLAUSES) fail(`at ${where}: the filter has more than ${MAX_FILTER_CLAUSES} conditions`);
  return node;
}

function scalar(value: unknown, where: string, op: string): Scalar {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value)) return value;
  if (Array.isArray(value) && op === '$eq') fail(`at ${where}: equality with an array is not supported (use $contains for array membership)`);
  return fail(`at ${where}: ${op} takes a JSON scalar (string, number, boolean or null)`);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function at(where: string): string {
  return where === '' ? '' : `at ${where}: `;
}

function fail(detail: string): never {
  throw new PinbaseError('invalid_filter', detail);
}

/** Every field path the filter names (for index selection). */
export function filterPaths(filter: Filter, out: FieldPath[] = []): FieldPath[] {
  switch (filter.kind) {
    case 'and':
    case 'or':
      for (const item of filter.items) filterPaths(item, out);
      break;
    case 'not':
      filterPaths(filter.item, out);
      break;
    default:
      out.push(filter.path);
  }
  return out;
}

/** The filter as canonical text (for cursors' hash and messages). */
export function describeFilter(filter: Filter): string {
  return JSON.stringify(filter, (key, value: unknown) => (key === 'path' ? formatFieldPath(value as FieldPath) : value));
}
