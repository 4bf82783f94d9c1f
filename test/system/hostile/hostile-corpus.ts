/**
 * The hostile-input corpus: requests an attacker (or a broken client) sends
 * to a Pinbase cluster, byte for byte, with the answer each must get. The
 * same corpus is sent through the router and straight to the worker that
 * owns the victim; where the two answer differently on purpose (the router
 * refuses some paths before any worker sees them, the admin endpoints
 * differ), a case says so.
 *
 * Every case is refused with a 4xx problem+json (or answered harmlessly,
 * where noted), changes no file and no commit, and leaves the server
 * healthy: hostile-corpus.test.ts checks all four for each.
 */

/** What a case must get: the status, and for a problem its `code`. */
export interface Expected {
  status: number;
  code?: string;
}

export interface HostileCase {
  readonly name: string;
  readonly bytes: string | Buffer;
  /** The answer through the router and directly, unless `router`/`direct` say otherwise. */
  readonly expect: Expected;
  readonly router?: Expected;
  readonly direct?: Expected;
  /** A write that is accepted on purpose (legitimate input an attacker might hope to break things with): files and commits may change. */
  readonly accepted?: boolean;
}

export type Target = 'router' | 'direct';

/** What the corpus is built from: the users, their tokens and where it is sent. */
export interface CorpusContext {
  readonly target: Target;
  /** A user with data (collection `notes`, object `n1` = {"title":"secret","tags":["a"],"address":{"city":"Oslo"}}). */
  readonly victim: string;
  /** A user that was never written (no file): a refused write must not create one. */
  readonly stranger: string;
  /** A user the victim's worker does not own. */
  readonly foreign: string;
  /** The id of the worker that owns the victim, and another one. */
  readonly ownerWorker: string;
  readonly otherWorker: string;
  readonly adminToken: string;
  readonly tokens: {
    /** The victim's own token (read and write). */
    readonly victim: string;
    readonly victimReadOnly: string;
    readonly stranger: string;
    /** Another tenant's valid token. */
    readonly other: string;
    readonly expired: string;
    readonly withoutExp: string;
    readonly algNone: string;
    /** HS256 signed with the RSA public key (algorithm confusion). */
    readonly confused: string;
    readonly tamperedSignature: string;
    readonly tamperedPayload: string;
    readonly wrongIssuer: string;
    readonly wrongAudience: string;
    readonly oversize: string;
  };
}

const MiB = 1024 * 1024;
const P = (code: string, status: number): Expected => ({ status, code });

interface RequestParts {
  /** Header lines after Host; `Authorization: Bearer <victim>` and `Connection: close` are added unless `auth`/`keepAlive` say otherwise. */
  headers?: [string, string][];
  body?: string | Buffer;
  /** The Authorization value; null sends none. */
  auth?: string | null;
  host?: string | null;
}

export function buildCorpus(ctx: CorpusContext): HostileCase[] {
  const { victim, stranger, tokens } = ctx;
  const V = `/api/users/${victim}`;
  const S = `/api/users/${stranger}`;
  const bearer = (token: string) => `Bearer ${token}`;

  const request = (method: string, target: string, parts: RequestParts = {}): string => {
    const lines = [`${method} ${target} HTTP/1.1`];
    if (parts.host !== null) lines.push(`Host: ${parts.host ?? '127.0.0.1'}`);
    const auth = parts.auth === undefined ? bearer(tokens.victim) : parts.auth;
    if (auth !== null) lines.push(`Authorization: ${auth}`);
    for (const [name, value] of parts.headers ?? []) lines.push(`${name}: ${value}`);
    if (parts.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(parts.body)}`);
    lines.push('Connection: close');
    const head = `${lines.join('\r\n')}\r\n\r\n`;
    return parts.body === undefined ? head : head + parts.body.toString();
  };
  const json = (method: string, target: string, body: string, parts: RequestParts = {}) =>
    request(method, target, { ...parts, headers: [['Content-Type', 'application/json'], ...(parts.headers ?? [])], body });
  const jsonOfSize = (bytes: number) => `{"x":"${'a'.repeat(bytes - 8)}"}`;
  const deep = (depth: number) => `{"y":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  const b64 = (text: string) => Buffer.from(text).toString('base64url');
  const tx = (ops: unknown, reads?: unknown) => JSON.stringify(reads === undefined ? { ops } : { reads, ops });

  const cases: HostileCase[] = [];
  const add = (name: string, bytes: string | Buffer, expect: Expected, differs: { router?: Expected; direct?: Expected; accepted?: boolean } = {}) =>
    cases.push({ name, bytes, expect, ...differs });

  // --- Credentials, on every kind of route: nothing is read, written or created without the right token.
  const missing = P('missing_token', 401);
  const invalid = P('invalid_token', 401);
  const credentialCases: [string, string | null, Expected][] = [
    ['no Authorization', null, missing],
    ['Basic credentials', `Basic ${Buffer.from(`${victim}:pw`).toString('base64')}`, missing],
    ['an empty Bearer', 'Bearer ', missing],
    ['a token that is not a JWT', 'Bearer not-a-jwt', invalid],
    ['an expired token', bearer(tokens.expired), invalid],
    ['a token without exp', bearer(tokens.withoutExp), invalid],
    ['alg none', bearer(tokens.algNone), invalid],
    ['HS256 signed with the RSA public key', bearer(tokens.confused), invalid],
    ['a tampered signature', bearer(tokens.tamperedSignature), invalid],
    ['another user\'s token with sub rewritten', bearer(tokens.tamperedPayload), invalid],
    ['a wrong issuer', bearer(tokens.wrongIssuer), invalid],
    ['a wrong audience', bearer(tokens.wrongAudience), invalid],
    ['a token over 8 KiB', bearer(tokens.oversize), invalid],
    ['the admin token as a user token', bearer(ctx.adminToken), invalid],
    ['another tenant\'s token', bearer(tokens.other), P('forbidden', 403)],
  ];
  const routes: [string, (auth: string | null) => string][] = [
    ['GET object', (auth) => request('GET', `${V}/notes/n1`, { auth })],
    ['PUT object', (auth) => json('PUT', `${V}/notes/n1`, '{"title":"pwned"}', { auth })],
    ['DELETE object', (auth) => request('DELETE', `${V}/notes/n1`, { auth })],
    ['POST _tx', (auth) => json('POST', `${V}/_tx`, tx([{ op: 'delete', collection: 'notes', id: 'n1' }]), { auth })],
    ['GET _changes', (auth) => request('GET', `${V}/_changes?since=0&includeData=true`, { auth })],
    ['GET listing', (auth) => request('GET', `${V}/notes`, { auth })],
  ];
  for (const [routeName, build] of routes) {
    for (const [credentialName, auth, expected] of credentialCases) {
      // Every credential on the reads and writes that matter most; the rest get the commonest three.
      if (!['GET object', 'PUT object'].includes(routeName) && !['no Authorization', 'alg none', 'another tenant\'s token'].includes(credentialName)) continue;
      add(`${routeName} with ${credentialName}`, build(auth), expected);
    }
  }
  add('PUT for a new user with another tenant\'s token', json('PUT', `${S}/notes/a`, '{}', { auth: bearer(tokens.other) }), P('forbidden', 403));
  add('PUT for a new user without a token', json('PUT', `${S}/notes/a`, '{}', { auth: null }), missing);
  add('read-only token on PUT', json('PUT', `${V}/notes/n1`, '{"title":"pwned"}', { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('read-only token on PATCH', request('PATCH', `${V}/notes/n1`, { auth: bearer(tokens.victimReadOnly), headers: [['Content-Type', 'application/merge-patch+json']], body: '{"a":1}' }), P('insufficient_scope', 403));
  add('read-only token on DELETE', request('DELETE', `${V}/notes/n1`, { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('read-only token on POST _tx', json('POST', `${V}/_tx`, tx([{ op: 'delete', collection: 'notes', id: 'n1' }]), { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('read-only token on POST create', json('POST', `${V}/notes`, '{}', { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('access_token in the query of a write', json('PUT', `${V}/notes/n1?access_token=${tokens.victim}`, '{}', { auth: null }), missing);
  add('access_token in the query of an object read', request('GET', `${V}/notes/n1?access_token=${tokens.victim}`, { auth: null }), missing);
  add('access_token of another tenant on the SSE feed', request('GET', `${V}/_changes?access_token=${tokens.other}`, { auth: null, headers: [['Accept', 'text/event-stream']] }), P('forbidden', 403));
  add('a forged access_token on the SSE feed', request('GET', `${V}/_changes?access_token=${tokens.algNone}`, { auth: null, headers: [['Accept', 'text/event-stream']] }), invalid);
  add('history with another tenant\'s token', request('GET', `${V}/notes/n1/_history`, { auth: bearer(tokens.other) }), P('forbidden', 403));
  add('pointer read with another tenant\'s token', request('GET', `${V}/notes/n1/address/city`, { auth: bearer(tokens.other) }), P('forbidden', 403));
  add('HEAD without a token', request('HEAD', `${V}/notes/n1`, { auth: null }), { status: 401 });
  add('the scheme in another case, token of another tenant', json('PUT', `${V}/notes/n1`, '{}', { auth: `bEaReR ${tokens.other}` }), P('forbidden', 403));
  // Erase (DELETE /api/users/<id>): never without the user's read-write token, never of another user, never of a path that is not exactly the user.
  add('erase without a token', request('DELETE', V, { auth: null }), missing);
  add('erase with a forged token', request('DELETE', V, { auth: bearer(tokens.algNone) }), invalid);
  add('erase with another tenant\'s token', request('DELETE', V, { auth: bearer(tokens.other) }), P('forbidden', 403));
  add('erase with a read-only token', request('DELETE', V, { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('erase of another user with the victim\'s token', request('DELETE', S), P('forbidden', 403));
  add('erase with a trailing slash', request('DELETE', `${V}/`), P('route_not_found', 404));
  add('erase of user id ".."', request('DELETE', '/api/users/%2e%2e'), P('invalid_user_id', 400), { direct: P('forbidden', 403) });
  add('erase of a user id with an encoded slash', request('DELETE', `/api/users/${victim}%2F..%2F${stranger}`), P('invalid_user_id', 400), { direct: P('forbidden', 403) });
  add('erase of a user id of 65 chars', request('DELETE', `/api/users/${'u'.repeat(65)}`), P('invalid_user_id', 400), { direct: P('forbidden', 403) });
  add('erase of the users collection itself (an empty user id)', request('DELETE', '/api/users/'), P('invalid_user_id', 400), { direct: P('forbidden', 403) });
  add('revert with another tenant\'s token', json('POST', `${V}/_revert`, '{"to":0}', { auth: bearer(tokens.other) }), P('forbidden', 403));
  add('revert with a read-only token', json('POST', `${V}/_revert`, '{"to":0}', { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('revert to a negative seq', json('POST', `${V}/_revert`, '{"to":-1}'), P('invalid_body', 400));
  add('revert to a seq beyond the latest commit', json('POST', `${V}/_revert`, '{"to":9007199254740991}'), P('snapshot_in_future', 400));
  add('revert of a reserved collection name', json('POST', `${V}/_revert`, '{"to":0,"collection":"_indexes"}'), P('invalid_body', 400));
  add('revert without a body', request('POST', `${V}/_revert`), P('invalid_body', 400));
  add('two spaces after Bearer and a forged token', request('GET', `${V}/notes/n1`, { auth: `Bearer  ${tokens.algNone}` }), invalid);

  // --- Paths: traversal, encodings, lengths. The router refuses malformed paths itself.
  const userIdCases: [string, string][] = [
    ['user id "%2e%2e"', '/api/users/%2e%2e/notes/a'],
    ['user id with an encoded slash', `/api/users/${victim}%2F..%2Fx/notes/a`],
    ['user id with NUL', '/api/users/u%00/notes/a'],
    ['user id of 65 chars', `/api/users/${'u'.repeat(65)}/notes/a`],
    ['user id with a dot', '/api/users/mal.lory/notes/a'],
    ['user id with unicode', '/api/users/%C3%A9ve/notes/a'],
    ['user id with an encoded space', '/api/users/a%20b/notes/a'],
  ];
  // A worker checks the token before the path: the victim's token does not name these users (403); the router refuses the path itself.
  for (const [name, path] of userIdCases) add(`PUT to a ${name}`, json('PUT', path, '{}'), P('invalid_user_id', 400), { direct: P('forbidden', 403) });
  add('a user id of 10 000 chars, not even routed', json('PUT', `/api/users/${'u'.repeat(10_000)}`, '{}'), P('invalid_user_id', 400), { direct: P('invalid_path', 400) });
  add('an empty user id', json('PUT', '/api/users//notes/a', '{}'), P('invalid_user_id', 400), { direct: P('forbidden', 403) });
  add('a path that climbs out of the user', json('PUT', `${V}/../${stranger}/notes/a`, '{}'), P('invalid_path', 400), { direct: P('route_not_found', 404) });
  add('a path with .. encoded in the object id', json('PUT', `${V}/notes/..%2F..%2Fetc`, '{}'), P('invalid_path', 400), { direct: P('invalid_object_id', 400) });
  add('a path with a backslash', json('PUT', `${V}/notes\\..\\x`, '{}'), P('invalid_path', 400), { direct: P('route_not_found', 404) });
  add('a double slash inside the user\'s path', json('PUT', `${V}//notes/a`, '{}'), P('invalid_path', 400), { direct: P('route_not_found', 404) });
  add('object id with NUL', json('PUT', `${V}/notes/a%00`, '{}'), P('invalid_path', 400), { direct: P('invalid_object_id', 400) });
  add('object id with a leading dot', json('PUT', `${V}/notes/.hidden`, '{}'), P('invalid_object_id', 400));
  add('object id of 129 chars', json('PUT', `${V}/notes/${'i'.repeat(129)}`, '{}'), P('invalid_object_id', 400));
  add('object id with an encoded space', json('PUT', `${V}/notes/a%20b`, '{}'), P('invalid_object_id', 400));
  add('collection "_x"', json('PUT', `${V}/_x/a`, '{}'), P('invalid_collection', 400));
  add('collection in upper case', json('PUT', `${V}/Notes/a`, '{}'), P('invalid_collection', 400));
  add('collection of 65 chars', json('PUT', `${V}/${'c'.repeat(65)}/a`, '{}'), P('invalid_collection', 400));
  add('collection starting with a digit', request('GET', `${V}/1c`), P('invalid_collection', 400));
  add('POST create in collection "_x"', json('POST', `${V}/_x`, '{}'), P('invalid_collection', 400));
  add('a path outside the API', request('GET', '/etc/passwd'), P('route_not_found', 404));
  add('a path outside the API, encoded', request('GET', '/%2e%2e/%2e%2e/etc/passwd'), P('route_not_found', 404));
  add('the API root', request('GET', '/api/users'), P('route_not_found', 404));
  add('a request target of 20 000 chars', request('GET', `${V}/notes/${'a'.repeat(20_000)}`), P('headers_too_large', 431));
  add('a pointer with ~2', request('GET', `${V}/notes/n1/x~2`), P('invalid_pointer', 400));
  add('a pointer ending in ~', request('GET', `${V}/notes/n1/x~`), P('invalid_pointer', 400));

  // --- Bodies: size, media type, syntax, shape, forbidden keys.
  add('__proto__ key', json('PUT', `${S}/notes/a`, '{"__proto__":{"admin":true}}', { auth: bearer(tokens.stranger) }), P('forbidden_key', 400));
  add('nested __proto__ key', json('PUT', `${S}/notes/a`, '{"a":{"b":[{"__proto__":{}}]}}', { auth: bearer(tokens.stranger) }), P('forbidden_key', 400));
  add('__proto__ spelled with a \\u escape', json('PUT', `${S}/notes/a`, '{"a":{"\\u005f_proto__":1}}', { auth: bearer(tokens.stranger) }), P('forbidden_key', 400));
  add('constructor key', json('PUT', `${V}/notes/a`, '{"constructor":{"prototype":{}}}'), P('forbidden_key', 400));
  // A parser in front of Pinbase that keeps the first of two members of one name would see another document than the one stored.
  add('a member name given twice', json('PUT', `${V}/notes/a`, '{"role":"user","role":"admin"}'), P('invalid_body', 400));
  add('an integer a double does not hold', json('PUT', `${V}/notes/a`, '{"id":12345678901234567890}'), P('invalid_body', 400));
  add('__proto__ in a merge patch', request('PATCH', `${V}/notes/n1`, { headers: [['Content-Type', 'application/merge-patch+json']], body: '{"__proto__":{"x":1}}' }), P('forbidden_key', 400));
  add('__proto__ in POST create', json('POST', `${S}/notes`, '{"__proto__":1}', { auth: bearer(tokens.stranger) }), P('forbidden_key', 400));
  add('__proto__ in a transaction op', json('POST', `${V}/_tx`, '{"ops":[{"op":"put","collection":"notes","id":"a","data":{"__proto__":1}}]}'), P('forbidden_key', 400));
  add('a body of 1 MiB + 1 byte', json('PUT', `${S}/notes/a`, jsonOfSize(MiB + 1), { auth: bearer(tokens.stranger) }), P('body_too_large', 413));
  add('a transaction of 1 MiB + 1 byte', json('POST', `${V}/_tx`, jsonOfSize(MiB + 1)), P('body_too_large', 413));
  add('a Content-Length of 10 GB with no body', request('PUT', `${V}/notes/a`, { headers: [['Content-Type', 'application/json'], ['Content-Length', '10000000000']] }), P('body_too_large', 413));
  add('a text/plain body', request('PUT', `${S}/notes/a`, { auth: bearer(tokens.stranger), headers: [['Content-Type', 'text/plain']], body: '{"a":1}' }), P('unsupported_media_type', 415));
  add('a form body', request('PUT', `${V}/notes/a`, { headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=1' }), P('unsupported_media_type', 415));
  add('a multipart body', request('POST', `${V}/notes`, { headers: [['Content-Type', 'multipart/form-data; boundary=x']], body: '--x\r\n\r\n--x--' }), P('unsupported_media_type', 415));
  add('a body without a content type', request('PUT', `${S}/notes/a`, { auth: bearer(tokens.stranger), body: '{"a":1}' }), P('unsupported_media_type', 415));
  add('a text/json PATCH', request('PATCH', `${V}/notes/n1`, { headers: [['Content-Type', 'text/json']], body: '{"a":1}' }), P('unsupported_media_type', 415));
  add('a content type with a charset other than UTF-8', request('PUT', `${V}/notes/a`, { headers: [['Content-Type', 'application/json; charset=utf-7']], body: '{"a":1}' }), P('unsupported_media_type', 415));
  add('a gzip content coding', request('PUT', `${V}/notes/a`, { headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: '{"a":1}' }), P('unsupported_media_type', 415));
  add('malformed JSON', json('PUT', `${S}/notes/a`, '{"a":', { auth: bearer(tokens.stranger) }), P('invalid_json', 400));
  add('trailing garbage after JSON', json('PUT', `${V}/notes/a`, '{"a":1} x'), P('invalid_json', 400));
  add('an empty JSON body', json('PUT', `${V}/notes/a`, ''), P('invalid_json', 400));
  add('invalid UTF-8 in a JSON string', Buffer.concat([Buffer.from(json('PUT', `${V}/notes/a`, 'XXXXXXXXXX').slice(0, -10), 'latin1'), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])]), P('invalid_json', 400));
  add('a lone surrogate escape', json('PUT', `${V}/notes/a`, '{"a":"\\ud800"}'), P('invalid_body', 400));
  add('an array body', json('PUT', `${V}/notes/a`, '[1,2]'), P('invalid_body', 400));
  add('a string body', json('PUT', `${V}/notes/a`, '"text"'), P('invalid_body', 400));
  add('a number body', json('PUT', `${V}/notes/a`, '42'), P('invalid_body', 400));
  add('a null body', json('PUT', `${S}/notes/a`, 'null', { auth: bearer(tokens.stranger) }), P('invalid_body', 400));
  add('an array PATCH', request('PATCH', `${V}/notes/n1`, { headers: [['Content-Type', 'application/merge-patch+json']], body: '[]' }), P('invalid_body', 400));
  add('an array nested 100 000 deep', json('PUT', `${V}/notes/a`, deep(100_000)), P('invalid_body', 400));
  add('an object nested 10 000 deep', json('PUT', `${V}/notes/a`, `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`), P('invalid_body', 400));
  add('a key of 100 000 chars (accepted: within the body limit)', json('PUT', `${V}/notes/long-key-${ctx.target}`, `{"${'k'.repeat(100_000)}":1}`), { status: 201 }, { accepted: true });
  add('100 000 keys', json('PUT', `${V}/notes/a`, `{${Array.from({ length: 100_000 }, (_, i) => `"${i}":0`).join(',')}}`), { status: 400 });
  add('a number of 10 000 digits', json('PUT', `${V}/notes/a`, `{"n":${'9'.repeat(10_000)}}`), P('invalid_body', 400));
  add('a number beyond a double', json('PUT', `${V}/notes/a`, '{"n":1e400}'), P('invalid_body', 400));

  // --- Transactions.
  add('a transaction without ops', json('POST', `${V}/_tx`, '{"reads":[]}'), P('invalid_transaction', 400));
  add('a transaction with an unknown op', json('POST', `${V}/_tx`, tx([{ op: 'drop', collection: 'notes', id: 'a' }])), P('invalid_transaction', 400));
  add('a transaction on collection "_x"', json('POST', `${V}/_tx`, tx([{ op: 'put', collection: '_x', id: 'a', data: {} }])), P('invalid_transaction', 400));
  add('a transaction with a bad read rev', json('POST', `${V}/_tx`, tx([{ op: 'delete', collection: 'notes', id: 'a' }], [{ collection: 'notes', id: 'a', rev: -1 }])), P('invalid_transaction', 400));
  add('a transaction with a read rev as a string', json('POST', `${V}/_tx`, tx([{ op: 'delete', collection: 'notes', id: 'a' }], [{ collection: 'notes', id: 'a', rev: '0' }])), P('invalid_transaction', 400));
  add('a transaction with ifRev as hex', json('POST', `${V}/_tx`, tx([{ op: 'put', collection: 'notes', id: 'a', data: {}, ifRev: '0x0' }])), P('invalid_transaction', 400));
  add('a transaction with a numeric collection', json('POST', `${V}/_tx`, tx([{ op: 'put', collection: 7, id: 'a', data: {} }])), P('invalid_transaction', 400));
  add('a transaction with an object id that climbs', json('POST', `${V}/_tx`, tx([{ op: 'put', collection: 'notes', id: '../x', data: {} }])), P('invalid_transaction', 400));
  add('a transaction of 10 001 ops', json('POST', `${V}/_tx`, tx(Array.from({ length: 10_001 }, (_, i) => ({ op: 'delete', collection: 'notes', id: `a${i}` })))), { status: 400 });
  add('a transaction whose read conflicts applies nothing', json('POST', `${V}/_tx`, tx([{ op: 'delete', collection: 'notes', id: 'n1' }], [{ collection: 'notes', id: 'n1', rev: 999 }])), P('transaction_conflict', 409));
  add('a transaction on a stranger that conflicts creates nothing', json('POST', `${S}/_tx`, tx([{ op: 'put', collection: 'notes', id: 'a', data: {} }], [{ collection: 'notes', id: 'b', rev: 3 }]), { auth: bearer(tokens.stranger) }), P('transaction_conflict', 409));

  // --- Secondary indexes: names and paths are validated before anything is written; a refused PUT creates nothing.
  const ix = (user: string, name: string, body: string, auth?: string | null) =>
    json('PUT', `${user}/_indexes/notes/${name}`, body, auth === undefined ? {} : { auth });
  add('an index named ../x', ix(V, '..%2Fx', '{"paths":["title"]}'), P('invalid_path', 400), { direct: P('invalid_index', 400) });
  add('an index name with a quote', ix(V, "a'b", '{"paths":["title"]}'), P('invalid_index', 400));
  add('an index name of 65 chars', ix(V, 'n'.repeat(65), '{"paths":["title"]}'), P('invalid_index', 400));
  add('an index path with SQL in it', ix(V, 'x', `{"paths":["title') OR 1=1; DROP TABLE objects; --"]}`), P('invalid_index', 400));
  add('an index path that is a JSON path', ix(V, 'x', '{"paths":["$.title"]}'), P('invalid_index', 400));
  add('an index path with a double quote', ix(S, 'x', '{"paths":["a\\"b"]}', bearer(tokens.stranger)), P('invalid_index', 400));
  add('an index of 9 paths', ix(S, 'x', JSON.stringify({ paths: Array.from({ length: 9 }, (_, i) => `f${i}`) }), bearer(tokens.stranger)), P('invalid_index', 400));
  add('an index with a path twice', ix(V, 'x', '{"paths":["title","title"]}'), P('invalid_index', 400));
  add('an index body that is an array', ix(V, 'x', '["title"]'), P('invalid_index', 400));
  add('an index with unique as a string', ix(V, 'x', '{"paths":["title"],"unique":"true"}'), P('invalid_index', 400));
  add('an index in collection "_x"', json('PUT', `${V}/_indexes/_x/y`, '{"paths":["title"]}'), P('invalid_collection', 400));
  add('read-only token on PUT _indexes', ix(V, 'x', '{"paths":["title"]}', bearer(tokens.victimReadOnly)), P('insufficient_scope', 403));
  add('read-only token on DELETE _indexes', request('DELETE', `${V}/_indexes/notes/x`, { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('GET _indexes with another tenant\'s token', request('GET', `${V}/_indexes`, { auth: bearer(tokens.other) }), P('forbidden', 403));
  add('DELETE of an index of a new user creates nothing', request('DELETE', `${S}/_indexes/notes/x`, { auth: bearer(tokens.stranger) }), P('index_not_found', 404));
  // --- JSON Patch (RFC 6902): malformed patches are 400, patches that cannot apply 409, and either applies nothing.
  const jsonPatch = (body: string, target = `${V}/notes/n1`, parts: RequestParts = {}) =>
    request('PATCH', target, { ...parts, headers: [['Content-Type', 'application/json-patch+json']], body });
  add('a JSON Patch that is not an array', jsonPatch('{"op":"add","path":"/a","value":1}'), P('invalid_patch', 400));
  add('a JSON Patch of 1001 ops', jsonPatch(JSON.stringify(Array.from({ length: 1001 }, () => ({ op: 'test', path: '/title', value: 'secret' })))), P('invalid_patch', 400));
  add('a JSON Patch with an unknown op', jsonPatch('[{"op":"merge","path":"/title","value":"x"}]'), P('invalid_patch', 400));
  add('a JSON Patch pointer /a~2', jsonPatch('[{"op":"add","path":"/a~2","value":1}]'), P('invalid_patch', 400));
  add('a JSON Patch through /__proto__/x', jsonPatch('[{"op":"add","path":"/__proto__/x","value":1}]'), P('forbidden_key', 400));
  add('a JSON Patch adding a value with __proto__', jsonPatch('[{"op":"add","path":"/a","value":{"__proto__":{"admin":true}}}]'), P('forbidden_key', 400));
  add('a JSON Patch moving a parent into its child', jsonPatch('[{"op":"move","from":"/address","path":"/address/city/x"}]'), P('invalid_patch', 400));
  add('a JSON Patch with a huge array index', jsonPatch('[{"op":"add","path":"/tags/99999999999999999999","value":1}]'), P('patch_conflict', 409));
  add('a JSON Patch replacing the document with an array', jsonPatch('[{"op":"replace","path":"","value":[]}]'), P('patch_conflict', 409));
  add('a JSON Patch whose test fails', jsonPatch('[{"op":"remove","path":"/title"},{"op":"test","path":"/title","value":"secret"}]'), P('patch_test_failed', 409));
  add('a JSON Patch copying the document into itself 40 times', jsonPatch(JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ op: 'copy', from: '', path: `/c${i}` })))), P('invalid_body', 400));
  add('a JSON Patch body on PUT', request('PUT', `${V}/notes/n1`, { headers: [['Content-Type', 'application/json-patch+json']], body: '[]' }), P('unsupported_media_type', 415));
  add('a JSON Patch in a transaction with an unknown op', json('POST', `${V}/_tx`, tx([{ op: 'patch', collection: 'notes', id: 'n1', patch: [{ op: 'merge', path: '/a' }] }])), P('invalid_patch', 400));
  add('a JSON Patch of a missing object of a new user', jsonPatch('[{"op":"add","path":"/a","value":1}]', `${S}/notes/a`, { auth: bearer(tokens.stranger) }), P('object_not_found', 404));

  // --- Failed writes on a user with no file: refused, and no file appears.
  add('DELETE of a missing object of a new user', request('DELETE', `${S}/notes/a`, { auth: bearer(tokens.stranger) }), P('object_not_found', 404));
  add('PUT with If-Match on a new user', json('PUT', `${S}/notes/a`, '{}', { auth: bearer(tokens.stranger), headers: [['If-Match', '"3"']] }), P('precondition_failed', 412));
  add('PATCH of a missing object of a new user', request('PATCH', `${S}/notes/a`, { auth: bearer(tokens.stranger), headers: [['Content-Type', 'application/merge-patch+json']], body: '{"a":1}' }), P('object_not_found', 404));
  add('PUT with If-Match on the victim, stale', json('PUT', `${V}/notes/n1`, '{"title":"x"}', { headers: [['If-Match', '"999"']] }), P('precondition_failed', 412));
  add('DELETE with a stale If-Match', request('DELETE', `${V}/notes/n1`, { headers: [['If-Match', '"999"']] }), P('precondition_failed', 412));

  // --- Query parameters: integers are plain decimal; cursors are opaque and checked.
  const query: [string, string, string][] = [
    ['at=-1', `${V}/notes/n1?at=-1`, 'invalid_at'],
    ['at=1.5', `${V}/notes/n1?at=1.5`, 'invalid_at'],
    ['at=abc', `${V}/notes?at=abc`, 'invalid_at'],
    ['at= (empty)', `${V}/notes/n1?at=`, 'invalid_at'],
    ['at=2^53', `${V}/notes/n1?at=9007199254740992`, 'invalid_at'],
    ['at=0x1', `${V}/notes/n1?at=0x1`, 'invalid_at'],
    ['at=1e0', `${V}/notes/n1?at=1e0`, 'invalid_at'],
    ['at=+1', `${V}/notes/n1?at=%2B1`, 'invalid_at'],
    ['at=99 (in the future)', `${V}/notes?at=99`, 'snapshot_in_future'],
    ['two at parameters', `${V}/notes/n1?at=1&at=2`, 'invalid_at'],
    ['since=-1', `${V}/_changes?since=-1`, 'invalid_since'],
    ['since=abc', `${V}/_changes?since=abc`, 'invalid_since'],
    ['since=0x0', `${V}/_changes?since=0x0`, 'invalid_since'],
    ['since in the future', `${V}/_changes?since=99`, 'invalid_since'],
    ['limit=0', `${V}/notes?limit=0`, 'invalid_limit'],
    ['limit=1001', `${V}/notes?limit=1001`, 'invalid_limit'],
    ['limit=1e1', `${V}/notes?limit=1e1`, 'invalid_limit'],
    ['limit=-5', `${V}/notes?limit=-5`, 'invalid_limit'],
    ['feed limit=0', `${V}/_changes?limit=0`, 'invalid_limit'],
    ['history limit=0', `${V}/notes/n1/_history?limit=0`, 'invalid_limit'],
    ['history before=0x2', `${V}/notes/n1/_history?before=0x2`, 'invalid_cursor'],
    ['cursor of arbitrary bytes', `${V}/notes?cursor=${Buffer.from(Array.from({ length: 24 }, (_, i) => (i * 97 + 13) % 256)).toString('base64url')}`, 'invalid_cursor'],
    ['cursor of base64 non-JSON', `${V}/notes?cursor=${b64('not json')}`, 'invalid_cursor'],
    ['cursor with a numeric "after"', `${V}/notes?cursor=${b64('{"after":5}')}`, 'invalid_cursor'],
    ['cursor of JSON null', `${V}/notes?cursor=${b64('null')}`, 'invalid_cursor'],
    ['cursor with a __proto__ key', `${V}/notes?cursor=${b64('{"__proto__":{"after":"a"}}')}`, 'invalid_cursor'],
    ['cursor of 2049 chars', `${V}/notes?cursor=${'A'.repeat(2049)}`, 'invalid_cursor'],
    ['a listing\'s cursor on the change feed', `${V}/_changes?cursor=${b64('{"after":"n1"}')}`, 'invalid_cursor'],
    ['a feed cursor with seq 0', `${V}/_changes?cursor=${b64('{"s":0,"c":"notes","i":"n1"}')}`, 'invalid_cursor'],
    ['a feed cursor beyond the latest commit', `${V}/_changes?cursor=${b64('{"s":99,"c":"notes","i":"n1"}')}`, 'invalid_cursor'],
    ['a feed cursor naming a bad object id', `${V}/_changes?cursor=${b64('{"s":1,"c":"notes","i":"../x"}')}`, 'invalid_cursor'],
    ['a feed cursor with since', `${V}/_changes?since=0&cursor=${b64('{"s":1,"c":"notes","i":"n1"}')}`, 'invalid_cursor'],
    ['a feed cursor of 2049 chars', `${V}/_changes?cursor=${'A'.repeat(2049)}`, 'invalid_cursor'],
    ['an unknown query parameter', `${V}/notes?filter[$where]=1`, 'invalid_request'],
    ['an unknown parameter on an object', `${V}/notes/n1?debug=1`, 'invalid_request'],
  ];
  for (const [name, path, code] of query) add(name, request('GET', path), P(code, 400));
  add('Last-Event-ID that is not a number', request('GET', `${V}/_changes`, { headers: [['Last-Event-ID', '1; DROP TABLE objects']] }), P('invalid_since', 400));
  add('Last-Event-ID that is a cursor beyond the latest commit', request('GET', `${V}/_changes`, { headers: [['Accept', 'text/event-stream'], ['Last-Event-ID', b64('{"s":99,"c":"notes","i":"n1"}')]] }), P('invalid_cursor', 400));

  // --- Conditional, idempotency and hint headers.
  add('If-Match garbage', json('PUT', `${V}/notes/n1`, '{}', { headers: [['If-Match', 'garbage']] }), P('invalid_precondition', 400));
  add('If-Match unquoted', json('PUT', `${V}/notes/n1`, '{}', { headers: [['If-Match', '1']] }), P('invalid_precondition', 400));
  add('If-Match negative', json('PUT', `${V}/notes/n1`, '{}', { headers: [['If-Match', '"-1"']] }), P('invalid_precondition', 400));
  add('If-Match with a trailing comma', json('PUT', `${V}/notes/n1`, '{}', { headers: [['If-Match', '"1",']] }), P('invalid_precondition', 400));
  add('If-None-Match garbage on DELETE', request('DELETE', `${V}/notes/n1`, { headers: [['If-None-Match', '"x"']] }), P('invalid_precondition', 400));
  add('If-None-Match garbage on GET', request('GET', `${V}/notes/n1`, { headers: [['If-None-Match', 'nope']] }), P('invalid_precondition', 400));
  add('an empty Idempotency-Key', json('PUT', `${V}/notes/n1`, '{}', { headers: [['Idempotency-Key', '']] }), P('invalid_idempotency_key', 400));
  add('an Idempotency-Key with spaces', json('PUT', `${V}/notes/n1`, '{}', { headers: [['Idempotency-Key', 'a b']] }), P('invalid_idempotency_key', 400));
  add('an Idempotency-Key of 256 chars', json('PUT', `${V}/notes/n1`, '{}', { headers: [['Idempotency-Key', 'k'.repeat(256)]] }), P('invalid_idempotency_key', 400));
  add('two Idempotency-Keys', json('PUT', `${V}/notes/n1`, '{}', { headers: [['Idempotency-Key', 'a'], ['Idempotency-Key', 'b']] }), P('invalid_idempotency_key', 400));
  add('two Authorization headers', request('GET', `${V}/notes/n1`, { headers: [['Authorization', bearer(tokens.other)]] }), P('invalid_header', 400));
  add('a forged X-Pinbase-Down for a user of another worker', request('GET', `/api/users/${ctx.foreign}/notes/a`, { auth: bearer(tokens.other), headers: [['X-Pinbase-Down', ctx.otherWorker]] }), P('object_not_found', 404), {
    direct: P('misdirected_request', 421),
  });
  add('a forged, signed-looking hint', request('GET', `/api/users/${ctx.foreign}/notes/a`, {
    auth: bearer(tokens.other),
    headers: [['X-Pinbase-Down', ctx.otherWorker], ['X-Pinbase-Hint', `t=${Date.now()},n=AAAAAAAAAAAAAAAAAAAAAA,s=${'A'.repeat(43)}`]],
  }), P('object_not_found', 404), { direct: P('misdirected_request', 421) });
  add('a client\'s X-Pinbase-Worker header', request('GET', `${V}/notes/n1`, { headers: [['X-Pinbase-Worker', ctx.otherWorker], ['Content-Type', 'application/json']] }), { status: 200 });
  add('Connection naming Authorization', request('GET', `${V}/notes/n1`, { headers: [['Connection', 'authorization']] }), { status: 200 }, { router: missing });
  // The topology (worker URLs) only for a user's own token; the down list only from the router's signed hint.
  add('GET _topology without a token', request('GET', `${V}/_topology`, { auth: null }), missing);
  add('GET _topology with a forged token', request('GET', `${V}/_topology`, { auth: bearer(tokens.algNone) }), invalid);
  add('GET _topology with another tenant\'s token', request('GET', `${V}/_topology`, { auth: bearer(tokens.other) }), P('forbidden', 403));
  add('GET _topology of a user of another worker, with a forged X-Pinbase-Down', request('GET', `/api/users/${ctx.foreign}/_topology`, {
    auth: bearer(tokens.other),
    headers: [['X-Pinbase-Down', ctx.otherWorker]],
  }), { status: 200 }, { direct: P('misdirected_request', 421) });
  add('access_token in the query of _topology', request('GET', `${V}/_topology?access_token=${tokens.victim}`, { auth: null }), missing);
  add('POST _topology', json('POST', `${V}/_topology`, '{}'), P('invalid_collection', 400));

  // --- Tenant export and import: a hostile file is refused whole, and nothing of the user changes.
  const ndjsonImport = (target: string, lines: unknown[], parts: RequestParts = {}) =>
    request('POST', target, {
      ...parts,
      headers: [['Content-Type', 'application/x-ndjson'], ...(parts.headers ?? [])],
      body: lines.map((line) => `${typeof line === 'string' ? line : JSON.stringify(line)}\n`).join(''),
    });
  const exportHeader = { type: 'header', format: 'pinbase-export', version: 1, user: victim, seq: 1, history: false, exportedAt: '2026-01-01T00:00:00Z' };
  const exportVersion = { type: 'version', collection: 'notes', id: 'n1', rev: 1, deleted: false, committedAt: 0, data: { title: 'pwned' } };
  const replace = `${V}/_import?replace=true`;
  add('an import into a user with data, without replace', ndjsonImport(`${V}/_import`, [exportHeader, exportVersion, { type: 'end', count: 1 }]), P('tenant_not_empty', 409));
  add('an import with a read-only token', ndjsonImport(replace, [exportHeader, exportVersion, { type: 'end', count: 1 }], { auth: bearer(tokens.victimReadOnly) }), P('insufficient_scope', 403));
  add('an import of garbage bytes', request('POST', replace, { headers: [['Content-Type', 'application/x-ndjson']], body: 'PK\u0003\u0004\u0000\u0001 not an export\n' }), P('invalid_import', 400));
  add('an import without its end line', ndjsonImport(replace, [exportHeader, exportVersion]), P('invalid_import', 400));
  add('an import with a wrong count', ndjsonImport(replace, [exportHeader, exportVersion, { type: 'end', count: 5 }]), P('invalid_import', 400));
  add('an import with a traversing object id', ndjsonImport(replace, [exportHeader, { ...exportVersion, id: '../../etc/passwd' }, { type: 'end', count: 1 }]), P('invalid_import', 400));
  add('an import of a future export format', ndjsonImport(replace, [{ ...exportHeader, version: 99 }, { type: 'end', count: 0 }]), P('invalid_import', 400));
  add('an import of a foreign JSON file', ndjsonImport(replace, ['{"name":"package","version":"1.0.0"}']), P('invalid_import', 400));
  add('an import with a __proto__ document', ndjsonImport(replace, [exportHeader, '{"type":"version","collection":"notes","id":"n1","rev":1,"deleted":false,"committedAt":0,"data":{"__proto__":{"admin":true}}}', { type: 'end', count: 1 }]), P('invalid_import', 400));
  add('a truncated import into a user with no file', ndjsonImport(`${S}/_import`, [exportHeader, exportVersion], { auth: bearer(tokens.stranger) }), P('invalid_import', 400));
  add('a SQLite import that is only a header', request('POST', replace, { headers: [['Content-Type', 'application/vnd.sqlite3']], body: `SQLite format 3\u0000${'A'.repeat(200)}` }), P('invalid_import', 400));
  add('a SQLite import of text', request('POST', replace, { headers: [['Content-Type', 'application/vnd.sqlite3']], body: 'DROP TABLE objects;' }), P('invalid_import', 400));
  add('a gzip-coded import', ndjsonImport(replace, [exportHeader], { headers: [['Content-Encoding', 'gzip']] }), P('unsupported_media_type', 415));
  add('an import as JSON', json('POST', replace, '{"type":"header"}'), P('unsupported_media_type', 415));
  add('an export in an unoffered format', request('GET', `${V}/_export`, { headers: [['Accept', 'text/html']] }), P('not_acceptable', 406));
  add('an export with a bad history flag', request('GET', `${V}/_export?history=maybe`), P('invalid_request', 400));

  // --- The protocol itself: smuggling, framing, headers.
  const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
  const auth = `Authorization: ${bearer(tokens.victim)}`;
  add('two different Content-Lengths', `PUT ${V}/notes/a HTTP/1.1\r\nHost: t\r\n${auth}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, { status: 400 });
  add('Content-Length with Transfer-Encoding', `PUT ${V}/notes/a HTTP/1.1\r\nHost: t\r\n${auth}\r\nContent-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, { status: 400 });
  add('Transfer-Encoding: chunked, identity', `PUT ${V}/notes/a HTTP/1.1\r\nHost: t\r\n${auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, { status: 400 });
  add('Transfer-Encoding: xchunked', `PUT ${V}/notes/a HTTP/1.1\r\nHost: t\r\n${auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, { status: 400 });
  add('a chunk size that is not hex', `PUT ${V}/notes/a HTTP/1.1\r\nHost: t\r\n${auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, { status: 400 });
  add('a Content-Length that is not a number', `PUT ${V}/notes/a HTTP/1.1\r\nHost: t\r\n${auth}\r\nContent-Type: application/json\r\nContent-Length: 2x\r\n\r\n{}`, { status: 400 });
  add('a negative Content-Length', `PUT ${V}/notes/a HTTP/1.1\r\nHost: t\r\n${auth}\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`, { status: 400 });
  add('obs-fold in a header', `GET ${V}/notes/n1 HTTP/1.1\r\nHost: t\r\n${auth}\r\nX-A: a\r\n b\r\n\r\n`, { status: 400 });
  add('a bare LF line ending', `GET ${V}/notes/n1 HTTP/1.1\nHost: t\n${auth}\n\n`, { status: 400 });
  add('a bare CR in a header', `GET ${V}/notes/n1 HTTP/1.1\r\nHost: t\r\n${auth}\r\nX-A: a\rb\r\n\r\n`, { status: 400 });
  add('a header name with a space', `GET ${V}/notes/n1 HTTP/1.1\r\nHost: t\r\n${auth}\r\nBad Header: 1\r\n\r\n`, { status: 400 });
  add('a control character in a header value', `GET ${V}/notes/n1 HTTP/1.1\r\nHost: t\r\n${auth}\r\nX-A: a\u0001b\r\n\r\n`, { status: 400 });
  add('a NUL in the request target', `GET ${V}/notes/n\u00001 HTTP/1.1\r\nHost: t\r\n${auth}\r\n\r\n`, { status: 400 });
  add('headers beyond the size limit', head([`GET ${V}/notes/n1 HTTP/1.1`, 'Host: t', auth, `X-Big: ${'a'.repeat(20_000)}`]), P('headers_too_large', 431));
  add('10 000 small headers', head([`GET ${V}/notes/n1 HTTP/1.1`, 'Host: t', auth, ...Array.from({ length: 10_000 }, (_, i) => `X-${i}: 1`)]), P('headers_too_large', 431));
  add('a request line that is not HTTP', 'HELLO\r\n\r\n', { status: 400 });
  add('an HTTP/2 preface on HTTP/1.1', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', { status: 400 });
  add('HTTP/0.9 style', `GET ${V}/notes/n1\r\n\r\n`, { status: 400 });
  add('HTTP/1.2', `GET ${V}/notes/n1 HTTP/1.2\r\nHost: t\r\n${auth}\r\n\r\n`, { status: 400 });
  add('an unknown method', request('BREW', `${V}/notes/n1`), { status: 400 });
  add('TRACE', request('TRACE', `${V}/notes/n1`), P('route_not_found', 404));
  add('CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`, P('invalid_request', 400));
  // The router asks for the admin token before it says whether a non-API path exists.
  add('an asterisk-form target', request('OPTIONS', '*'), { status: 404 }, { router: P('unauthorized', 401) });
  // A worker takes the absolute form as RFC 9112 asks (the authority is not used for routing); the router routes only origin-form targets.
  add('an absolute-form target for another host', request('GET', `http://evil.test${V}/notes/n1`), { status: 200 }, { router: P('route_not_found', 404) });
  add('no Host header', request('GET', `${V}/notes/n1`, { host: null }), P('invalid_header', 400));
  add('two Host headers', request('GET', `${V}/notes/n1`, { headers: [['Host', 'evil.test']] }), P('invalid_header', 400));
  // RFC 9110 §10.1.1 lets a server ignore an expectation it does not know: both serve the request.
  add('an unknown Expect', request('GET', `${V}/notes/n1`, { headers: [['Expect', 'bogus']] }), { status: 200 });
  // Upgrades: only GET /_changes upgrades, only to a WebSocket; a refusal is problem+json before any upgrade.
  const ws: [string, string][] = [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']];
  add('Upgrade to a WebSocket on a REST route', request('GET', `${V}/notes/n1`, { headers: ws }), P('upgrade_not_supported', 400));
  add('Upgrade to h2c on the change feed', request('GET', `${V}/_changes`, { headers: [['Upgrade', 'h2c'], ['Connection', 'Upgrade']] }), P('upgrade_not_supported', 400));
  add('a WebSocket on the change feed with ?access_token=', request('GET', `${V}/_changes?access_token=${tokens.victim}`, { auth: null, headers: ws }), P('invalid_request', 400));
  add('a WebSocket on the change feed with another tenant\'s token', request('GET', `${V}/_changes?since=0`, { auth: bearer(tokens.other), headers: ws }), P('forbidden', 403));
  add('a WebSocket on the change feed with a bad Sec-WebSocket-Key', request('GET', `${V}/_changes`, { headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'short'], ['Sec-WebSocket-Version', '13']] }), P('invalid_header', 400));

  // --- Queries: filter, order and fields are parsed and validated; nothing of them reaches SQL but as bound values.
  const q = (params: string) => request('GET', `${V}/notes?${params}`);
  const filter = (text: string) => q(`filter=${encodeURIComponent(text)}`);
  const badFilter = P('invalid_filter', 400);
  add('a query filter that is not JSON', filter('{"title":'), badFilter);
  add('a query filter with an unknown operator', filter('{"title":{"$where":"sleep(1000)"}}'), badFilter);
  add('a query filter on an SQL-injection path', filter('{"a\'); DROP TABLE versions;--":1}'), badFilter);
  add('a query filter on a JSON-path path', filter('{"$.title":"secret"}'), badFilter);
  add('a query filter on a path with a quote', filter('{"a\\"b":1}'), badFilter);
  add('a query filter on __proto__', filter('{"__proto__":{"$eq":1}}'), badFilter);
  add('a query filter with a value of SQL', filter('{"title":"x\' OR 1=1 --"}'), { status: 200 });
  add('a query filter with $in of 300 items', filter(JSON.stringify({ title: { $in: Array.from({ length: 300 }, () => 1) } })), badFilter);
  // 10,000 items do not fit in a request target: refused before the query is parsed.
  add('a query filter with $in of 10,000 items', filter(JSON.stringify({ title: { $in: Array.from({ length: 10_000 }, () => 1) } })), P('headers_too_large', 431));
  add('a query filter nested 50 deep', filter(`${'{"$not":'.repeat(49)}{"a":1}${'}'.repeat(49)}`), badFilter);
  add('a query filter of 5 KiB', filter(`{"title":"${'x'.repeat(5 * 1024)}"}`), badFilter);
  add('a query filter given twice', q('filter=%7B%7D&filter=%7B%7D'), badFilter);
  // A value whose percent-encoding is not UTF-8 is left undecoded by the query-string parser: not JSON.
  add('a query filter of invalid UTF-8', q('filter=%7B%22a%22%3A%22%FF%22%7D'), badFilter);
  add('a query order "-"', q('order=-'), P('invalid_order', 400));
  add('a query order "a,,b"', q('order=a,,b'), P('invalid_order', 400));
  add('a query order of 9 keys', q(`order=${Array.from({ length: 9 }, (_, i) => `k${i}`).join(',')}`), P('invalid_order', 400));
  add('a query order with SQL', q(`order=${encodeURIComponent("title; DROP TABLE versions")}`), P('invalid_order', 400));
  add('query fields "a,,b"', q('fields=a,,b'), P('invalid_fields', 400));
  add('query fields naming __proto__', q('fields=__proto__'), P('invalid_fields', 400));
  add('query fields of 33 paths', q(`fields=${Array.from({ length: 33 }, (_, i) => `f${i}`).join(',')}`), P('invalid_fields', 400));
  add('a query with a forged cursor', q(`filter=%7B%7D&cursor=${b64(JSON.stringify({ q: 'x', k: [], i: 'n0' }))}`), P('invalid_cursor', 400));

  // --- Admin endpoints: never with a user token, never from a form or another site.
  if (ctx.target === 'router') {
    const drain = `/_router/workers/${ctx.ownerWorker}/drain`;
    add('drain without a token', request('POST', drain, { auth: null }), P('unauthorized', 401));
    add('drain with a user token', request('POST', drain), P('unauthorized', 401));
    add('drain with a service-looking token', request('POST', drain, { auth: bearer(tokens.other) }), P('unauthorized', 401));
    add('drain with the admin token in the query', request('POST', `${drain}?token=${ctx.adminToken}`, { auth: null }), P('unauthorized', 401));
    add('drain with the admin token in a form body', request('POST', drain, { auth: null, headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: `token=${ctx.adminToken}` }), { status: 415 });
    add('drain with a text/plain body and the admin token', request('POST', drain, { auth: bearer(ctx.adminToken), headers: [['Content-Type', 'text/plain']], body: 'x' }), { status: 415 });
    add('drain with the admin token as Basic', request('POST', drain, { auth: `Basic ${Buffer.from(`admin:${ctx.adminToken}`).toString('base64')}` }), P('unauthorized', 401));
    add('undrain without a token', request('POST', `/_router/workers/${ctx.ownerWorker}/undrain`, { auth: null }), P('unauthorized', 401));
    add('the status without a token', request('GET', '/_router/status', { auth: null }), P('unauthorized', 401));
    add('the status with a user token', request('GET', '/_router/status'), P('unauthorized', 401));
    add('drain of an unknown worker with the admin token', request('POST', '/_router/workers/nope/drain', { auth: bearer(ctx.adminToken) }), { status: 404 });
    add('a PUT on an admin path', request('PUT', drain, { auth: bearer(ctx.adminToken) }), { status: 404 });
    add('the tenant list without a token', request('GET', '/_router/users', { auth: null }), P('unauthorized', 401));
    add('the tenant list with a user token', request('GET', '/_router/users'), P('unauthorized', 401));
    add('the tenant list after a traversing id', request('GET', '/_router/users?after=..%2F..%2Fetc', { auth: bearer(ctx.adminToken) }), P('invalid_request', 400));
    add('the tenant list with a huge limit', request('GET', '/_router/users?limit=100000000', { auth: bearer(ctx.adminToken) }), P('invalid_request', 400));
    add('the stats history without a token', request('GET', '/_router/stats', { auth: null }), P('unauthorized', 401));
    add('the stats history with a user token', request('GET', '/_router/stats'), P('unauthorized', 401));
    add('the stats history over a day', request('GET', '/_router/stats?window=1440m', { auth: bearer(ctx.adminToken) }), P('invalid_request', 400));
    add('the stats history with a window of no unit', request('GET', '/_router/stats?window=99999999999', { auth: bearer(ctx.adminToken) }), P('invalid_request', 400));
  } else {
    const release = `/_worker/partitions/${victim}/release`;
    add('release without a token', request('POST', release, { auth: null }), P('unauthorized', 401));
    add('release with the victim\'s own token', request('POST', release), P('unauthorized', 401));
    add('release with another tenant\'s token', request('POST', release, { auth: bearer(tokens.other) }), P('unauthorized', 401));
    add('release with the admin token in the query', request('POST', `${release}?token=${ctx.adminToken}`, { auth: null }), P('unauthorized', 401));
    add('release with the admin token in a form body', request('POST', release, { auth: null, headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: `token=${ctx.adminToken}` }), { status: 401 });
    add('release with a text/plain body', request('POST', release, { auth: null, headers: [['Content-Type', 'text/plain']], body: 'x' }), { status: 401 });
    add('release with the admin token as Basic', request('POST', release, { auth: `Basic ${Buffer.from(`admin:${ctx.adminToken}`).toString('base64')}` }), P('unauthorized', 401));
    add('release of a traversing user id with the admin token', request('POST', '/_worker/partitions/..%2F..%2Fetc/release', { auth: bearer(ctx.adminToken) }), { status: 400 });
    add('the worker status without a token', request('GET', '/_worker/status', { auth: null }), P('unauthorized', 401));
    add('the worker status with a user token', request('GET', '/_worker/status'), P('unauthorized', 401));
    add('the worker status from a web page with a user token', request('GET', '/_worker/status', { headers: [['Origin', 'http://evil.test']] }), P('cross_site_request', 403));
    add('a PUT on an admin path', request('PUT', release, { auth: bearer(ctx.adminToken) }), { status: 404 });
    add('the worker\'s tenant list without a token', request('GET', '/_worker/users', { auth: null }), P('unauthorized', 401));
    add('the worker\'s tenant list with a user token', request('GET', '/_worker/users'), P('unauthorized', 401));
    add('the worker\'s tenant list from a web page', request('GET', '/_worker/users', { headers: [['Origin', 'http://evil.test']] }), P('cross_site_request', 403));
    add('the worker\'s tenant list after a traversing id', request('GET', '/_worker/users?after=..%2F..%2Fetc', { auth: bearer(ctx.adminToken) }), { status: 400 });
    add('the worker\'s tenant list with a huge limit', request('GET', '/_worker/users?limit=100000000', { auth: bearer(ctx.adminToken) }), { status: 400 });
    const lastCommits = '/_worker/users/last-commits';
    const jsonType: [string, string][] = [['Content-Type', 'application/json']];
    add('the worker\'s open tenants\' last commits without a token', request('POST', lastCommits, { auth: null, headers: jsonType, body: '{"ids":["a"]}' }), P('unauthorized', 401));
    add('the worker\'s open tenants\' last commits with a user token', request('POST', lastCommits, { headers: jsonType, body: '{"ids":["a"]}' }), P('unauthorized', 401));
    add('the worker\'s open tenants\' last commits from a web page', request('POST', lastCommits, { headers: [...jsonType, ['Origin', 'http://evil.test']], body: '{"ids":["a"]}' }), P('cross_site_request', 403));
    add('the worker\'s open tenants\' last commits of a traversing id', request('POST', lastCommits, { auth: bearer(ctx.adminToken), headers: jsonType, body: '{"ids":["../../etc"]}' }), { status: 400 });
    add('the worker\'s open tenants\' last commits of 1001 ids', request('POST', lastCommits, { auth: bearer(ctx.adminToken), headers: jsonType, body: JSON.stringify({ ids: Array.from({ length: 1001 }, (_, i) => `u${i}`) }) }), { status: 400 });
  }
  return cases;
}
