import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, jsonRequest, latestSeq, listTree, startHttpFixture, type HttpFixture } from './http-harness.js';

/** The one user written legitimately; every other user id below must leave no trace. */
const VICTIM = 'victim';
const V = `/api/users/${VICTIM}`;
/** Never written: a write to it that is rejected must not create its file. */
const M = '/api/users/mallory';

const MiB = 1024 * 1024;
/** A JSON object of exactly `bytes` bytes. */
const jsonOfSize = (bytes: number) => `{"x":"${'a'.repeat(bytes - 8)}"}`;
const b64 = (text: string) => Buffer.from(text).toString('base64url');
const arbitraryCursor = Buffer.from(Array.from({ length: 24 }, (_, i) => (i * 97 + 13) % 256)).toString('base64url');

const deepArray = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
const get = (url: string, headers: Record<string, string> = {}): InjectOptions => ({ method: 'GET', url, headers });
const raw = (method: 'PUT' | 'PATCH' | 'POST', url: string, payload: string, contentType?: string): InjectOptions => ({
  method,
  url,
  payload,
  headers: contentType === undefined ? {} : { 'content-type': contentType },
});
const putJson = (url: string, payload: string, headers: Record<string, string> = {}): InjectOptions => ({
  method: 'PUT',
  url,
  payload,
  headers: { 'content-type': 'application/json', ...headers },
});

type Case = [name: string, code: string, status: number, request: InjectOptions];

const CASES: Case[] = [
  // User ids, collections and object ids. inject() resolves whole "." / ".." segments like any URL parser.
  ['user id ".." (resolved away)', 'route_not_found', 404, putJson(`/api/users/../c/a`, '{}')],
  ['user id "%2e%2e" (resolved away)', 'route_not_found', 404, putJson(`/api/users/%2e%2e/c/a`, '{}')],
  ['user id "../x" with %2F', 'invalid_user_id', 400, putJson(`/api/users/..%2Fx/c/a`, '{}')],
  ['user id with NUL', 'invalid_user_id', 400, putJson(`/api/users/u%00/c/a`, '{}')],
  ['user id of 65 chars', 'invalid_user_id', 400, putJson(`/api/users/${'u'.repeat(65)}/c/a`, '{}')],
  ['user id with a dot', 'invalid_user_id', 400, putJson(`/api/users/mal.lory/c/a`, '{}')],
  ['object id ".." (resolved to the collection)', 'route_not_found', 404, putJson(`${M}/c/..`, '{}')],
  ['object id "..x" via %2e%2e', 'invalid_object_id', 400, putJson(`${M}/c/%2e%2ex`, '{}')],
  ['object id with %2F', 'invalid_object_id', 400, putJson(`${M}/c/a%2Fb`, '{}')],
  ['object id with %2F..%2F', 'invalid_object_id', 400, putJson(`${M}/c/a%2F..%2F..%2Fetc`, '{}')],
  ['object id with NUL', 'invalid_object_id', 400, putJson(`${M}/c/a%00`, '{}')],
  ['object id with a leading dot', 'invalid_object_id', 400, putJson(`${M}/c/.hidden`, '{}')],
  ['object id with a space', 'invalid_object_id', 400, putJson(`${M}/c/a%20b`, '{}')],
  ['object id of 129 chars', 'invalid_object_id', 400, putJson(`${M}/c/${'i'.repeat(129)}`, '{}')],
  ['collection "_x"', 'invalid_collection', 400, putJson(`${M}/_x/a`, '{}')],
  ['collection "Upper"', 'invalid_collection', 400, putJson(`${M}/Upper/a`, '{}')],
  ['collection of 65 chars', 'invalid_collection', 400, putJson(`${M}/${'c'.repeat(65)}/a`, '{}')],
  ['collection starting with a digit', 'invalid_collection', 400, get(`${V}/1c`)],
  ['POST to collection "_x"', 'invalid_collection', 400, raw('POST', `${M}/_x`, '{}', 'application/json')],
  // Forbidden keys, however spelled and wherever nested.
  ['__proto__ key', 'forbidden_key', 400, putJson(`${M}/c/a`, '{"__proto__":{"admin":true}}')],
  ['nested __proto__ key', 'forbidden_key', 400, putJson(`${M}/c/a`, '{"a":{"b":[{"__proto__":{}}]}}')],
  ['__proto__ spelled \\u005f_proto__', 'forbidden_key', 400, putJson(`${M}/c/a`, '{"a":{"\\u005f_proto__":1}}')],
  ['constructor key', 'forbidden_key', 400, putJson(`${M}/c/a`, '{"constructor":{"prototype":{}}}')],
  ['constructor spelled \\u0063onstructor, nested', 'forbidden_key', 400, putJson(`${M}/c/a`, '{"x":[1,{"\\u0063onstructor":1}]}')],
  ['__proto__ in a PATCH', 'forbidden_key', 400, raw('PATCH', `${V}/c/a`, '{"__proto__":{"x":1}}', 'application/merge-patch+json')],
  ['__proto__ in POST', 'forbidden_key', 400, raw('POST', `${M}/c`, '{"__proto__":1}', 'application/json')],
  ['__proto__ in a transaction op', 'forbidden_key', 400, raw('POST', `${M}/_tx`, '{"ops":[{"op":"put","collection":"c","id":"a","data":{"__proto__":1}}]}', 'application/json')],
  // Size, media type, syntax and shape of bodies.
  ['body of 1 MiB + 1 byte', 'body_too_large', 413, putJson(`${M}/c/a`, jsonOfSize(MiB + 1))],
  ['transaction of 1 MiB + 1 byte', 'body_too_large', 413, raw('POST', `${M}/_tx`, jsonOfSize(MiB + 1), 'application/json')],
  ['text/plain body', 'unsupported_media_type', 415, raw('PUT', `${M}/c/a`, '{"a":1}', 'text/plain')],
  ['form body', 'unsupported_media_type', 415, raw('PUT', `${M}/c/a`, 'a=1', 'application/x-www-form-urlencoded')],
  ['body without a content type', 'unsupported_media_type', 415, raw('PUT', `${M}/c/a`, '{"a":1}')],
  ['text/json PATCH', 'unsupported_media_type', 415, raw('PATCH', `${V}/c/a`, '{"a":1}', 'text/json')],
  ['malformed JSON', 'invalid_json', 400, putJson(`${M}/c/a`, '{"a":')],
  ['trailing garbage after JSON', 'invalid_json', 400, putJson(`${M}/c/a`, '{"a":1} x')],
  ['empty JSON body', 'invalid_json', 400, putJson(`${M}/c/a`, '')],
  ['array body', 'invalid_body', 400, putJson(`${M}/c/a`, '[1,2]')],
  ['string body', 'invalid_body', 400, putJson(`${M}/c/a`, '"text"')],
  ['number body', 'invalid_body', 400, putJson(`${M}/c/a`, '42')],
  ['null body', 'invalid_body', 400, putJson(`${M}/c/a`, 'null')],
  ['array PATCH', 'invalid_body', 400, raw('PATCH', `${V}/c/a`, '[]', 'application/json')],
  ['array nested 100 000 deep', 'invalid_body', 400, putJson(`${M}/c/a`, `{"y":${deepArray}}`)],
  ['array nested 100 000 deep beside a \\u escape', 'invalid_body', 400, putJson(`${M}/c/a`, `{"x":"\\u0041","y":${deepArray}}`)],
  // Bodies are UTF-8 I-JSON (RFC 7493): what could not be stored and read back as sent is refused, never altered.
  ['charset=utf-7', 'unsupported_media_type', 415, putJson(`${M}/c/a`, '{"a":1}', { 'content-type': 'application/json; charset=utf-7' })],
  ['charset=utf-16 (quoted)', 'unsupported_media_type', 415, putJson(`${M}/c/a`, '{"a":1}', { 'content-type': 'application/json; charset="UTF-16"' })],
  ['Content-Encoding: gzip', 'unsupported_media_type', 415, putJson(`${M}/c/a`, '{"a":1}', { 'content-encoding': 'gzip' })],
  ['bytes that are not UTF-8', 'invalid_json', 400, { method: 'PUT', url: `${M}/c/a`, headers: { 'content-type': 'application/json' }, payload: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]) }],
  ['an unpaired surrogate escape', 'invalid_body', 400, putJson(`${M}/c/a`, '{"a":"x\\ud800y"}')],
  ['an unpaired surrogate escape in a key', 'invalid_body', 400, putJson(`${M}/c/a`, '{"\\udfff":1}')],
  ['a number beyond a double (10 000 digits)', 'invalid_body', 400, putJson(`${M}/c/a`, `{"n":${'9'.repeat(10_000)}}`)],
  ['a number beyond a double (1e400)', 'invalid_body', 400, putJson(`${M}/c/a`, '{"n":[1,{"m":-1e400}]}')],
  ['an integer a double does not hold (a 64-bit id)', 'invalid_body', 400, putJson(`${M}/c/a`, '{"id":12345678901234567890}')],
  ['an integer one past 2^53', 'invalid_body', 400, putJson(`${M}/c/a`, '{"n":[-9007199254740993]}')],
  ['2^60, which a double holds but JSON.stringify writes as 1152921504606847000', 'invalid_body', 400, putJson(`${M}/c/a`, '{"n":1152921504606846976}')],
  ['a non-zero number that would read back as 0', 'invalid_body', 400, putJson(`${M}/c/a`, '{"n":1e-400}')],
  ['a number of more significant digits than a double has', 'invalid_body', 400, putJson(`${M}/c/a`, '{"pi":3.14159265358979323846}')],
  ['an imprecise number in a merge patch', 'invalid_body', 400, raw('PATCH', `${V}/c/a`, '{"id":12345678901234567890}', 'application/merge-patch+json')],
  ['an imprecise number in a transaction op', 'invalid_body', 400, raw('POST', `${M}/_tx`, '{"ops":[{"op":"put","collection":"c","id":"a","data":{"id":18446744073709551615}}]}', 'application/json')],
  ['a member name given twice', 'invalid_body', 400, putJson(`${M}/c/a`, '{"role":"user","role":"admin"}')],
  ['a member name given twice, nested, once as a \\u escape', 'invalid_body', 400, putJson(`${M}/c/a`, '{"x":[1,{"k":1,"\\u006b":2}]}')],
  ['a member name given twice in a merge patch', 'invalid_body', 400, raw('PATCH', `${V}/c/a`, '{"a":1,"a":null}', 'application/merge-patch+json')],
  ['an op member given twice in a JSON Patch', 'invalid_body', 400, raw('PATCH', `${V}/c/a`, '[{"op":"add","path":"/a","value":1,"op":"remove"}]', 'application/json-patch+json')],
  ['a member name given twice in a transaction op', 'invalid_body', 400, raw('POST', `${M}/_tx`, '{"ops":[{"op":"put","collection":"c","id":"a","data":{},"id":"b"}]}', 'application/json')],
  ['transaction without ops', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"reads":[]}', 'application/json')],
  ['transaction with an unknown op', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"ops":[{"op":"drop","collection":"c","id":"a"}]}', 'application/json')],
  ['transaction on collection "_x"', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"ops":[{"op":"put","collection":"_x","id":"a","data":{}}]}', 'application/json')],
  ['transaction with a bad read rev', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"reads":[{"collection":"c","id":"a","rev":-1}],"ops":[{"op":"delete","collection":"c","id":"a"}]}', 'application/json')],
  // Bodies are JSON as sent: no type coercion.
  ['transaction with a read rev as a string', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"reads":[{"collection":"c","id":"a","rev":"0"}],"ops":[{"op":"delete","collection":"c","id":"a"}]}', 'application/json')],
  ['transaction with ifRev as a hex string', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"ops":[{"op":"put","collection":"c","id":"a","data":{},"ifRev":"0x0"}]}', 'application/json')],
  ['transaction with a collection as a number', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"ops":[{"op":"put","collection":7,"id":"a","data":{}}]}', 'application/json')],
  ['transaction with reads as an object, not an array', 'invalid_transaction', 400, raw('POST', `${M}/_tx`, '{"reads":{"collection":"c","id":"a","rev":0},"ops":[{"op":"delete","collection":"c","id":"a"}]}', 'application/json')],
  // JSON pointers.
  ['pointer with ~2', 'invalid_pointer', 400, get(`${V}/c/a/x~2`)],
  ['pointer ending in ~', 'invalid_pointer', 400, get(`${V}/c/a/x~`)],
  // Snapshots, feed positions, cursors and limits.
  ['at=-1', 'invalid_at', 400, get(`${V}/c/a?at=-1`)],
  ['at=1.5', 'invalid_at', 400, get(`${V}/c/a?at=1.5`)],
  ['at=abc', 'invalid_at', 400, get(`${V}/c?at=abc`)],
  ['at= (empty)', 'invalid_at', 400, get(`${V}/c/a?at=`)],
  ['at=2^53', 'invalid_at', 400, get(`${V}/c/a?at=9007199254740992`)],
  // Integers are plain decimal: nothing else JavaScript's Number() would take.
  ['at=0x1 (hex)', 'invalid_at', 400, get(`${V}/c/a?at=0x1`)],
  ['at=1e0 (exponent)', 'invalid_at', 400, get(`${V}/c/a?at=1e0`)],
  ['at=+1 (sign)', 'invalid_at', 400, get(`${V}/c/a?at=%2B1`)],
  ['at=" 1" (space)', 'invalid_at', 400, get(`${V}/c/a?at=%201`)],
  ['at=1.0', 'invalid_at', 400, get(`${V}/c/a?at=1.0`)],
  ['listing at=0x1', 'invalid_at', 400, get(`${V}/c?at=0x1`)],
  ['since=0x0', 'invalid_since', 400, get(`${V}/_changes?since=0x0`)],
  ['since=-0', 'invalid_since', 400, get(`${V}/_changes?since=-0`)],
  ['limit=1e1', 'invalid_limit', 400, get(`${V}/c?limit=1e1`)],
  ['history before=0x2', 'invalid_cursor', 400, get(`${V}/c/a/_history?before=0x2`)],
  ['at beyond the latest commit', 'snapshot_in_future', 400, get(`${V}/c/a?at=2`)],
  ['at beyond the latest commit, listing', 'snapshot_in_future', 400, get(`${V}/c?at=99`)],
  ['since=-1', 'invalid_since', 400, get(`${V}/_changes?since=-1`)],
  ['since=abc', 'invalid_since', 400, get(`${V}/_changes?since=abc`)],
  ['since beyond the latest commit', 'invalid_since', 400, get(`${V}/_changes?since=2`)],
  ['Last-Event-ID not a number', 'invalid_since', 400, get(`${V}/_changes`, { 'last-event-id': '1; DROP' })],
  ['cursor of arbitrary bytes', 'invalid_cursor', 400, get(`${V}/c?cursor=${arbitraryCursor}`)],
  ['cursor of base64 non-JSON', 'invalid_cursor', 400, get(`${V}/c?cursor=${b64('not json at all')}`)],
  ['cursor with a numeric "after"', 'invalid_cursor', 400, get(`${V}/c?cursor=${b64('{"after":5}')}`)],
  ['cursor with a negative "at"', 'invalid_cursor', 400, get(`${V}/c?cursor=${b64('{"after":"a","at":-1}')}`)],
  ['cursor of JSON null', 'invalid_cursor', 400, get(`${V}/c?cursor=${b64('null')}`)],
  ['cursor with base64 padding chars', 'invalid_cursor', 400, get(`${V}/c?cursor=${encodeURIComponent('eyJhZnRlciI6ImEifQ==')}`)],
  ['cursor of 2049 chars', 'invalid_cursor', 400, get(`${V}/c?cursor=${'A'.repeat(2049)}`)],
  ['limit=0', 'invalid_limit', 400, get(`${V}/c?limit=0`)],
  ['limit=1001', 'invalid_limit', 400, get(`${V}/c?limit=1001`)],
  ['limit=abc', 'invalid_limit', 400, get(`${V}/c?limit=abc`)],
  ['feed limit=0', 'invalid_limit', 400, get(`${V}/_changes?limit=0`)],
  ['history limit=0', 'invalid_limit', 400, get(`${V}/c/a/_history?limit=0`)],
  ['unknown query parameter', 'invalid_request', 400, get(`${V}/c?filter[$where]=1`)],
  // Conditional and idempotency headers.
  ['If-Match garbage', 'invalid_precondition', 400, putJson(`${V}/c/a`, '{}', { 'if-match': 'garbage' })],
  ['If-Match unquoted rev', 'invalid_precondition', 400, putJson(`${V}/c/a`, '{}', { 'if-match': '1' })],
  ['If-Match negative rev', 'invalid_precondition', 400, putJson(`${V}/c/a`, '{}', { 'if-match': '"-1"' })],
  ['If-Match with a trailing comma', 'invalid_precondition', 400, putJson(`${V}/c/a`, '{}', { 'if-match': '"1",' })],
  ['If-None-Match garbage on DELETE', 'invalid_precondition', 400, { method: 'DELETE', url: `${V}/c/a`, headers: { 'if-none-match': '"x"' } }],
  ['If-None-Match garbage on GET', 'invalid_precondition', 400, get(`${V}/c/a`, { 'if-none-match': 'nope' })],
  ['empty Idempotency-Key', 'invalid_idempotency_key', 400, putJson(`${V}/c/a`, '{}', { 'idempotency-key': '' })],
  ['Idempotency-Key with spaces', 'invalid_idempotency_key', 400, putJson(`${V}/c/a`, '{}', { 'idempotency-key': 'a b' })],
  ['Idempotency-Key of 256 chars', 'invalid_idempotency_key', 400, putJson(`${V}/c/a`, '{}', { 'idempotency-key': 'k'.repeat(256) })],
];

let fx: HttpFixture;

/**
 * The partitions and other files under the temp dir. A partition's
 * companions (WAL, lock, owner record) come and go as it opens and closes,
 * so each counts as its database file.
 */
function footprint(): string[] {
  return [...new Set(listTree(fx.root).map((path) => path.replace(/(-wal|-shm|\.owner|\.lock\/)$/, '')))];
}

beforeAll(async () => {
  fx = await startHttpFixture();
  expect((await fx.app.inject(jsonRequest('PUT', `${V}/c/a`, { x: 1 }))).statusCode).toBe(201);
  expect(await latestSeq(fx.app, VICTIM)).toBe(1);
  // Only the victim's partition is in the data dir.
  expect(footprint()).toEqual(['data/', expect.stringMatching(/^data\/[0-9a-f]{2}\/$/), expect.stringMatching(/^data\/[0-9a-f]{2}\/victim\.sqlite$/)]);
});
afterAll(async () => {
  await fx.close();
});

describe('hostile input', () => {
  it.each(CASES)('%s → %s (%i), nothing written', async (_name, code, status, request) => {
    const seqBefore = await latestSeq(fx.app, VICTIM);
    const filesBefore = footprint();
    const response = await fx.app.inject(request);
    expect(response.statusCode).toBe(status);
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expectProblem(response, code, status);
    expect(await latestSeq(fx.app, VICTIM)).toBe(seqBefore);
    expect(footprint()).toEqual(filesBefore);
  });

  it('stores a surrogate pair, a large finite number and an explicit charset=utf-8 as sent', async () => {
    const body = '{"emoji":"\\ud83d\\ude00","big":1e308,"e":"e123"}';
    const put = await fx.app.inject(putJson(`${V}/c/unicode`, body, { 'content-type': 'application/json; charset=UTF-8' }));
    expect(put.statusCode).toBe(201);
    expect((await fx.app.inject(get(`${V}/c/unicode`))).json()).toEqual({ emoji: '😀', big: 1e308, e: 'e123' });
  });

  it('stores numbers a double holds as the double they name, and a long id sent as a string as sent', async () => {
    const body =
      '{"safe":9007199254740992,"same":12345678901234567000,"g17":0.10000000000000001,"zeros":1.5000000000000000000000,' +
      '"e":6.02214076e23,"tiny":5e-324,"zero":0e-999,"id":"12345678901234567890"}';
    const put = await fx.app.inject(putJson(`${V}/c/numbers`, body));
    expect(put.statusCode, put.body).toBe(201);
    expect((await fx.app.inject(get(`${V}/c/numbers`))).body).toBe(
      '{"safe":9007199254740992,"same":12345678901234567000,"g17":0.1,"zeros":1.5,' +
        '"e":6.02214076e+23,"tiny":5e-324,"zero":0,"id":"12345678901234567890"}',
    );
  });

  it('stores one member name in several objects, and a name that appears inside a string value, as sent', async () => {
    const body = '{"k":0,"a":{"k":1},"b":[{"k":2},{"k":3,"j":"\\"k\\":4"}]}';
    const put = await fx.app.inject(putJson(`${V}/c/names`, body));
    expect(put.statusCode, put.body).toBe(201);
    expect((await fx.app.inject(get(`${V}/c/names`))).json()).toEqual(JSON.parse(body));
  });

  it('leaves no partition file behind for a rejected read of a user that was never written', async () => {
    expectProblem(await fx.app.inject(get('/api/users/stranger/c/a?at=5')), 'snapshot_in_future', 400);
    expectProblem(await fx.app.inject(get('/api/users/stranger/c/a')), 'object_not_found', 404);
    expect(listTree(fx.root).filter((path) => path.includes('stranger'))).toEqual([]);
  });
});
