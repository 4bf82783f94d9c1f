import { describe, expect, it } from 'vitest';
import { parsePointer, resolvePointer } from '../../../services/partition/json-pointer.js';
import { mergePatchInPlace } from '../../../services/partition/merge-patch.js';
import { newObjectId } from '../../../services/partition/object-id.js';

describe('JSON pointer (RFC 6901)', () => {
  const doc = { foo: ['bar', 'baz'], '': 0, 'a/b': 1, 'm~n': 8, nested: { k: null } };

  it('resolves the RFC 6901 examples, including ~0 and ~1 escapes', () => {
    expect(resolvePointer(doc, parsePointer(''))).toEqual(doc);
    expect(resolvePointer(doc, parsePointer('/foo'))).toEqual(['bar', 'baz']);
    expect(resolvePointer(doc, parsePointer('/foo/0'))).toBe('bar');
    expect(resolvePointer(doc, parsePointer('/'))).toBe(0);
    expect(resolvePointer(doc, parsePointer('/a~1b'))).toBe(1);
    expect(resolvePointer(doc, parsePointer('/m~0n'))).toBe(8);
    expect(resolvePointer(doc, parsePointer('/nested/k'))).toBeNull();
  });

  it('answers undefined for missing paths, bad array indexes and prototype keys', () => {
    for (const pointer of ['/nope', '/foo/2', '/foo/01', '/foo/-', '/foo/bar', '/__proto__', '/constructor', '/nested/k/x']) {
      expect(resolvePointer(doc, parsePointer(pointer))).toBeUndefined();
    }
  });

  it('rejects pointers without a leading slash and "~" not followed by 0 or 1', () => {
    for (const pointer of ['foo', '/a~2', '/a~']) expect(() => parsePointer(pointer)).toThrow(/pointer|~/);
  });
});

describe('JSON Merge Patch (RFC 7396)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'b' }, null, null],
  ])('patches %j with %j into %j', (target, patch, expected) => {
    const patchBefore = JSON.stringify(patch);
    expect(mergePatchInPlace(target, patch)).toEqual(expected);
    expect(JSON.stringify(patch)).toBe(patchBefore);
  });

  it('changes the target in place and never shares the patch\'s objects with it', () => {
    const target: Record<string, unknown> = { keep: { x: 1 } };
    const patch = { add: { y: { z: 1 } } };
    expect(mergePatchInPlace(target, patch)).toBe(target);
    mergePatchInPlace(target, { add: { y: { z: 2, w: null }, v: 3 } });
    expect(target).toEqual({ keep: { x: 1 }, add: { y: { z: 2 }, v: 3 } });
    expect(patch).toEqual({ add: { y: { z: 1 } } });
  });
});

/** The millisecond time in an object id's first 10 characters. */
function timeOf(id: string): number {
  return [...id.slice(0, 10)].reduce((time, char) => time * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(char), 0);
}

describe('object ids', () => {
  it('are 26-character Crockford base32 ULIDs', () => {
    expect(newObjectId()).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('strictly increase, also within one millisecond, so they sort by creation', () => {
    const now = Date.now();
    const ids = Array.from({ length: 1000 }, () => newObjectId(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const later = newObjectId(now + 5);
    expect(later > ids[ids.length - 1]!).toBe(true);
  });

  it('encode the creation time in their first 10 characters', () => {
    // Later than any id made so far in this process (ids never go back in time).
    const now = timeOf(newObjectId()) + 10_000;
    expect(timeOf(newObjectId(now))).toBe(now);
  });

  it('keep increasing when the clock goes backwards', () => {
    const first = newObjectId(Date.now() + 20_000);
    expect(newObjectId(Date.now()) > first).toBe(true);
  });
});
