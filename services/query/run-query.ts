import type { Statement } from 'better-sqlite3';
import { chainAt, PageFill, versionAt, type ListedObject, type PageBounds } from '../partition/object-reads.js';
import type { Statements } from '../partition/statements.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { formatFieldPath } from './field-path.js';
import { compareRows, matches, project, sortValue, type Json, type SortedRow, type SortValue } from './evaluate.js';
import { parseIndexSqlName } from './index-sql.js';
import { compileQuery, indexUsable, type CompiledQuery, type Keyset } from './query-sql.js';
import type { QuerySpec } from './query-spec.js';
import { readyIndexes } from './ready-indexes.js';

/**
 * Runs queries on one partition's connection: the current heads in SQL
 * (query-sql.ts), snapshots (`at`) in JavaScript (evaluate.ts) over the
 * objects as they were then.
 *
 * Cost bounds of one page:
 * - it examines at most MAX_EXAMINED_PER_PAGE rows (matching or not) that
 *   SQLite hands back in the query's order; a page that reaches the budget
 *   ends early with a cursor (possibly with fewer items, even none): the
 *   client follows `next`;
 * - an order that no index serves needs every row before the first one
 *   (SQLite sorts them: "USE TEMP B-TREE FOR ORDER BY" in the plan): allowed
 *   only while the collection has at most MAX_SORTED_OBJECTS live objects
 *   (snapshot queries: object heads), else 400 query_too_expensive naming
 *   the paths to index;
 * - bodies within the page's byte budget (PageBounds), as listings.
 */

/** Rows one page examines at most (see the module comment). */
export const MAX_EXAMINED_PER_PAGE = 10_000;

/**
 * Live objects a collection may have for a query whose order needs a sort
 * (snapshot queries: object heads). Measured with
 * `npx tsx bench/query/query-cost.ts` (100,000 objects of ~200 bytes, this
 * 2-core machine shared with other jobs, median of 5, CPU time of the
 * process): a first page ordered by an unindexed number costs ~300 ms of
 * CPU in SQL and ~1,000 ms on a snapshot in JavaScript; a page that ends at
 * the examination budget ~34 ms (snapshot ~55 ms). Those are the most one
 * page can cost.
 */
export const MAX_SORTED_OBJECTS = 100_000;

export interface QueryPage {
  items: ListedObject[];
  more: boolean;
  /** Where the next page starts, when `more`. */
  resume?: Keyset;
  /** The user's name of the index the answer used (SQLite's plan says so), or undefined for a scan. */
  index: string | undefined;
}

export interface QueryOptions extends PageBounds {
  after?: Keyset | undefined;
  at?: number | undefined;
  /** The cost bounds (tests lower them): MAX_EXAMINED_PER_PAGE and MAX_SORTED_OBJECTS by default. */
  costBounds?: CostBounds;
}

export interface CostBounds {
  maxExamined: number;
  maxSorted: number;
}

const DEFAULT_COST_BOUNDS: CostBounds = { maxExamined: MAX_EXAMINED_PER_PAGE, maxSorted: MAX_SORTED_OBJECTS };

/** Runs one page of `spec` on `collection` (see the module comment). */
export function runQuery(sql: Statements, collection: string, spec: QuerySpec, options: QueryOptions): QueryPage {
  options = { costBounds: DEFAULT_COST_BOUNDS, ...options };
  const page = options.at === undefined ? currentQuery(sql, collection, spec, options) : snapshotQuery(sql, collection, spec, options, options.at);
  if (spec.fields) for (const item of page.items) item.body = project(item.body, spec.fields);
  return page;
}

interface PreparedQuery {
  statement: Statement;
  /** The user's index name SQLite's plan uses, if any. */
  index: string | undefined;
  /** The plan sorts every matching row before the first. */
  sorts: boolean;
}

/** Most prepared queries kept per connection (query SQL varies with the filter's shape: never cache it unbounded). */
const PREPARED_PER_CONNECTION = 64;
const preparedQueries = new WeakMap<Statements, Map<string, PreparedQuery>>();

/** The statement of `query` and what SQLite's EXPLAIN QUERY PLAN says of it (cached per SQL text). */
function prepare(sql: Statements, query: CompiledQuery): PreparedQuery {
  let cache = preparedQueries.get(sql);
  if (!cache) preparedQueries.set(sql, (cache = new Map<string, PreparedQuery>()));
  const cached = cache.get(query.sql);
  if (cached) {
    cache.delete(query.sql);
    cache.set(query.sql, cached);
    return cached;
  }
  const statement = sql.db.prepare(query.sql);
  const plan = sql.db.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.params) as { detail: string }[];
  let index: string | undefined;
  for (const { detail } of plan) {
    const name = /\bUSING (?:COVERING )?INDEX (\S+)/.exec(detail)?.[1];
    const parsed = name === undefined ? undefined : parseIndexSqlName(name);
    if (parsed) {
      index = parsed.name;
      break;
    }
  }
  const prepared = { statement, index, sorts: plan.some(({ detail }) => detail === 'USE TEMP B-TREE FOR ORDER BY') };
  if (cache.size >= PREPARED_PER_CONNECTION) cache.delete(cache.keys().next().value!);
  cache.set(query.sql, prepared);
  return prepared;
}

interface QueryRow {
  id: string;
  rev: number;
  body: string;
  m: number;
  [key: `k${number}`]: SortValue;
}

function currentQuery(sql: Statements, collection: string, spec: QuerySpec, options: QueryOptions): QueryPage {
  const bounds = options.costBounds!;
  const ready = readyIndexes(sql, collection);
  let query: CompiledQuery | undefined;
  let prepared: PreparedQuery | undefined;
  if (ready.some((index) => indexUsable(spec, index))) {
    query = compileQuery(collection, spec, ready, options.after, bounds.maxExamined);
    prepared = prepare(sql, query);
    // The planner chose not to use an index: the versions shape would scan all history.
    if (prepared.index === undefined) prepared = undefined;
  }
  if (!prepared) {
    query = compileQuery(collection, spec, [], options.after, bounds.maxExamined);
    prepared = prepare(sql, query);
  }
  if (prepared.sorts) {
    // What SQLite will sort: the rows its WHERE finds (an index seek may find few), at most maxSorted + 1 counted.
    const count = query!.countSorted(bounds.maxSorted + 1);
    assertSortable(spec, collection, bounds.maxSorted, sql.get(count.sql).pluck().get(...count.params) as number);
  }
  const fill = new PageFill(options);
  const items: ListedObject[] = [];
  const keysOf = (row: QueryRow): Keyset => ({ keys: spec.order.map((_, i) => row[`k${i}`] ?? null), id: row.id });
  let last: Keyset | undefined;
  let examined = 0;
  for (const row of prepared.statement.iterate(...query!.params) as IterableIterator<QueryRow>) {
    examined++;
    if (row.m === 1) {
      if (!fill.admit(row.body.length)) return { items, more: true, resume: last, index: prepared.index };
      items.push({ id: row.id, rev: row.rev, body: row.body });
      last = keysOf(row);
    }
    if (examined >= bounds.maxExamined) return { items, more: true, resume: keysOf(row), index: prepared.index };
  }
  return { items, more: false, index: prepared.index };
}

function assertSortable(spec: QuerySpec, collection: string, maxSorted: number, count: number): void {
  if (count <= maxSorted) return;
  const paths = spec.order.map((key) => formatFieldPath(key.path));
  throw new PinbaseError(
    'query_too_expensive',
    `ordering more than ${maxSorted} objects by ${paths.join(', ')} needs an index on (${paths.join(', ')}) in collection ${collection}: ` +
      `an unindexed order is allowed up to ${maxSorted} objects`,
    { extensions: { paths } },
  );
}

interface Head {
  id: string;
  vid: number;
  rev: number;
  deleted: number;
  anchor: number | null;
  body: string | null;
}

/** Object heads a snapshot query reads per statement. */
const SNAPSHOT_CHUNK = 256;

/**
 * The collection's objects as they were at `at`, in id order after `after`
 * (absent ones too, without a version, so that they count as examined). A
 * head written at or before `at` is its own version, read with it; only the
 * others walk their chain.
 */
function* objectsAt(sql: Statements, collection: string, at: number, after: string): Generator<{ id: string; vid?: number; rev: number; body: string }> {
  for (;;) {
    const heads = sql
      .get('SELECT o.id, o.vid, o.rev, o.deleted, o.anchor, v.body FROM objects o JOIN versions v ON v.vid = o.vid WHERE o.collection = ? AND o.id > ? ORDER BY o.id LIMIT ?')
      .all(collection, after, SNAPSHOT_CHUNK) as Head[];
    for (const head of heads) {
      if (head.rev <= at) {
        yield head.deleted === 1 ? { id: head.id, rev: head.rev, body: '' } : { id: head.id, vid: head.vid, rev: head.rev, body: head.body! };
        continue;
      }
      const vid = chainAt(sql, head.vid, head.rev, at, head.anchor);
      const version = vid === undefined ? undefined : versionAt(sql, vid);
      if (!version || version.deleted) yield { id: head.id, rev: 0, body: '' };
      else yield { id: head.id, vid: version.vid, rev: version.rev, body: version.body! };
    }
    if (heads.length < SNAPSHOT_CHUNK) return;
    after = heads[heads.length - 1]!.id;
  }
}

function snapshotQuery(sql: Statements, collection: string, spec: QuerySpec, options: QueryOptions, at: number): QueryPage {
  const bounds = options.costBounds!;
  const fill = new PageFill(options);
  const items: ListedObject[] = [];
  if (spec.order.length === 0) {
    let examined = 0;
    for (const object of objectsAt(sql, collection, at, options.after?.id ?? '')) {
      examined++;
      if (object.vid !== undefined && matches(spec.filter, JSON.parse(object.body) as Json)) {
        if (!fill.admit(object.body.length)) return { items, more: true, resume: { keys: [], id: items[items.length - 1]!.id }, index: undefined };
        items.push({ id: object.id, rev: object.rev, body: object.body });
      }
      if (examined >= bounds.maxExamined) return { items, more: true, resume: { keys: [], id: object.id }, index: undefined };
    }
    return { items, more: false, index: undefined };
  }
  // Another order needs every object at the snapshot: bounded by the heads of the collection.
  assertSortable(spec, collection, bounds.maxSorted, sql.get('SELECT count(*) FROM objects WHERE collection = ?').pluck().get(collection) as number);
  // Top-k: keep the best `keep` rows after the cursor, trimming whenever twice that many are held.
  const keep = options.limit + 1;
  let candidates: (SortedRow & { vid: number })[] = [];
  const byOrder = (a: SortedRow, b: SortedRow) => compareRows(spec.order, a, b);
  for (const object of objectsAt(sql, collection, at, '')) {
    if (object.vid === undefined) continue;
    const document = JSON.parse(object.body) as Json;
    if (!matches(spec.filter, document)) continue;
    const row = { keys: spec.order.map((key) => sortValue(document, key.path)), id: object.id, vid: object.vid };
    if (options.after && byOrder(row, options.after) <= 0) continue;
    candidates.push(row);
    if (candidates.length >= 2 * keep) candidates = candidates.sort(byOrder).slice(0, keep);
  }
  candidates.sort(byOrder);
  let last: Keyset | undefined;
  for (const [i, row] of candidates.entries()) {
    if (i >= options.limit) return { items, more: true, resume: last, index: undefined };
    const version = versionAt(sql, row.vid)!;
    if (!fill.admit(version.body!.length)) return { items, more: true, resume: last, index: undefined };
    items.push({ id: row.id, rev: version.rev, body: version.body! });
    last = { keys: row.keys, id: row.id };
  }
  return { items, more: false, index: undefined };
}
