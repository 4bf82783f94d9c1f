import { boundFieldValueSql, fieldValueSql, formatFieldPath, jsonPath, type FieldPath } from './field-path.js';
import type { Filter, Scalar } from './filter.js';
import { readyTermSql } from './index-sql.js';
import type { SortValue } from './evaluate.js';
import type { QuerySpec } from './query-spec.js';
import type { ReadyIndex } from './ready-indexes.js';

/**
 * The one module where a query becomes SQL. Every value of the user's is a
 * bound parameter; a field path is bound too (`json_extract(v.body, ?)`)
 * unless a ready index of the collection covers it, where it is rendered by
 * fieldValueSql (the validated literal an expression index matches). No
 * other text of the user's reaches SQL.
 *
 * Two shapes:
 * - `versions`: `FROM versions v WHERE v.collection = ? AND v.live = 1 AND
 *   <readyTermSql of every ready index>`: the live rows, where the planner
 *   may use the collection's ready indexes. Used when an index is usable:
 *   its first path has an eq/range/prefix/in condition in the top-level AND
 *   of the filter (those conditions are also put in WHERE, to seek by), or
 *   the order starts with its paths, all in one direction or all reversed.
 * - `objects`: `FROM objects o JOIN versions v ON v.vid = o.vid WHERE
 *   o.collection = ? AND o.deleted = 0`: the heads (without an index, the
 *   versions table would be scanned through all history).
 *
 * The whole filter is a result column `m` (1 or 0), not a WHERE term: the
 * caller counts every row SQLite hands it against the page's examination
 * budget, so an unselective filter ends a page early instead of scanning
 * the collection in one request.
 *
 * SQL's three-valued logic: a condition on a missing field is NULL, which
 * AND/OR treat as false; `$not` / `$ne` / `$nin` wrap their operand in
 * coalesce(…, 0) so that the negation of NULL is true (evaluate.ts: a
 * missing field does not equal anything).
 */

export type QueryShape = 'versions' | 'objects';

export interface CompiledQuery {
  sql: string;
  params: unknown[];
  shape: QueryShape;
  /**
   * Counts the rows the statement reads before its ORDER BY, at most `cap`
   * (what SQLite must sort when the plan sorts): costs at most `cap` rows,
   * and as few as the index seek finds.
   */
  countSorted(cap: number): Fragment;
}

/** Where a page resumes: the sort values of the last row it examined, and its id. */
export interface Keyset {
  keys: SortValue[];
  id: string;
}

export interface Fragment {
  sql: string;
  params: unknown[];
}

const NUMBER_TYPES = "('integer','real')";

/** Renders field paths: literal when an index covers them (versions shape), bound otherwise. */
class PathRenderer {
  private readonly literal: Set<string>;

  constructor(covered: readonly FieldPath[]) {
    this.literal = new Set(covered.map(formatFieldPath));
  }

  value(path: FieldPath): Fragment {
    return this.literal.has(formatFieldPath(path)) ? { sql: fieldValueSql('v', path), params: [] } : { sql: boundFieldValueSql('v'), params: [jsonPath(path)] };
  }

  type(path: FieldPath): Fragment {
    return { sql: 'json_type(v.body, ?)', params: [jsonPath(path)] };
  }
}

function join(parts: readonly Fragment[], separator: string): Fragment {
  return { sql: parts.map((part) => part.sql).join(separator), params: parts.flatMap((part) => part.params) };
}

/** Concatenates SQL text and fragments in order. */
function sql(strings: TemplateStringsArray, ...parts: Fragment[]): Fragment {
  let text = strings[0]!;
  const params: unknown[] = [];
  parts.forEach((part, i) => {
    text += part.sql + strings[i + 1]!;
    params.push(...part.params);
  });
  return { sql: text, params };
}

const bind = (value: unknown): Fragment => ({ sql: '?', params: [value] });
const text = (value: string): Fragment => ({ sql: value, params: [] });

/** The SQL type test of a scalar's JSON type, and the value json_extract gives for it. */
function typed(value: Scalar): { types: string; bound: number | string | null } {
  if (value === null) return { types: "('null')", bound: null };
  if (typeof value === 'boolean') return { types: value ? "('true')" : "('false')", bound: value ? 1 : 0 };
  if (typeof value === 'number') return { types: NUMBER_TYPES, bound: value };
  return { types: "('text')", bound: value };
}

function equals(paths: PathRenderer, path: FieldPath, value: Scalar): Fragment {
  const { types, bound } = typed(value);
  const v = paths.value(path);
  const compare = bound === null ? sql`${v} IS NULL` : sql`${v} = ${bind(bound)}`;
  return sql`(${compare} AND ${paths.type(path)} IN ${text(types)})`;
}

function compileNode(filter: Filter, paths: PathRenderer): Fragment {
  switch (filter.kind) {
    case 'and':
      return filter.items.length === 0 ? text('1') : sql`(${join(filter.items.map((item) => compileNode(item, paths)), ' AND ')})`;
    case 'or':
      return sql`(${join(filter.items.map((item) => compileNode(item, paths)), ' OR ')})`;
    case 'not':
      return sql`(NOT coalesce(${compileNode(filter.item, paths)}, 0))`;
    case 'cmp': {
      if (filter.op === 'eq') return equals(paths, filter.path, filter.value);
      const operator = { lt: '<', lte: '<=', gt: '>', gte: '>=' }[filter.op];
      const types = typeof filter.value === 'number' ? NUMBER_TYPES : "('text')";
      return sql`(${paths.value(filter.path)} ${text(operator)} ${bind(filter.value)} AND ${paths.type(filter.path)} IN ${text(types)})`;
    }
    case 'in': {
      // One IN list per JSON type, so that each value only matches its own type.
      const groups = new Map<string, (number | string)[]>();
      const singles: Fragment[] = [];
      for (const value of filter.values) {
        const { types, bound } = typed(value);
        if (typeof value === 'number' || typeof value === 'string') groups.set(types, [...(groups.get(types) ?? []), bound as number | string]);
        else singles.push(equals(paths, filter.path, value));
      }
      const lists = [...groups].map(
        ([types, values]) => sql`(${paths.value(filter.path)} IN (${join(values.map(bind), ', ')}) AND ${paths.type(filter.path)} IN ${text(types)})`,
      );
      return sql`(${join([...lists, ...singles], ' OR ')})`;
    }
    case 'exists':
      return sql`(${paths.type(filter.path)} IS ${text(filter.value ? 'NOT NULL' : 'NULL')})`;
    case 'prefix': {
      const type = sql`${paths.type(filter.path)} = 'text'`;
      if (filter.value === '') return sql`(${type})`;
      const v = paths.value(filter.path);
      const upper = prefixUpperBound(filter.value);
      const range = upper === undefined ? sql`${v} >= ${bind(filter.value)}` : sql`${v} >= ${bind(filter.value)} AND ${v} < ${bind(upper)}`;
      return sql`(${range} AND ${type} AND substr(${v}, 1, ${bind([...filter.value].length)}) = ${bind(filter.value)})`;
    }
    case 'contains': {
      const { types, bound } = typed(filter.value);
      const element = bound === null || typeof filter.value === 'boolean' ? text('1') : sql`e.atom = ${bind(bound)}`;
      return sql`(${paths.type(filter.path)} = 'array' AND EXISTS (SELECT 1 FROM json_each(v.body, ${bind(jsonPath(filter.path))}) AS e WHERE e.type IN ${text(types)} AND ${element}))`;
    }
  }
}

/**
 * The least string greater than every string starting with `prefix` (its
 * last code point plus one), or undefined when that would not be a valid
 * character (the range then has no upper bound; the exact check remains).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const chars = [...prefix];
  const last = chars.pop()!.codePointAt(0)!;
  if (last >= 0xd7ff && last < 0xe000) return undefined;
  if (last >= 0x10ffff) return undefined;
  return chars.join('') + String.fromCodePoint(last + 1);
}

/** The top-level conditions of the filter (its AND, or itself). */
function topLevel(filter: Filter): Filter[] {
  return filter.kind === 'and' ? filter.items : [filter];
}

/** Whether a top-level condition can seek in an index whose first path is `path`. */
function seeks(condition: Filter, path: FieldPath): boolean {
  if (condition.kind !== 'cmp' && condition.kind !== 'in' && condition.kind !== 'prefix') return false;
  if (condition.kind === 'prefix' && condition.value === '') return false;
  return formatFieldPath(condition.path) === formatFieldPath(path);
}

/** Whether `index` can serve this query (see the module comment). */
export function indexUsable(spec: QuerySpec, index: ReadyIndex): boolean {
  if (topLevel(spec.filter).some((condition) => seeks(condition, index.paths[0]!))) return true;
  const { order } = spec;
  if (order.length === 0 || order.length > index.paths.length) return false;
  return order.every((key, i) => formatFieldPath(key.path) === formatFieldPath(index.paths[i]!) && key.descending === order[0]!.descending);
}

/**
 * The query as SQL over the live objects of a collection, in the query's
 * order, after `after` (a keyset), at most `limit` rows. Result columns:
 * id, rev, body, m (1 if the row matches the filter), k0… (sort values).
 * `ready`: the collection's ready indexes to use (versions shape), or none
 * (objects shape).
 */
export function compileQuery(collection: string, spec: QuerySpec, ready: readonly ReadyIndex[], after: Keyset | undefined, limit: number): CompiledQuery {
  const shape: QueryShape = ready.length > 0 ? 'versions' : 'objects';
  const paths = new PathRenderer(ready.flatMap((index) => index.paths));
  const idColumn = text(shape === 'versions' ? 'v.id' : 'o.id');
  const keys = spec.order.map((key) => paths.value(key.path));
  const where: Fragment[] =
    shape === 'versions'
      ? [sql`v.collection = ${bind(collection)} AND v.live = 1`, ...ready.map((index) => text(readyTermSql('v', index.generation)))]
      : [sql`o.collection = ${bind(collection)} AND o.deleted = 0`];
  if (shape === 'versions') {
    const firstPaths = ready.map((index) => index.paths[0]!);
    for (const condition of topLevel(spec.filter)) if (firstPaths.some((path) => seeks(condition, path))) where.push(compileNode(condition, paths));
  }
  if (after) where.push(keysetAfter(spec, keys, idColumn, after));
  const lastDescending = spec.order.at(-1)?.descending ?? false;
  const orderBy = join([...keys.map((key, i) => sql`${key}${text(spec.order[i]!.descending ? ' DESC' : '')}`), sql`${idColumn}${text(lastDescending ? ' DESC' : '')}`], ', ');
  const from = text(shape === 'versions' ? 'versions v' : 'objects o JOIN versions v ON v.vid = o.vid');
  const columns = join([sql`${idColumn} AS id, v.rev AS rev, v.body AS body, coalesce(${compileNode(spec.filter, paths)}, 0) AS m`, ...keys.map((key, i) => sql`${key} AS k${text(String(i))}`)], ', ');
  const statement = sql`SELECT ${columns} FROM ${from} WHERE ${join(where, ' AND ')} ORDER BY ${orderBy} LIMIT ${bind(limit)}`;
  const countSorted = (cap: number) => sql`SELECT count(*) FROM (SELECT 1 FROM ${from} WHERE ${join(where, ' AND ')} LIMIT ${bind(cap)})`;
  return { ...statement, shape, countSorted };
}

/**
 * Rows after `after` in the query's order: the lexicographic comparison of
 * (keys…, id), with SQLite's order of NULL (first ascending, last
 * descending). For an ascending first key the term `k0 >= ?` comes first so
 * that an index on it can seek.
 */
function keysetAfter(spec: QuerySpec, keys: Fragment[], idColumn: Fragment, after: Keyset): Fragment {
  const lastDescending = spec.order.at(-1)?.descending ?? false;
  const columns = [...keys.map((key, i) => ({ key, descending: spec.order[i]!.descending, value: after.keys[i] ?? null })), { key: idColumn, descending: lastDescending, value: after.id as SortValue }];
  const alternatives: Fragment[] = [];
  columns.forEach((column, i) => {
    const equalBefore = columns.slice(0, i).map(({ key, value }) => (value === null ? sql`${key} IS NULL` : sql`${key} = ${bind(value)}`));
    const beyond = greater(column.key, column.value, column.descending);
    if (beyond) alternatives.push(join([...equalBefore, beyond], ' AND '));
  });
  const disjunction = alternatives.length === 0 ? text('0') : sql`(${join(alternatives.map((alt) => sql`(${alt})`), ' OR ')})`;
  const first = columns[0]!;
  return first.value !== null && !first.descending ? sql`${first.key} >= ${bind(first.value)} AND ${disjunction}` : disjunction;
}

/** The condition "`key` comes after `value`" in the given direction, or undefined when nothing does. */
function greater(key: Fragment, value: SortValue, descending: boolean): Fragment | undefined {
  if (!descending) return value === null ? sql`${key} IS NOT NULL` : sql`${key} > ${bind(value)}`;
  return value === null ? undefined : sql`(${key} < ${bind(value)} OR ${key} IS NULL)`;
}
