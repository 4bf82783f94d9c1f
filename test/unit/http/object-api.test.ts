import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { body, expectProblem, jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

const U = '/api/users/alice';
let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

function put(path: string, data: unknown, headers: Record<string, string> = {}) {
  return fx.app.inject(jsonRequest('PUT', `${U}/${path}`, data, headers));
}

describe('PUT and GET', () => {
  it('creates with 201, Location, ETag and X-Pinbase-Seq, then replaces with 200 and no Location', async () => {
    const created = await put('notes/n1', { title: 'one' });
    expect(created.statusCode).toBe(201);
    expect(created.headers).toMatchObject({ location: `${U}/notes/n1`, etag: '"1"', 'x-pinbase-seq': '1', 'x-pinbase-worker': 'w-test' });
    expect(body(created)).toEqual({ collection: 'notes', id: 'n1', rev: 1 });

    const replaced = await put('notes/n1', { title: 'two' });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.headers.location).toBeUndefined();
    expect(replaced.headers.etag).toBe('"2"');

    const read = await fx.app.inject({ method: 'GET', url: `${U}/notes/n1` });
    expect(read.statusCode).toBe(200);
    expect(read.headers).toMatchObject({ etag: '"2"', 'x-pinbase-seq': '2' });
    expect(body(read)).toEqual({ title: 'two' });
  });

  it('answers 304 to If-None-Match with the current tag (strong, weak, in a list, or *) and 200 otherwise', async () => {
    await put('notes/n1', { v: 1 });
    await put('notes/n1', { v: 2 });
    for (const tag of ['"2"', 'W/"2"', '"1", "2"', '*']) {
      const response = await fx.app.inject({ method: 'GET', url: `${U}/notes/n1`, headers: { 'if-none-match': tag } });
      expect(response.statusCode, tag).toBe(304);
      expect(response.body).toBe('');
      expect(response.headers.etag).toBe('"2"');
    }
    const stale = await fx.app.inject({ method: 'GET', url: `${U}/notes/n1`, headers: { 'if-none-match': '"1"' } });
    expect(stale.statusCode).toBe(200);
  });

  it('applies If-Match as compare-and-set and answers 412 with the current rev otherwise', async () => {
    await put('notes/n1', { v: 1 });
    const lost = await put('notes/n1', { v: 'late' }, { 'if-match': '"7"' });
    expect(expectProblem(lost, 'precondition_failed', 412).currentRev).toBe(1);
    const weak = await put('notes/n1', { v: 'weak' }, { 'if-match': 'W/"1"' });
    expect(weak.statusCode).toBe(412);
    const won = await put('notes/n1', { v: 2 }, { 'if-match': '"7", "1"' });
    expect(won.statusCode).toBe(200);
    expect(body(await fx.app.inject({ method: 'GET', url: `${U}/notes/n1` }))).toEqual({ v: 2 });
  });

  it('creates with If-None-Match: * only when the object does not exist', async () => {
    expect((await put('notes/n1', { v: 1 }, { 'if-none-match': '*' })).statusCode).toBe(201);
    expectProblem(await put('notes/n1', { v: 2 }, { 'if-none-match': '*' }), 'precondition_failed', 412);
    expect(body(await fx.app.inject({ method: 'GET', url: `${U}/notes/n1` }))).toEqual({ v: 1 });
  });
});

describe('body size', () => {
  it('accepts a document of exactly 1 MiB (the 413 limit is beyond it)', async () => {
    const exactly1MiB = `{"x":"${'a'.repeat(1024 * 1024 - 8)}"}`;
    expect(Buffer.byteLength(exactly1MiB)).toBe(1024 * 1024);
    const response = await fx.app.inject({ method: 'PUT', url: `${U}/big/b`, payload: exactly1MiB, headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(201);
    expect((await fx.app.inject({ method: 'GET', url: `${U}/big/b` })).body).toBe(exactly1MiB);
  });
});

describe('PATCH (RFC 7396 JSON Merge Patch)', () => {
  it('removes members set to null, merges nested objects and replaces arrays', async () => {
    await put('notes/n1', { a: 1, b: { c: 1, d: 2 }, list: [1, 2, 3], keep: true });
    const patched = await fx.app.inject(
      jsonRequest('PATCH', `${U}/notes/n1`, { a: null, b: { d: null, e: 5 }, list: [9] }, { 'content-type': 'application/merge-patch+json' }),
    );
    expect(patched.statusCode).toBe(200);
    expect(body(patched)).toEqual({ collection: 'notes', id: 'n1', rev: 2 });
    expect(body(await fx.app.inject({ method: 'GET', url: `${U}/notes/n1` }))).toEqual({
      b: { c: 1, e: 5 },
      list: [9],
      keep: true,
    });
  });

  it('answers 404 for a missing object and 412 for a failed If-Match', async () => {
    expectProblem(await fx.app.inject(jsonRequest('PATCH', `${U}/notes/none`, { a: 1 })), 'object_not_found', 404);
    await put('notes/n1', { a: 1 });
    expectProblem(
      await fx.app.inject(jsonRequest('PATCH', `${U}/notes/n1`, { a: 2 }, { 'if-match': '"5"' })),
      'precondition_failed',
      412,
    );
  });
});

describe('DELETE', () => {
  it('deletes: later GET and DELETE are 404, and If-Match on the deleted object is 412', async () => {
    await put('notes/n1', { a: 1 });
    const deleted = await fx.app.inject({ method: 'DELETE', url: `${U}/notes/n1`, headers: { 'if-match': '"1"' } });
    expect(deleted.statusCode).toBe(200);
    expect(body(deleted)).toEqual({ collection: 'notes', id: 'n1', rev: 2, deleted: true });
    expectProblem(await fx.app.inject({ method: 'GET', url: `${U}/notes/n1` }), 'object_not_found', 404);
    expectProblem(await fx.app.inject({ method: 'DELETE', url: `${U}/notes/n1` }), 'object_not_found', 404);
    expectProblem(await put('notes/n1', { a: 2 }, { 'if-match': '*' }), 'precondition_failed', 412);
    expectProblem(await put('notes/n1', { a: 2 }, { 'if-match': '"2"' }), 'precondition_failed', 412);
    expect((await put('notes/n1', { a: 3 }, { 'if-none-match': '*' })).statusCode).toBe(201);
  });
});

describe('POST /:collection', () => {
  const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

  it('creates with a 26-character ULID id, a Location to it, and ids that sort by creation', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await fx.app.inject(jsonRequest('POST', `${U}/tasks`, { i }));
      expect(response.statusCode).toBe(201);
      const { id } = body<{ id: string }>(response);
      expect(id).toMatch(ULID);
      expect(response.headers.location).toBe(`${U}/tasks/${id}`);
      ids.push(id);
    }
    const together = await Promise.all([5, 6, 7, 8].map((i) => fx.app.inject(jsonRequest('POST', `${U}/tasks`, { i }))));
    ids.push(...together.map((response) => body<{ id: string }>(response).id));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);

    const listed = body<{ items: { id: string; data: { i: number } }[] }>(await fx.app.inject({ method: 'GET', url: `${U}/tasks` }));
    expect(listed.items.map((item) => item.data.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('GET /:collection', () => {
  it('lists live objects in id order, page by page through an opaque cursor', async () => {
    for (const id of ['d', 'b', 'e', 'a', 'c', 'gone']) await put(`items/${id}`, { id });
    await put('other/z', { id: 'z' });
    await fx.app.inject({ method: 'DELETE', url: `${U}/items/gone` });

    const seen: string[] = [];
    let url = `${U}/items?limit=2`;
    for (let page = 0; page < 5; page++) {
      const response = await fx.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      const listing = body<{ items: { id: string; rev: number; data: unknown }[]; next: string | null }>(response);
      expect(listing.items.length).toBeLessThanOrEqual(2);
      seen.push(...listing.items.map((item) => item.id));
      if (listing.next === null) break;
      url = `${U}/items?limit=2&cursor=${listing.next}`;
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe('GET /:collection/:id/<json pointer>', () => {
  beforeEach(async () => {
    await put('docs/d1', { address: { city: 'Oslo', 'a/b': 'slash', 'm~n': 'tilde' }, tags: ['x', { deep: [10, 20] }], zero: 0 });
  });

  it.each([
    ['address/city', 'Oslo'],
    ['address', { city: 'Oslo', 'a/b': 'slash', 'm~n': 'tilde' }],
    ['address/a~1b', 'slash'],
    ['address/m~0n', 'tilde'],
    ['tags/0', 'x'],
    ['tags/1/deep/1', 20],
    ['zero', 0],
  ])('reads /%s', async (path, expected) => {
    const response = await fx.app.inject({ method: 'GET', url: `${U}/docs/d1/${path}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBe('"1"');
    expect(body(response)).toEqual(expected);
  });

  it.each(['missing', 'tags/2', 'tags/01', 'tags/-', 'zero/x', 'address/city/0', 'address/constructor', 'tags/__proto__'])(
    'answers 404 path_not_found for /%s',
    async (path) => {
      expectProblem(await fx.app.inject({ method: 'GET', url: `${U}/docs/d1/${path}` }), 'path_not_found', 404);
    },
  );

  it('answers 404 object_not_found for a pointer into a missing object', async () => {
    expectProblem(await fx.app.inject({ method: 'GET', url: `${U}/docs/none/a` }), 'object_not_found', 404);
  });
});
