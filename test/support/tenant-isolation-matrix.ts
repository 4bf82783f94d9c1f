/**
 * The tenant-isolation matrix: every user route × every kind of credential
 * an attacker (or a confused client) may send, with the answer each must
 * get. Transport-neutral: it talks HTTP to a base URL, so the same table
 * runs against a worker (in process or a real process) and through the
 * router. A refused request must leave the data directory's file tree and
 * the user's latest commit exactly as they were.
 *
 *   const keys = await createMatrixKeys(dir);      // files + worker flags + signers
 *   ... start a worker with keys.workerArgs (or buildTestApp with keys.verification) ...
 *   await checkTenantIsolation({ url, dataDir }, keys);
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { request } from 'undici';
import { expect } from 'vitest';
import { WebSocket } from 'ws';
import { FEED_CLOSE, type FeedServerMessage } from '../../services/http/change-socket-protocol.js';
import type { TokenVerification } from '../../services/auth/auth-options.js';
import { generateSecret } from '../../services/auth/secret-file.js';
import { listTree } from './file-tree.js';

/** The user whose data the matrix attacks (it has objects), and one with no file yet. */
export const VICTIM = 'alice';
export const NEWCOMER = 'newcomer';
/** Another tenant, whose valid tokens must not open the victim's data. */
export const OTHER_USER = 'mallory';
/** The subject of the back-end service's token (scope `service`). */
export const SERVICE = 'billing-service';

export const ISSUER = 'https://issuer.pinbase.test';
export const AUDIENCE = 'pinbase-matrix';

/** Keys and files of a worker that checks tokens: an HS256 secret and an RS256 JWKS, issuer and audience required. */
export interface MatrixKeys {
  readonly verification: TokenVerification;
  readonly adminToken: string;
  /** The flags that give a `pinbase worker` this configuration. */
  readonly workerArgs: readonly string[];
  /** An HS256 token with the claims given (defaults: iss, aud, exp in an hour). */
  hs(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** An RS256 token signed with the JWKS's private key. */
  rs(claims: JWTPayload): Promise<string>;
  /** The RSA public key as PEM: what an attacker knows. */
  readonly publicPem: string;
}

export async function createMatrixKeys(dir: string): Promise<MatrixKeys> {
  const secret = generateSecret();
  const adminToken = generateSecret();
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'matrix-1', alg: 'RS256', use: 'sig' };
  const files = {
    secret: join(dir, 'auth-secret'),
    jwks: join(dir, 'jwks.json'),
    admin: join(dir, 'admin-token'),
    cluster: join(dir, 'cluster-secret'),
  };
  writeFileSync(files.secret, `${secret}\n`, { mode: 0o600 });
  writeFileSync(files.jwks, JSON.stringify({ keys: [jwk] }));
  writeFileSync(files.admin, `${adminToken}\n`, { mode: 0o600 });
  writeFileSync(files.cluster, `${generateSecret()}\n`, { mode: 0o600 });
  const withDefaults = (claims: JWTPayload): JWTPayload => ({ iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600, ...claims });
  return {
    verification: {
      secrets: [secret],
      jwksFile: files.jwks,
      jwksUrl: undefined,
      algorithms: ['HS256', 'RS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      scopeClaim: 'scope',
      clockToleranceSeconds: 5,
    },
    adminToken,
    workerArgs: [
      '--auth-secret-file', files.secret, '--jwks-file', files.jwks, '--jwt-algorithms', 'HS256,RS256',
      '--jwt-issuer', ISSUER, '--jwt-audience', AUDIENCE, '--admin-token-file', files.admin, '--cluster-secret-file', files.cluster,
    ],
    hs: (claims, header = {}) => sign(withDefaults(claims), { alg: 'HS256', ...header }, Buffer.from(secret, 'utf8')),
    rs: (claims) => sign(withDefaults(claims), { alg: 'RS256', kid: jwk.kid }, privateKey),
    publicPem: await exportSPKI(publicKey),
  };
}

function sign(claims: JWTPayload, header: Record<string, unknown>, key: CryptoKey | Uint8Array): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ ...header, alg: header.alg as string }).sign(key);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** One route of the API, as the matrix sends it. */
export interface MatrixRoute {
  readonly name: string;
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'PATCH' | 'DELETE' | 'POST';
  /** The path for `userId`; `slot` is unique per request, for writes that need an object of their own. */
  path(userId: string, slot: string): string;
  readonly body?: (slot: string) => unknown;
  /** A body sent as it is (not as JSON), e.g. an NDJSON import. */
  readonly rawBody?: () => string;
  readonly contentType?: string;
  /** The Accept header, if any. */
  readonly accept?: string;
  /** A live change feed (Accept: text/event-stream); `query`: the token goes in ?access_token=. */
  readonly sse?: 'header' | 'query';
  /**
   * A WebSocket change feed: `header` sends the token in the upgrade
   * request's Authorization header (refusals come before the upgrade, as
   * HTTP problems), `message` upgrades without one and sends the token as
   * the first message, {"type":"auth","token":"…"} (refusals come as an
   * `error` message and a close code; sending nothing is refused when the
   * worker's auth window ends).
   */
  readonly ws?: 'header' | 'message';
  /** What the request needs (an object `collection/id`, or an index `_indexes/collection/name`), created with an owner token before an allowed request. */
  readonly needs?: (slot: string) => string;
}

const U = (userId: string) => `/api/users/${userId}`;

export const MATRIX_ROUTES: readonly MatrixRoute[] = [
  { name: 'GET object', method: 'GET', path: (u) => `${U(u)}/notes/n1` },
  { name: 'HEAD object', method: 'HEAD', path: (u) => `${U(u)}/notes/n1` },
  { name: 'GET object at a snapshot', method: 'GET', path: (u) => `${U(u)}/notes/n1?at=1` },
  { name: 'GET pointer', method: 'GET', path: (u) => `${U(u)}/notes/n1/address/city` },
  { name: 'GET history', method: 'GET', path: (u) => `${U(u)}/notes/n1/_history` },
  { name: 'GET listing', method: 'GET', path: (u) => `${U(u)}/notes?limit=10` },
  { name: 'GET query', method: 'GET', path: (u) => `${U(u)}/notes?filter=${encodeURIComponent('{"title":{"$prefix":"se"}}')}&order=-title&fields=title` },
  { name: 'GET _changes (JSON)', method: 'GET', path: (u) => `${U(u)}/_changes?since=0&includeData=true` },
  { name: 'GET _changes (SSE)', method: 'GET', path: (u) => `${U(u)}/_changes?since=0`, sse: 'header' },
  { name: 'GET _changes (SSE, access_token)', method: 'GET', path: (u) => `${U(u)}/_changes?since=0`, sse: 'query' },
  { name: 'WebSocket _changes (Authorization header)', method: 'GET', path: (u) => `${U(u)}/_changes?since=0`, ws: 'header' },
  { name: 'WebSocket _changes (auth message)', method: 'GET', path: (u) => `${U(u)}/_changes?since=0`, ws: 'message' },
  { name: 'GET _topology', method: 'GET', path: (u) => `${U(u)}/_topology` },
  { name: 'PUT object', method: 'PUT', path: (u, slot) => `${U(u)}/notes/put-${slot}`, body: () => ({ by: 'matrix' }) },
  {
    name: 'PATCH object',
    method: 'PATCH',
    path: (u) => `${U(u)}/notes/n1`,
    body: () => ({ patched: true }),
    contentType: 'application/merge-patch+json',
  },
  {
    name: 'PATCH object (JSON Patch)',
    method: 'PATCH',
    path: (u) => `${U(u)}/notes/n1`,
    body: () => [{ op: 'add', path: '/jsonPatched', value: true }],
    contentType: 'application/json-patch+json',
  },
  { name: 'DELETE object', method: 'DELETE', path: (u, slot) => `${U(u)}/notes/del-${slot}`, needs: (slot) => `notes/del-${slot}` },
  { name: 'POST create', method: 'POST', path: (u) => `${U(u)}/notes`, body: () => ({ created: 'matrix' }) },
  {
    name: 'POST _tx',
    method: 'POST',
    path: (u) => `${U(u)}/_tx`,
    body: (slot) => ({ ops: [{ op: 'put', collection: 'notes', id: `tx-${slot}`, data: { tx: true } }] }),
  },
  { name: 'GET _indexes', method: 'GET', path: (u) => `${U(u)}/_indexes` },
  { name: 'GET one index', method: 'GET', path: (u) => `${U(u)}/_indexes/notes/by_title`, needs: () => '_indexes/notes/by_title' },
  { name: 'PUT index', method: 'PUT', path: (u, slot) => `${U(u)}/_indexes/notes/ix_${slot}`, body: () => ({ paths: ['by'] }) },
  { name: 'DELETE index', method: 'DELETE', path: (u, slot) => `${U(u)}/_indexes/notes/del_${slot}`, needs: (slot) => `_indexes/notes/del_${slot}` },
  // A revert of a collection the victim never wrote: allowed, it changes nothing (reverted 0, no commit).
  { name: 'POST _revert', method: 'POST', path: (u) => `${U(u)}/_revert`, body: () => ({ to: 0, collection: 'untouched' }) },
  { name: 'GET _export (NDJSON)', method: 'GET', path: (u) => `${U(u)}/_export?history=true` },
  { name: 'GET _export (SQLite)', method: 'GET', path: (u) => `${U(u)}/_export`, accept: 'application/vnd.sqlite3' },
  // An allowed import replaces the victim's data (with the object the routes above read).
  {
    name: 'POST _import (replace)',
    method: 'POST',
    path: (u) => `${U(u)}/_import?replace=true`,
    contentType: 'application/x-ndjson',
    rawBody: () =>
      [
        { type: 'header', format: 'pinbase-export', version: 1, user: VICTIM, seq: 1, history: false, exportedAt: '2026-01-01T00:00:00.000Z' },
        { type: 'version', collection: 'notes', id: 'n1', rev: 1, deleted: false, committedAt: 0, data: { title: 'secret', address: { city: 'Oslo' } } },
        { type: 'end', count: 1 },
      ]
        .map((line) => `${JSON.stringify(line)}\n`)
        .join(''),
  },
  // Last: an allowed erase deletes the victim (the rows after it find no data, which they do not need).
  { name: 'DELETE user (erase)', method: 'DELETE', path: (u) => U(u) },
];

/** What a request must get: a 2xx, or a refusal with its code and WWW-Authenticate error. */
export type Expectation = { allowed: true } | { allowed: false; status: 401 | 403; code: string; challenge: string | undefined };

const isWriteRoute = (route: MatrixRoute) => !['GET', 'HEAD'].includes(route.method);
const missing: Expectation = { allowed: false, status: 401, code: 'missing_token', challenge: 'Bearer realm="pinbase"' };
const invalid: Expectation = { allowed: false, status: 401, code: 'invalid_token', challenge: 'Bearer realm="pinbase", error="invalid_token"' };
const forbidden: Expectation = { allowed: false, status: 403, code: 'forbidden', challenge: undefined };
const insufficient: Expectation = { allowed: false, status: 403, code: 'insufficient_scope', challenge: 'Bearer realm="pinbase", error="insufficient_scope"' };
const allowed: Expectation = { allowed: true };

/** A kind of credential: the token it sends (undefined: none) and what it must get on a route. */
export interface MatrixCredential {
  readonly name: string;
  /**
   * The Authorization header (for a header route) or the access_token (for a
   * query route) sent on `userId`'s path; undefined sends none. "Own" tokens
   * are for `userId`, "another user's" for OTHER_USER.
   */
  credential(keys: MatrixKeys, route: MatrixRoute, userId: string): Promise<string | undefined>;
  expect(route: MatrixRoute): Expectation;
  /** The close code an auth-message WebSocket gets instead of an error message (the message itself is refused). */
  readonly authMessageClose?: number;
}

/** Routes that take a bare token (in ?access_token= or a WebSocket's auth message), not an Authorization header. */
const takesBareToken = (route: MatrixRoute) => route.sse === 'query' || route.ws === 'message';
/** A header credential `Bearer <token>`, or the bare token for a route that takes one. */
const bearer = (token: string, route: MatrixRoute) => (takesBareToken(route) ? token : `Bearer ${token}`);
const own = (keys: MatrixKeys, userId: string, claims: JWTPayload = {}) => keys.hs({ sub: userId, ...claims });

export const MATRIX_CREDENTIALS: readonly MatrixCredential[] = [
  { name: 'no token', credential: async () => undefined, expect: () => missing },
  {
    name: 'another scheme (Basic)',
    credential: async (_keys, route) => (takesBareToken(route) ? undefined : `Basic ${Buffer.from('alice:pw').toString('base64')}`),
    expect: () => missing,
  },
  { name: 'malformed token', credential: async (_keys, route) => bearer('not-a-jwt', route), expect: () => invalid },
  {
    name: 'expired token',
    credential: async (keys, route, userId) => bearer(await own(keys, userId, { exp: nowSeconds() - 120 }), route),
    expect: () => invalid,
  },
  {
    name: 'token without exp',
    credential: async (keys, route, userId) => bearer(await keys.hs({ sub: userId, exp: undefined }), route),
    expect: () => invalid,
  },
  {
    name: 'alg none',
    credential: async (_keys, route, userId) =>
      bearer(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: userId, iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600 })}.`, route),
    expect: () => invalid,
  },
  {
    name: 'HS/RS confusion (HS256 signed with the RSA public key)',
    credential: async (keys, route, userId) =>
      bearer(
        await new SignJWT({ sub: userId, iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600 })
          .setProtectedHeader({ alg: 'HS256', kid: 'matrix-1' })
          .sign(Buffer.from(keys.publicPem, 'utf8')),
        route,
      ),
    expect: () => invalid,
  },
  {
    name: 'tampered signature',
    credential: async (keys, route, userId) => {
      const token = await own(keys, userId);
      const last = token.at(-2) === 'A' ? 'B' : 'A';
      return bearer(`${token.slice(0, -2)}${last}${token.at(-1)}`, route);
    },
    expect: () => invalid,
  },
  {
    name: 'tampered payload (another user\'s token with sub rewritten)',
    credential: async (keys, route, userId) => {
      const [header, , signature] = (await keys.hs({ sub: OTHER_USER })).split('.');
      return bearer(`${header}.${base64url({ sub: userId, iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 3600 })}.${signature}`, route);
    },
    expect: () => invalid,
  },
  { name: 'wrong issuer', credential: async (keys, route, userId) => bearer(await own(keys, userId, { iss: 'https://evil.test' }), route), expect: () => invalid },
  { name: 'wrong audience', credential: async (keys, route, userId) => bearer(await own(keys, userId, { aud: 'another-api' }), route), expect: () => invalid },
  {
    name: 'RS256 token with an unknown key id',
    credential: async (keys, route, userId) => {
      const [, payload, signature] = (await keys.rs({ sub: userId })).split('.');
      return bearer(`${base64url({ alg: 'RS256', kid: 'not-in-the-jwks' })}.${payload}.${signature}`, route);
    },
    expect: () => invalid,
  },
  {
    name: 'token over 8 KiB',
    credential: async (keys, route, userId) => bearer(await own(keys, userId, { padding: 'x'.repeat(8300) }), route),
    expect: () => invalid,
    // An auth message over MAX_CLIENT_MESSAGE_BYTES is not read at all: 1009 (message too big).
    authMessageClose: 1009,
  },
  { name: 'another user\'s token', credential: async (keys, route) => bearer(await keys.hs({ sub: OTHER_USER }), route), expect: () => forbidden },
  {
    name: 'another user\'s read-only token',
    credential: async (keys, route) => bearer(await keys.hs({ sub: OTHER_USER, scope: 'read' }), route),
    expect: () => forbidden,
  },
  {
    name: 'read-only token',
    credential: async (keys, route, userId) => bearer(await own(keys, userId, { scope: 'read' }), route),
    expect: (route) => (isWriteRoute(route) ? insufficient : allowed),
  },
  {
    name: 'read-only service token (scope array)',
    credential: async (keys, route) => bearer(await keys.hs({ sub: SERVICE, scope: ['read', 'service'] }), route),
    expect: (route) => (isWriteRoute(route) ? insufficient : allowed),
  },
  { name: 'own HS256 token', credential: async (keys, route, userId) => bearer(await own(keys, userId), route), expect: () => allowed },
  { name: 'own RS256 token', credential: async (keys, route, userId) => bearer(await keys.rs({ sub: userId }), route), expect: () => allowed },
  {
    name: 'service token',
    credential: async (keys, route) => bearer(await keys.hs({ sub: SERVICE, scope: 'service' }), route),
    expect: () => allowed,
  },
];

export interface MatrixReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** A WebSocket that upgraded (status 101): whether it got `ready`, or the error message and close code that ended it. */
  socket?: { ready: boolean; error?: FeedServerMessage; closeCode?: number };
}

/**
 * Sends one matrix request. A live SSE stream that opens (200) is closed
 * after its first bytes; every other answer is read whole.
 */
export async function sendMatrixRequest(
  baseUrl: string,
  route: MatrixRoute,
  userId: string,
  slot: string,
  credential: string | undefined,
): Promise<MatrixReply> {
  let path = route.path(userId, slot);
  if (route.ws !== undefined) return sendMatrixUpgrade(baseUrl, route, path, credential);
  const headers: Record<string, string> = {};
  if (route.sse !== undefined) headers.accept = 'text/event-stream';
  if (route.accept !== undefined) headers.accept = route.accept;
  if (credential !== undefined) {
    if (route.sse === 'query') path += `${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(credential)}`;
    else headers.authorization = credential;
  }
  const body = route.rawBody !== undefined ? route.rawBody() : route.body === undefined ? undefined : JSON.stringify(route.body(slot));
  if (body !== undefined) headers['content-type'] = route.contentType ?? 'application/json';
  const response = await request(new URL(path, baseUrl), {
    method: route.method,
    headers,
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const isStream = String(response.headers['content-type'] ?? '').startsWith('text/event-stream');
  let text = '';
  if (isStream) {
    for await (const chunk of response.body) {
      text += String(chunk);
      break;
    }
    response.body.destroy();
  } else {
    text = await response.body.text();
  }
  return { status: response.statusCode, headers: response.headers, body: text };
}

/**
 * Opens a WebSocket change feed (ws, which shows a refused upgrade's HTTP
 * answer) and returns that answer, or, once upgraded, whether `ready` came
 * or which error message and close code ended the socket. A `message`
 * route sends the credential as the auth message; with none it sends
 * nothing and waits for the worker's auth window to close the socket.
 */
function sendMatrixUpgrade(baseUrl: string, route: MatrixRoute, path: string, credential: string | undefined): Promise<MatrixReply> {
  const headers: Record<string, string> = route.ws === 'header' && credential !== undefined ? { authorization: credential } : {};
  const socket = new WebSocket(new URL(path, baseUrl.replace(/^http/, 'ws')), { headers });
  return new Promise<MatrixReply>((resolve, reject) => {
    let error: FeedServerMessage | undefined;
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`${route.name}: no ready, error or close within 15 s`));
    }, 15_000);
    const settle = (reply: MatrixReply) => {
      clearTimeout(timer);
      resolve(reply);
    };
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => settle({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    socket.on('open', () => {
      if (route.ws === 'message' && credential !== undefined) socket.send(JSON.stringify({ type: 'auth', token: credential }));
    });
    // The feed sends text frames only; ws hands them over as a Buffer (binaryType nodebuffer).
    socket.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      const message = JSON.parse(text) as FeedServerMessage;
      if (message.type === 'ready') {
        socket.close(1000);
        settle({ status: 101, headers: {}, body: text, socket: { ready: true } });
      } else if (message.type === 'error') {
        error = message;
      }
    });
    socket.on('close', (code) => settle({ status: 101, headers: {}, body: JSON.stringify(error ?? null), socket: { ready: false, error, closeCode: code } }));
    socket.on('error', (cause) => {
      // A refused upgrade ends in an error after 'unexpected-response': that answer stands.
      if (!String(cause.message).startsWith('Unexpected server response')) reject(cause);
    });
  });
}

/** The close code a refusal with this status gets on an upgraded feed socket (no auth message in time: authTimeout). */
const REFUSAL_CLOSE_CODES: Record<401 | 403, number[]> = {
  401: [FEED_CLOSE.unauthorized, FEED_CLOSE.authTimeout],
  403: [FEED_CLOSE.forbidden],
};

export interface MatrixTarget {
  /** A worker's or the router's base URL. */
  readonly url: string;
  /** The data directory the users' files live in (every file under it is compared before and after a refusal). */
  readonly dataDir: string;
}

export interface MatrixOptions {
  readonly routes?: readonly MatrixRoute[];
  readonly credentials?: readonly MatrixCredential[];
}

/** One checked request, for a summary. */
export interface MatrixRow {
  route: string;
  credential: string;
  userId: string;
  status: number;
}

/**
 * Runs the matrix: seeds the victim with an object (notes/n1), then sends
 * every route × credential for the victim, and every refused one also for
 * a user with no file yet. Asserts each answer (status, problem+json code,
 * WWW-Authenticate) and, after every refusal, that no file appeared,
 * disappeared or was renamed under `dataDir` and that the victim's latest
 * commit did not move.
 */
export async function checkTenantIsolation(target: MatrixTarget, keys: MatrixKeys, options: MatrixOptions = {}): Promise<MatrixRow[]> {
  const routes = options.routes ?? MATRIX_ROUTES;
  const credentials = options.credentials ?? MATRIX_CREDENTIALS;
  const ownerToken = await keys.hs({ sub: VICTIM });
  await seed(target.url, ownerToken, 'notes/n1', { title: 'secret', address: { city: 'Oslo' } });
  const rows: MatrixRow[] = [];
  let slot = 0;
  for (const route of routes) {
    for (const credential of credentials) {
      const expected = credential.expect(route);
      for (const userId of expected.allowed ? [VICTIM] : [VICTIM, NEWCOMER]) {
        const name = `${route.name} × ${credential.name} on ${userId}`;
        const mySlot = `s${slot++}`;
        if (expected.allowed && route.needs !== undefined) await seed(target.url, ownerToken, route.needs(mySlot), { doomed: true });
        const treeBefore = listTree(target.dataDir);
        const seqBefore = await latestSeq(target.url, ownerToken);
        const reply = await sendMatrixRequest(target.url, route, userId, mySlot, await credential.credential(keys, route, userId));
        rows.push({ route: route.name, credential: credential.name, userId, status: reply.status });
        if (expected.allowed && route.ws !== undefined) {
          expect(reply.socket?.ready, `${name}: ${reply.status} ${reply.body}`).toBe(true);
          continue;
        }
        if (expected.allowed) {
          expect(reply.status, `${name}: ${reply.body}`).toBeGreaterThanOrEqual(200);
          expect(reply.status, `${name}: ${reply.body}`).toBeLessThan(300);
          continue;
        }
        if (reply.socket !== undefined) {
          // Refused after the upgrade (auth message): an error message with the problem, then the close code.
          expect(reply.socket.ready, `${name}: a refused socket must not get ready`).toBe(false);
          if (credential.authMessageClose !== undefined) {
            expect(reply.socket.closeCode, name).toBe(credential.authMessageClose);
          } else {
            expect(REFUSAL_CLOSE_CODES[expected.status], `${name}: close code ${reply.socket.closeCode}`).toContain(reply.socket.closeCode);
            expect(reply.socket.error, name).toMatchObject({ type: 'error', code: expected.code, status: expected.status });
          }
          expect(reply.body, `${name}: the answer must not echo a token`).not.toMatch(/eyJ[\w-]{10,}/);
          expect(listTree(target.dataDir), `${name}: files under the data directory`).toEqual(treeBefore);
          expect(await latestSeq(target.url, ownerToken), `${name}: the victim's latest commit`).toBe(seqBefore);
          continue;
        }
        expect(reply.status, `${name}: ${reply.body}`).toBe(expected.status);
        expect(reply.headers['www-authenticate'], name).toBe(expected.challenge);
        if (route.method !== 'HEAD') {
          expect(reply.headers['content-type'], name).toMatch(/^application\/problem\+json/);
          expect(JSON.parse(reply.body), name).toMatchObject({ code: expected.code, status: expected.status });
          expect(reply.body, `${name}: the answer must not echo a token`).not.toMatch(/eyJ[\w-]{10,}/);
        }
        expect(listTree(target.dataDir), `${name}: files under the data directory`).toEqual(treeBefore);
        expect(await latestSeq(target.url, ownerToken), `${name}: the victim's latest commit`).toBe(seqBefore);
      }
    }
  }
  return rows;
}

async function seed(baseUrl: string, token: string, objectPath: string, data: unknown): Promise<void> {
  if (objectPath.startsWith('_indexes/')) data = { paths: ['doomed'] };
  const response = await request(new URL(`/api/users/${VICTIM}/${objectPath}`, baseUrl), {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(data),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`seeding ${objectPath} answered ${response.statusCode}: ${text}`);
}

async function latestSeq(baseUrl: string, token: string): Promise<number> {
  const response = await request(new URL(`/api/users/${VICTIM}/_changes?limit=1`, baseUrl), { headers: { authorization: `Bearer ${token}` } });
  await response.body.dump();
  if (response.statusCode !== 200) throw new Error(`reading the victim's seq answered ${response.statusCode}`);
  return Number(response.headers['x-pinbase-seq']);
}
