import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartitionStore } from '../../../services/partition/partition-store.js';
import { PinbaseError } from '../../../services/problem/pinbase-error.js';
import { compareRows, matches, sortValue, type Json } from '../../../services/query/evaluate.js';
import type { Keyset } from '../../../services/query/query-sql.js';
import { parseQuerySpec, type QuerySpec } from '../../../services/query/query-spec.js';
import { createReadyIndex } from '../../support/ready-index.js';
import { buildTestApp, openTestStore, type TestApp } from '../../support/test-store.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * Property: for random documents (nested fields, mixed types, arrays,
 * missing fields) and random filters and orders, the SQL answer (ids in
 * order, page by page through cursors) equals the JavaScript reference
 * (evaluate.ts) over the same objects; with and without a ready index, and
 * on a snapshot. And random filter text never makes the server fail (400
 * at worst).
 */

const PATHS = ['a', 'b', 'c', 'a.b', 'a.c', 'b.a'];
const KEYS = ['a', 'b', 'c'];

const text = fc.constantFrom('', 'a', 'ab', 'abc', 'b', 'B', 'é', 'a\u00ff', '\u{1F600}', 'a\u{1F600}', '5', 'true', 'null', '[1]');
const number = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, -1.5, 1e21, 2.25));
const scalar = fc.oneof(text, number, fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(scalar, { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  ),
})).value;
const document = fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 3 });

const operand = fc.oneof(
  scalar,
  fc.record({ $eq: scalar }),
  fc.record({ $ne: scalar }),
  fc.record({ $gt: fc.oneof(text, number) }),
  fc.record({ $lt: fc.oneof(text, number) }),
  fc.record({ $gte: fc.oneof(text, number), $lte: fc.oneof(text, number) }),
  fc.record({ $in: fc.array(scalar, { minLength: 1, maxLength: 4 }) }),
  fc.record({ $nin: fc.array(scalar, { minLength: 1, maxLength: 4 }) }),
  fc.record({ $exists: fc.boolean() }),
  fc.record({ $prefix: text }),
  fc.record({ $contains: scalar }),
);
const filter: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ filter: Record<string, unknown> }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.dictionary(fc.constantFrom(...PATHS), operand, { maxKeys: 2 }),
    fc.record({ $and: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $or: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $not: tie('filter') }),
  ),
})).filter;
const order = fc.uniqueArray(fc.constantFrom(...PATHS), { maxLength: 2 }).chain((paths) =>
  fc.tuple(...paths.map((path) => fc.boolean().map((down) => `${down ? '-' : ''}${path}`))).map((keys) => keys.join(',')),
);

interface Stored {
  id: string;
  document: Json;
}

function reference(spec: QuerySpec, objects: Stored[]): string[] {
  return objects
    .filter((object) => matches(spec.filter, object.document))
    .map((object) => ({ id: object.id, keys: spec.order.map((key) => sortValue(object.document, key.path)) }))
    .sort((a, b) => compareRows(spec.order, a, b))
    .map((row) => row.id);
}

/** Every page of the query, following the cursor, as ids. */
async function allPages(store: PartitionStore, collection: string, spec: QuerySpec, at?: number): Promise<{ ids: string[]; indexes: Set<string> }> {
  const ids: string[] = [];
  const indexes = new Set<string>();
  let after: Keyset | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await store.read('u', (view) => view.query(collection, spec, { after, limit: 3, at }));
    ids.push(...page.items.map((item) => item.id));
    indexes.add(page.index ?? 'none');
    if (!page.more) return { ids, indexes };
    after = page.resume;
  }
  throw new Error('too many pages');
}

describe('queries against the JavaScript reference', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let store: PartitionStore;
  let run = 0;
  let answeredByIndex = 0;

  beforeAll(() => {
    dir = makeTempDir();
    store = openTestStore(dir.path);
  });
  afterAll(async () => {
    await store.close();
    dir.remove();
  });

  it('answers every random filter and order as the reference does, with and without an index, now and at a snapshot', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(document, { minLength: 1, maxLength: 14 }),
        fc.array(document, { maxLength: 4 }),
        fc.array(fc.tuple(filter, order), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...PATHS),
        async (first, later, queries, indexed) => {
          run++;
          const plain = `p${run}`;
          const withIndex = `x${run}`;
          const objects: Stored[] = first.map((doc, i) => ({ id: `o${String(i).padStart(2, '0')}`, document: doc }));
          const put = (collection: string, list: Stored[]) => list.map((o) => ({ op: 'put' as const, collection, id: o.id, data: o.document as Record<string, unknown> }));
          const partition = await store.pool.acquire('u');
          try {
            await createReadyIndex(partition, withIndex, 'ix', [indexed, ...(indexed === 'a' ? [] : ['a'])]);
          } finally {
            store.pool.release(partition);
          }
          const firstCommit = await store.write('u', { op: 'tx', reads: [], ops: [...put(plain, objects), ...put(withIndex, objects)] });
          const snapshot = firstCommit.result.seq;
          // Later writes: some objects change, one is deleted; the snapshot keeps seeing the first state.
          const changed = later.map((doc, i) => ({ id: objects[i % objects.length]!.id, document: doc }));
          const current = new Map(objects.map((o) => [o.id, o]));
          for (const o of changed) current.set(o.id, o);
          const deleted = objects.length > 2 ? objects[1]!.id : undefined;
          if (deleted) current.delete(deleted);
          const laterOps = [
            ...put(plain, [...new Map(changed.map((o) => [o.id, o])).values()]),
            ...put(withIndex, [...new Map(changed.map((o) => [o.id, o])).values()]),
            ...(deleted ? [{ op: 'delete' as const, collection: plain, id: deleted }, { op: 'delete' as const, collection: withIndex, id: deleted }] : []),
          ];
          await store.write('u', { op: 'tx', reads: [], ops: laterOps });
          // Queries the index can serve (seek by its first path, or walk it in order), next to the random ones.
          const second = indexed === 'a' ? '' : ',-a';
          const served: [Record<string, unknown>, string][] = [
            [{ [indexed]: { $gte: 0 } }, indexed],
            [{ [indexed]: 'a' }, ''],
            [{ [indexed]: { $prefix: 'a' } }, `-${indexed}`],
            [{ b: { $ne: 1 } }, `-${indexed}${second}`],
            [{ [indexed]: { $in: [1, 'ab', true, null] } }, ''],
          ];
          for (const [filterValue, orderText] of [...queries, ...served]) {
            let spec: QuerySpec;
            try {
              spec = parseQuerySpec({ filter: JSON.stringify(filterValue), ...(orderText ? { order: orderText } : {}) });
            } catch (error) {
              // Only the clause limit can refuse a generated filter.
              expect(error).toBeInstanceOf(PinbaseError);
              expect((error as PinbaseError).detail).toMatch(/more than 32 conditions/);
              continue;
            }
            const expectedNow = reference(spec, [...current.values()]);
            const label = `${JSON.stringify(filterValue)} order=${orderText}`;
            expect((await allPages(store, plain, spec)).ids, label).toEqual(expectedNow);
            const indexedAnswer = await allPages(store, withIndex, spec);
            expect(indexedAnswer.ids, `${label} (index on ${indexed})`).toEqual(expectedNow);
            if (indexedAnswer.indexes.has('ix')) answeredByIndex++;
            expect((await allPages(store, plain, spec, snapshot)).ids, `${label} at ${snapshot}`).toEqual(reference(spec, objects));
          }
        },
      ),
      { numRuns: 60 },
    );
    // The indexed collection's answers did come from the index, often enough to mean something.
    expect(answeredByIndex).toBeGreaterThan(150);
  }, 60_000);
});

describe('hostile filter text', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let app: TestApp;

  beforeAll(async () => {
    dir = makeTempDir();
    app = await buildTestApp(dir.path);
    await app.app.inject({ method: 'PUT', url: '/api/users/u/notes/n1', payload: { a: 1, b: ['x'] } });
  });
  afterAll(async () => {
    await app.close();
    dir.remove();
  });

  it('never makes the server fail: random filter, order and fields text gets 200 or a 400 problem', async () => {
    const anyText = fc.oneof(fc.string({ maxLength: 60 }), fc.json({ maxDepth: 4 }), filter.map((f) => JSON.stringify(f)), fc.string({ unit: 'binary', maxLength: 30 }));
    await fc.assert(
      fc.asyncProperty(anyText, fc.option(fc.string({ maxLength: 20 })), fc.option(fc.string({ maxLength: 20 })), async (filterText, orderText, fieldsText) => {
        const query = new URLSearchParams({ filter: filterText, ...(orderText === null ? {} : { order: orderText }), ...(fieldsText === null ? {} : { fields: fieldsText }) });
        const reply = await app.app.inject({ method: 'GET', url: `/api/users/u/notes?${query.toString()}` });
        expect([200, 400], reply.body).toContain(reply.statusCode);
        if (reply.statusCode === 400) expect(reply.json()).toMatchObject({ code: expect.stringMatching(/^invalid_(filter|order|fields)$/) });
      }),
      { numRuns: 300 },
    );
  }, 30_000);
});
