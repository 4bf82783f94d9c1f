import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../../services/query/filter.js';
import { parseFields, parseOrder, parseQuerySpec, querySpecHash } from '../../../services/query/query-spec.js';

const refused = (code: string, detail: RegExp): unknown => expect.objectContaining({ code, detail: expect.stringMatching(detail) as unknown });

describe('filter parser', () => {
  it('parses every operator into the AST, implicit $eq and several keys as AND', () => {
    expect(parseFilter('{}')).toEqual({ kind: 'and', items: [] });
    expect(parseFilter('{"status":"open"}')).toEqual({ kind: 'cmp', path: ['status'], op: 'eq', value: 'open' });
    expect(parseFilter('{"a.b":null,"n":{"$gte":1,"$lt":5}}')).toEqual({
      kind: 'and',
      items: [
        { kind: 'cmp', path: ['a', 'b'], op: 'eq', value: null },
        { kind: 'cmp', path: ['n'], op: 'gte', value: 1 },
        { kind: 'cmp', path: ['n'], op: 'lt', value: 5 },
      ],
    });
    const ops = parseFilter(
      '{"a":{"$eq":true,"$ne":"x","$lte":"m","$gt":2.5,"$in":[1,"1",null],"$nin":[false],"$exists":false,"$prefix":"ab","$contains":3}}',
    );
    expect(ops).toEqual({
      kind: 'and',
      items: [
        { kind: 'cmp', path: ['a'], op: 'eq', value: true },
        { kind: 'not', item: { kind: 'cmp', path: ['a'], op: 'eq', value: 'x' } },
        { kind: 'cmp', path: ['a'], op: 'lte', value: 'm' },
        { kind: 'cmp', path: ['a'], op: 'gt', value: 2.5 },
        { kind: 'in', path: ['a'], values: [1, '1', null] },
        { kind: 'not', item: { kind: 'in', path: ['a'], values: [false] } },
        { kind: 'exists', path: ['a'], value: false },
        { kind: 'prefix', path: ['a'], value: 'ab' },
        { kind: 'contains', path: ['a'], value: 3 },
      ],
    });
  });

  it('parses $and, $or and $not, nested', () => {
    expect(parseFilter('{"$or":[{"a":1},{"$not":{"b":{"$exists":true}}}],"$and":[{"c":"x"}]}')).toEqual({
      kind: 'and',
      items: [
        { kind: 'or', items: [{ kind: 'cmp', path: ['a'], op: 'eq', value: 1 }, { kind: 'not', item: { kind: 'exists', path: ['b'], value: true } }] },
        { kind: 'and', items: [{ kind: 'cmp', path: ['c'], op: 'eq', value: 'x' }] },
      ],
    });
  });

  it('refuses text that is not a JSON object, naming the fault', () => {
    expect(() => parseFilter('{"a":')).toThrow(refused('invalid_filter', /not JSON/));
    expect(() => parseFilter('[1]')).toThrow(refused('invalid_filter', /must be a JSON object/));
    expect(() => parseFilter('"a"')).toThrow(refused('invalid_filter', /must be a JSON object/));
    expect(() => parseFilter('null')).toThrow(refused('invalid_filter', /must be a JSON object/));
  });

  it('refuses unknown operators, wrong operand types and equality with arrays or objects, saying where', () => {
    const cases: [string, RegExp][] = [
      ['{"$where":"1"}', /unknown operator \$where/],
      ['{"a":{"$regex":"x"}}', /at a\.\$regex: unknown operator/],
      ['{"a":{"$gt":true}}', /at a\.\$gt: \$gt takes a number or a string/],
      ['{"a":{"$lt":null}}', /\$lt takes a number or a string/],
      ['{"a":{"$in":[]}}', /\$in takes an array of 1 to 256/],
      ['{"a":{"$in":"x"}}', /\$in takes an array/],
      ['{"a":{"$in":[[1]]}}', /at a\.\$in\[0\]: \$in takes a JSON scalar/],
      ['{"a":{"$nin":[{}]}}', /\$nin takes a JSON scalar/],
      ['{"a":{"$exists":1}}', /\$exists takes true or false/],
      ['{"a":{"$prefix":1}}', /\$prefix takes a string/],
      ['{"a":{"$contains":[1]}}', /\$contains takes a JSON scalar/],
      ['{"a":[1,2]}', /equality with an array is not supported/],
      ['{"a":{"b":1}}', /equality with an object is not supported/],
      ['{"a":{}}', /equality with an object/],
      ['{"a":{"$eq":1,"b":2}}', /equality with an object/],
      ['{"$and":[]}', /at \$and: \$and takes a non-empty array/],
      ['{"$or":{"a":1}}', /\$or takes a non-empty array/],
      ['{"$not":[{"a":1}]}', /at \$not: a filter must be a JSON object/],
      ['{"$or":[{"a":1},3]}', /at \$or\[1\]: a filter must be a JSON object/],
      ['{"a":{"$gt":1e999}}', /beyond the range of a double/],
    ];
    for (const [text, detail] of cases) expect(() => parseFilter(text), text).toThrow(refused('invalid_filter', detail));
  });

  it('refuses injection-shaped and reserved paths', () => {
    for (const path of ["a'); DROP TABLE versions;--", '$.a', 'a"b', 'a..b', '', 'a.', 'a b', 'a[0]', `${'x.'.repeat(8)}x`, 'x'.repeat(65)]) {
      expect(() => parseFilter(JSON.stringify({ [path]: 1 })), path).toThrow(refused('invalid_filter', /field path/));
    }
    expect(() => parseFilter('{"__proto__":1}')).toThrow(refused('invalid_filter', /never names "__proto__"/));
    expect(() => parseFilter('{"a.constructor":1}')).toThrow(refused('invalid_filter', /never names "constructor"/));
  });

  it('refuses a number a document could not hold, which would be compared as another', () => {
    expect(() => parseFilter('{"id":12345678901234567890}')).toThrow(refused('invalid_filter', /12345678901234567890.*read back as 12345678901234567000/));
    expect(() => parseFilter('{"n":{"$in":[1,1e400]}}')).toThrow(refused('invalid_filter', /beyond the range of a double/));
    expect(parseFilter('{"n":{"$gte":0.10000000000000001}}')).toEqual(parseFilter('{"n":{"$gte":0.1}}'));
  });

  it('refuses a key given twice in one object, which JSON.parse would quietly reduce to the last', () => {
    expect(() => parseFilter('{"status":"open","status":"closed"}')).toThrow(refused('invalid_filter', /two members named "status"/));
    expect(() => parseFilter('{"total":{"$gte":100,"$gte":300}}')).toThrow(refused('invalid_filter', /two members named "\$gte"/));
    expect(() => parseFilter('{"$or":[{"a":1,"\\u0061":2}]}')).toThrow(refused('invalid_filter', /two members named "a"/));
    // One key in several objects is not a repeat.
    expect(() => parseFilter('{"a":1,"$or":[{"a":2},{"a":3}]}')).not.toThrow();
  });

  it('enforces the size, depth, clause and $in limits', () => {
    expect(() => parseFilter(`{"a":"${'x'.repeat(4096)}"}`)).toThrow(refused('invalid_filter', /at most 4096/));
    const nested = (depth: number) => '{"$not":'.repeat(depth - 1) + '{"a":1}' + '}'.repeat(depth - 1);
    expect(() => parseFilter(nested(8))).not.toThrow();
    expect(() => parseFilter(nested(9))).toThrow(refused('invalid_filter', /deeper than 8/));
    expect(() => parseFilter(nested(50))).toThrow(refused('invalid_filter', /deeper than 8/));
    const clauses = (n: number) => JSON.stringify({ $and: Array.from({ length: n }, (_, i) => ({ [`f${i}`]: i })) });
    expect(() => parseFilter(clauses(32))).not.toThrow();
    expect(() => parseFilter(clauses(33))).toThrow(refused('invalid_filter', /more than 32 conditions/));
    expect(() => parseFilter(JSON.stringify({ a: { $in: Array.from({ length: 256 }, (_, i) => i) } }))).not.toThrow();
    expect(() => parseFilter(JSON.stringify({ a: { $in: Array.from({ length: 257 }, (_, i) => i) } }))).toThrow(refused('invalid_filter', /1 to 256/));
  });
});

describe('order and fields', () => {
  it('parses orders with descending keys and refuses bad ones', () => {
    expect(parseOrder('-total,createdAt')).toEqual([
      { path: ['total'], descending: true },
      { path: ['createdAt'], descending: false },
    ]);
    for (const [text, detail] of [
      ['-', /comma-separated/],
      ['a,,b', /comma-separated/],
      ['', /comma-separated/],
      ['a,-a', /appears twice/],
      ['a.', /not a field path/],
      ['a b', /not a field path/],
      [Array.from({ length: 9 }, (_, i) => `k${i}`).join(','), /at most 8 keys/],
    ] as const) {
      expect(() => parseOrder(text), text).toThrow(refused('invalid_order', detail));
    }
  });

  it('parses fields and refuses bad ones', () => {
    expect(parseFields('title,address.city')).toEqual([['title'], ['address', 'city']]);
    for (const [text, detail] of [
      ['', /comma-separated/],
      ['a,', /comma-separated/],
      ['a,a', /appears twice/],
      ['a.__proto__', /never names/],
      [Array.from({ length: 33 }, (_, i) => `f${i}`).join(','), /at most 32/],
    ] as const) {
      expect(() => parseFields(text), text).toThrow(refused('invalid_fields', detail));
    }
  });

  it('hashes the normalised query: the same query gives the same hash whatever its spelling, another query another hash', () => {
    const hash = (filter: string, order?: string, fields?: string) => querySpecHash(parseQuerySpec({ filter, order, fields }));
    expect(hash('{"a":1}')).toBe(hash('{ "a" : {"$eq": 1} }'));
    expect(hash('{"a":1}')).not.toBe(hash('{"a":2}'));
    expect(hash('{"a":1}')).not.toBe(hash('{"a":"1"}'));
    expect(hash('{"a":1}', 'b')).not.toBe(hash('{"a":1}', '-b'));
    expect(hash('{"a":1}', undefined, 'x')).not.toBe(hash('{"a":1}'));
  });
});
