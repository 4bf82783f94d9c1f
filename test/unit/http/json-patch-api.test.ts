import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCEPT_PATCH } from '../../../services/http/json-body.js';
import { body, expectProblem, historyLength, jsonRequest, latestSeq, listTree, startHttpFixture, type HttpFixture } from './http-harness.js';

const USER = 'patcher';
const U = `/api/users/${USER}`;
let fx: HttpFixture;
beforeEach(async () => {
  fx = await startHttpFixture();
});
afterEach(async () => {
  await fx.close();
});

/** A PATCH with a JSON Patch body (or any raw body and content type). */
function jsonPatch(path: string, patch: unknown, headers: Record<string, string> = {}): InjectOptions {
  return {
    method: 'PATCH',
    url: `${U}/${path}`,
    payload: typeof patch === 'string' ? patch : JSON.stringify(patch),
    headers: { 'content-type': 'application/json-patch+json', ...headers },
  };
}

async function read(path: string): Promise<{ status: number; etag: string | undefined; data: unknown }> {
  const response = await fx.app.inject({ method: 'GET', url: `${U}/${path}` });
  return { status: response.statusCode, etag: response.headers.etag, data: response.statusCode === 200 ? body(response) : undefined };
}

async function seed(path: string, data: Record<string, unknown>): Promise<void> {
  expect((await fx.app.inject(jsonRequest('PUT', `${U}/${path}`, data))).statusCode).toBe(201);
}

function tx(payload: unknown, headers: Record<string, string> = {}) {
  return fx.app.inject(jsonRequest('POST', `${U}/_tx`, payload, headers));
}

describe('PATCH with application/json-patch+json', () => {
  it('applies add, remove, replace, move, copy and test in order as one new version', async () => {
    await seed('notes/n1', { title: 'draft', tags: ['a', 'c'], meta: { old: 1 }, gone: true });
    const response = await fx.app.inject(
      jsonPatch('notes/n1', [
        { op: 'test', path: '/title', value: 'draft' },
        { op: 'add', path: '/tags/1', value: 'b' },
        { op: 'add', path: '/tags/-', value: 'd' },
        { op: 'remove', path: '/gone' },
        { op: 'replace', path: '/title', value: 'final' },
        { op: 'move', from: '/meta/old', path: '/meta/new' },
        { op: 'copy', from: '/tags', path: '/tagsCopy' },
      ]),
    );
    expect(response.statusCode).toBe(200);
    expect(body(response)).toEqual({ collection: 'notes', id: 'n1', rev: 2 });
    expect(response.headers['accept-patch']).toBe(ACCEPT_PATCH);
    const after = await read('notes/n1');
    expect(after.data).toEqual({ title: 'final', tags: ['a', 'b', 'c', 'd'], meta: { new: 1 }, tagsCopy: ['a', 'b', 'c', 'd'] });
    expect(after.etag).toBe('"2"');
  });

  it('advertises Accept-Patch on object reads (RFC 5789 §3.1)', async () => {
    await seed('notes/n1', { a: 1 });
    const response = await fx.app.inject({ method: 'GET', url: `${U}/notes/n1` });
    expect(response.headers['accept-patch']).toBe('application/merge-patch+json, application/json-patch+json');
  });

  it('answers 409 patch_test_failed naming the operation, and changes neither the object nor its rev', async () => {
    await seed('notes/n1', { n: 1 });
    const response = await fx.app.inject(
      jsonPatch('notes/n1', [
        { op: 'replace', path: '/n', value: 2 },
        { op: 'test', path: '/n', value: 1 },
      ]),
    );
    expect(expectProblem(response, 'patch_test_failed', 409)).toMatchObject({ op: 1, path: '/n' });
    expect(await read('notes/n1')).toEqual({ status: 200, etag: '"1"', data: { n: 1 } });
    expect(await latestSeq(fx.app, USER)).toBe(1);
  });

  it('answers 409 patch_conflict for a target that does not exist and 400 invalid_patch for a malformed patch', async () => {
    await seed('notes/n1', { list: [1] });
    expect(expectProblem(await fx.app.inject(jsonPatch('notes/n1', [{ op: 'remove', path: '/nope' }])), 'patch_conflict', 409)).toMatchObject({ op: 0 });
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', [{ op: 'add', path: '/list/5', value: 0 }])), 'patch_conflict', 409);
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', [{ op: 'replace', path: '', value: [] }])), 'patch_conflict', 409);
    const unknownOp = expectProblem(await fx.app.inject(jsonPatch('notes/n1', [{ op: 'test', path: '/list', value: [1] }, { op: 'spam', path: '/x' }])), 'invalid_patch', 400);
    expect(unknownOp).toMatchObject({ op: 1 });
    expect(unknownOp.detail).toMatch(/operation 1: unknown op "spam"/);
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', [{ op: 'add', path: '/x' }])), 'invalid_patch', 400);
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', { op: 'add', path: '/x', value: 1 })), 'invalid_patch', 400);
    const tooMany = Array.from({ length: 1001 }, () => ({ op: 'test', path: '/list', value: [1] }));
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', tooMany)), 'invalid_patch', 400);
    expect(await read('notes/n1')).toEqual({ status: 200, etag: '"1"', data: { list: [1] } });
  });

  it('holds the result to the document size limit (413 body_too_large)', async () => {
    await seed('big/b', { s: 'x'.repeat(600 * 1024) });
    const response = await fx.app.inject(jsonPatch('big/b', [{ op: 'copy', from: '/s', path: '/t' }]));
    expectProblem(response, 'body_too_large', 413);
    expect(await historyLength(fx.app, USER, 'big/b')).toBe(1);
  });

  it('checks If-Match before the patch: a stale rev is 412, the current one applies', async () => {
    await seed('notes/n1', { n: 1 });
    const patch = [{ op: 'test', path: '/n', value: 1 }, { op: 'replace', path: '/n', value: 2 }];
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', patch, { 'if-match': '"7"' })), 'precondition_failed', 412);
    expect((await fx.app.inject(jsonPatch('notes/n1', patch, { 'if-match': '"1"' }))).statusCode).toBe(200);
    expect((await read('notes/n1')).data).toEqual({ n: 2 });
  });

  it('replays a retry with the same Idempotency-Key, and refuses the key with another patch (422)', async () => {
    await seed('notes/n1', { n: 0 });
    const first = await fx.app.inject(jsonPatch('notes/n1', [{ op: 'replace', path: '/n', value: 1 }], { 'idempotency-key': 'jp-1' }));
    expect(first.statusCode).toBe(200);
    const repeat = await fx.app.inject(jsonPatch('notes/n1', [{ op: 'replace', path: '/n', value: 1 }], { 'idempotency-key': 'jp-1' }));
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.body).toBe(first.body);
    const other = await fx.app.inject(jsonPatch('notes/n1', [{ op: 'replace', path: '/n', value: 9 }], { 'idempotency-key': 'jp-1' }));
    expectProblem(other, 'idempotency_key_reused', 422);
    expect(await historyLength(fx.app, USER, 'notes/n1')).toBe(2);
    expect((await read('notes/n1')).data).toEqual({ n: 1 });
  });

  it('refuses __proto__ and constructor in paths and in values with forbidden_key', async () => {
    await seed('notes/n1', { a: {} });
    const forbidden = [
      [{ op: 'add', path: '/__proto__/x', value: 1 }],
      [{ op: 'add', path: '/a/constructor', value: 1 }],
      [{ op: 'copy', from: '/constructor', path: '/b' }],
    ];
    for (const patch of forbidden) expectProblem(await fx.app.inject(jsonPatch('notes/n1', patch)), 'forbidden_key', 400);
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', '[{"op":"add","path":"/a","value":{"__proto__":{"x":1}}}]')), 'forbidden_key', 400);
    expect(await latestSeq(fx.app, USER)).toBe(1);
  });

  it('answers 415 with Accept-Patch for a media type PATCH does not take, and JSON Patch on other methods', async () => {
    await seed('notes/n1', { a: 1 });
    for (const type of ['text/plain', 'application/patch+json', 'application/json-patch']) {
      const response = await fx.app.inject(jsonPatch('notes/n1', [{ op: 'remove', path: '/a' }], { 'content-type': type }));
      expectProblem(response, 'unsupported_media_type', 415);
      expect(response.headers['accept-patch'], type).toBe(ACCEPT_PATCH);
    }
    const put = await fx.app.inject({ method: 'PUT', url: `${U}/notes/n1`, payload: '[]', headers: { 'content-type': 'application/json-patch+json' } });
    expectProblem(put, 'unsupported_media_type', 415);
    expectProblem(await fx.app.inject(jsonPatch('notes/n1', '[]', { 'content-type': 'application/merge-patch+json' })), 'invalid_body', 400);
    expect(await read('notes/n1')).toEqual({ status: 200, etag: '"1"', data: { a: 1 } });
  });

  it('answers 404 for a missing object of a user with no file, and creates no file', async () => {
    const response = await fx.app.inject({ ...jsonPatch('notes/n1', [{ op: 'add', path: '/a', value: 1 }]), url: '/api/users/newcomer/notes/n1' });
    expectProblem(response, 'object_not_found', 404);
    expect(listTree(fx.dataDir).filter((path) => path.includes('newcomer'))).toEqual([]);
  });

  it('keeps taking a merge patch as application/json and application/merge-patch+json', async () => {
    await seed('notes/n1', { a: 1, b: 2 });
    expect((await fx.app.inject(jsonRequest('PATCH', `${U}/notes/n1`, { a: null }))).statusCode).toBe(200);
    const merge = await fx.app.inject(jsonRequest('PATCH', `${U}/notes/n1`, { c: 3 }, { 'content-type': 'application/merge-patch+json' }));
    expect(merge.statusCode).toBe(200);
    expect((await read('notes/n1')).data).toEqual({ b: 2, c: 3 });
  });
});

describe('JSON Patch in transactions', () => {
  it('takes merge patches (objects) and JSON Patches (arrays) in one transaction, each op seeing the ones before', async () => {
    await seed('acct/a', { balance: 10, log: [] });
    await seed('acct/b', { balance: 0 });
    const response = await tx({
      ops: [
        { op: 'patch', collection: 'acct', id: 'a', patch: [{ op: 'test', path: '/balance', value: 10 }, { op: 'replace', path: '/balance', value: 4 }, { op: 'add', path: '/log/-', value: 'sent 6' }] },
        { op: 'patch', collection: 'acct', id: 'b', patch: { balance: 6 } },
        { op: 'patch', collection: 'acct', id: 'a', patch: [{ op: 'test', path: '/balance', value: 4 }, { op: 'copy', from: '/balance', path: '/last' }] },
      ],
    });
    expect(response.statusCode).toBe(200);
    expect((await read('acct/a')).data).toEqual({ balance: 4, log: ['sent 6'], last: 4 });
    expect((await read('acct/b')).data).toEqual({ balance: 6 });
  });

  it('fails the whole transaction with 409 patch_test_failed naming the transaction op and the patch operation', async () => {
    await seed('acct/a', { balance: 10 });
    const response = await tx({
      ops: [
        { op: 'put', collection: 'acct', id: 'new', data: { x: 1 } },
        { op: 'patch', collection: 'acct', id: 'a', patch: { note: 'merged' } },
        { op: 'patch', collection: 'acct', id: 'a', patch: [{ op: 'replace', path: '/balance', value: 0 }, { op: 'test', path: '/note', value: 'other' }] },
        { op: 'delete', collection: 'acct', id: 'a' },
      ],
    });
    expect(expectProblem(response, 'patch_test_failed', 409)).toMatchObject({ txOp: 2, op: 1, path: '/note' });
    expect(await latestSeq(fx.app, USER)).toBe(1);
    expect((await read('acct/a')).data).toEqual({ balance: 10 });
    expect((await read('acct/new')).status).toBe(404);
  });

  it('answers 400 invalid_patch for a malformed JSON Patch in a transaction, naming both indexes', async () => {
    await seed('acct/a', { balance: 10 });
    const response = await tx({
      ops: [
        { op: 'put', collection: 'acct', id: 'b', data: {} },
        { op: 'patch', collection: 'acct', id: 'a', patch: [{ op: 'test', path: '/balance', value: 10 }, { op: 'move', from: '/balance', path: '/balance/x' }] },
      ],
    });
    expect(expectProblem(response, 'invalid_patch', 400)).toMatchObject({ txOp: 1, op: 1 });
    expectProblem(await tx({ ops: [{ op: 'patch', collection: 'acct', id: 'a', patch: 'text' }] }), 'invalid_transaction', 400);
    expect(await latestSeq(fx.app, USER)).toBe(1);
  });
});

describe('OpenAPI', () => {
  it('documents the three PATCH media types and both kinds of transaction patch', async () => {
    const docs = await startHttpFixture({ docs: true });
    try {
      const spec = body<{ paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: Record<string, unknown> }> } }>> }>(
        await docs.app.inject({ method: 'GET', url: '/docs/json' }),
      );
      const content = spec.paths['/api/users/{userId}/{collection}/{id}']!.patch!.requestBody.content;
      expect(Object.keys(content).sort()).toEqual(['application/json', 'application/json-patch+json', 'application/merge-patch+json']);
      expect(content['application/json-patch+json']!.schema).toMatchObject({ type: 'array', maxItems: 1000 });
      expect(JSON.stringify(spec.paths['/api/users/{userId}/_tx']!.post!.requestBody)).toContain('JSON Patch');
    } finally {
      await docs.close();
    }
  });
});
