import { createHash } from 'node:crypto';
import { PinbaseError } from '../problem/pinbase-error.js';
import { formatFieldPath, type FieldPath } from './field-path.js';
import { describeFilter, MATCH_ALL, parseFilter, type Filter } from './filter.js';
import { parseQueryPath } from './query-path.js';

/** One key of a query's order: a field path, ascending or descending. */
export interface OrderKey {
  path: FieldPath;
  descending: boolean;
}

/**
 * A parsed query: what to match, in which order, which fields to return.
 * The order always ends with the object id, in the direction of the last
 * key (ascending without keys), so it is total and cursors are stable.
 */
export interface QuerySpec {
  filter: Filter;
  order: OrderKey[];
  /** Paths to keep in each item's data; undefined: the whole document. */
  fields: FieldPath[] | undefined;
}

export const MAX_ORDER_KEYS = 8;
export const MAX_FIELDS = 32;

/** Parses the query parameters; 400 invalid_filter / invalid_order / invalid_fields. */
export function parseQuerySpec(params: { filter?: string | undefined; order?: string | undefined; fields?: string | undefined }): QuerySpec {
  return {
    filter: params.filter === undefined ? MATCH_ALL : parseFilter(params.filter),
    order: params.order === undefined ? [] : parseOrder(params.order),
    fields: params.fields === undefined ? undefined : parseFields(params.fields),
  };
}

/** `-total,createdAt`: comma-separated paths, each optionally prefixed by `-` (descending). */
export function parseOrder(text: string): OrderKey[] {
  const items = text.split(',');
  if (items.length > MAX_ORDER_KEYS) throw new PinbaseError('invalid_order', `an order has at most ${MAX_ORDER_KEYS} keys`);
  const seen = new Set<string>();
  return items.map((item) => {
    const descending = item.startsWith('-');
    const text = descending ? item.slice(1) : item;
    if (text === '') throw new PinbaseError('invalid_order', 'an order is comma-separated field paths, each optionally prefixed by "-" (descending)');
    const path = parseQueryPath(text, 'invalid_order');
    if (seen.has(text)) throw new PinbaseError('invalid_order', `"${text}" appears twice in the order`);
    seen.add(text);
    return { path, descending };
  });
}

/** `title,address.city`: comma-separated paths. */
export function parseFields(text: string): FieldPath[] {
  const items = text.split(',');
  if (items.length > MAX_FIELDS) throw new PinbaseError('invalid_fields', `fields names at most ${MAX_FIELDS} paths`);
  const seen = new Set<string>();
  return items.map((item) => {
    if (item === '') throw new PinbaseError('invalid_fields', 'fields is comma-separated field paths');
    const path = parseQueryPath(item, 'invalid_fields');
    if (seen.has(item)) throw new PinbaseError('invalid_fields', `"${item}" appears twice in fields`);
    seen.add(item);
    return path;
  });
}

/** The order as users write it: `-total,createdAt`. */
export function formatOrder(order: readonly OrderKey[]): string {
  return order.map((key) => `${key.descending ? '-' : ''}${formatFieldPath(key.path)}`).join(',');
}

/**
 * A short hash of the normalised query (filter AST, order, fields): what a
 * cursor remembers, so that a cursor is only accepted by the same query.
 */
export function querySpecHash(spec: QuerySpec): string {
  const text = JSON.stringify([describeFilter(spec.filter), formatOrder(spec.order), spec.fields?.map(formatFieldPath) ?? null]);
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}
