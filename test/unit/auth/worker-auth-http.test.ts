import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { TokenVerifier } from '../../../services/auth/token-verifier.js';
import { body, expectProblem, listTree, startHttpFixture, type HttpFixture } from '../http/http-harness.js';

const SECRET = generateSecret();
const ADMIN = generateSecret();

function verifier(overrides: { jwksUrl?: string } = {}): TokenVerifier {
  return TokenVerifier.fromOptions({
    secrets: [SECRET],
    jwksFile: undefined,
    jwksUrl: overrides.jwksUrl,
    algorithms: overrides.jwksUrl === undefined ? ['HS256'] : ['HS256', 'RS256'],
    issuer: undefined,
    audience: undefined,
    scopeClaim: 'scope',
    clockToleranceSeconds: 5,
  });
}

function token(sub: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ sub, exp: Math.floor(Date.now() / 1000) + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(Buffer.from(SECRET, 'utf8'));
}

describe('a worker that checks users\' tokens', () => {
  let fx: HttpFixture;
  let alice: string;
  beforeEach(async () => {
    fx = await startHttpFixture({ tokens: verifier(), adminToken: ADMIN });
    alice = await token('alice');
    const put = await fx.app.inject({
      method: 'PUT',
      url: '/api/users/alice/notes/n1',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      payload: '{"v":1}',
    });
    expect(put.statusCode).toBe(201);
  });
  afterEach(() => fx.close());

  it('takes ?access_token= on the SSE feed only: not on a JSON page, not on another route, not beside an Authorization header', async () => {
    const json = await fx.app.inject({ method: 'GET', url: `/api/users/alice/_changes?access_token=${alice}` });
    const problem = expectProblem(json, 'missing_token', 401);
    expect(problem.detail).toContain('Accept: text/event-stream');
    expect(problem.instance).toBe('/api/users/alice/_changes?access_token=REDACTED');
    expect(json.body).not.toContain(alice);

    const object = await fx.app.inject({ method: 'GET', url: `/api/users/alice/notes/n1?access_token=${alice}` });
    expectProblem(object, 'missing_token', 401);
    expect(object.body).not.toContain(alice);

    const headerWins = await fx.app.inject({
      method: 'GET',
      url: `/api/users/alice/_changes?access_token=${alice}`,
      headers: { accept: 'text/event-stream', authorization: 'Bearer not.a.token' },
    });
    expectProblem(headerWins, 'invalid_token', 401);
  });

  it('refuses before reading the body: an unauthenticated PUT with an invalid body is 401, not 400', async () => {
    const response = await fx.app.inject({ method: 'PUT', url: '/api/users/alice/notes/n2', headers: { 'content-type': 'application/json' }, payload: '{not json' });
    expectProblem(response, 'missing_token', 401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="pinbase"');
  });

  it('refuses an unauthenticated request for an invalid user id with 401 too, and creates nothing', async () => {
    const before = listTree(fx.dataDir);
    expectProblem(await fx.app.inject({ method: 'PUT', url: '/api/users/bad!id/notes/n1', payload: {} }), 'missing_token', 401);
    expectProblem(await fx.app.inject({ method: 'DELETE', url: '/api/users/ghost/notes/n1', headers: { authorization: `Bearer ${alice}` } }), 'forbidden', 403);
    expect(listTree(fx.dataDir)).toEqual(before);
  });

  it('never takes the admin token as a user token, nor a user token as the admin token', async () => {
    expectProblem(await fx.app.inject({ method: 'GET', url: '/api/users/alice/notes/n1', headers: { authorization: `Bearer ${ADMIN}` } }), 'invalid_token', 401);
    const service = await token('admin', { scope: 'service' });
    for (const credential of [alice, service]) {
      const release = await fx.app.inject({ method: 'POST', url: '/_worker/partitions/alice/release', headers: { authorization: `Bearer ${credential}` } });
      expectProblem(release, 'unauthorized', 401);
      expectProblem(await fx.app.inject({ method: 'GET', url: '/_worker/status', headers: { authorization: `Bearer ${credential}` } }), 'unauthorized', 401);
    }
    expect(fx.store.pool.isOpen('alice')).toBe(true);
  });

  it('needs the admin token on GET /_worker/status, from the Authorization header only', async () => {
    expectProblem(await fx.app.inject({ method: 'GET', url: '/_worker/status' }), 'unauthorized', 401);
    expectProblem(await fx.app.inject({ method: 'GET', url: `/_worker/status?access_token=${ADMIN}` }), 'unauthorized', 401);
    const ok = await fx.app.inject({ method: 'GET', url: '/_worker/status', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(ok.statusCode).toBe(200);
  });

  it('refuses the admin endpoints to web pages, and a handover sent as a form or text/plain body', async () => {
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }]) {
      const response = await fx.app.inject({
        method: 'POST',
        url: '/_worker/partitions/alice/release',
        headers: { ...headers, authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' },
        payload: `authorization=Bearer ${ADMIN}`,
      });
      expectProblem(response, 'cross_site_request', 403);
    }
    const form = await fx.app.inject({
      method: 'POST',
      url: '/_worker/partitions/alice/release',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `authorization=Bearer+${ADMIN}&token=${ADMIN}`,
    });
    expectProblem(form, 'unauthorized', 401);
    expect(fx.store.pool.isOpen('alice')).toBe(true);
  });

  it('keeps /healthz, /readyz and /metrics open, without any user id in them', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const response = await fx.app.inject({ method: 'GET', url: path });
      expect(response.statusCode, path).toBe(200);
      expect(response.body, path).not.toContain('alice');
    }
  });

  it('keeps /docs open, and documents that the API takes a bearer token', async () => {
    const docs = await startHttpFixture({ tokens: verifier(), docs: true });
    try {
      const response = await docs.app.inject({ method: 'GET', url: '/docs/json' });
      expect(response.statusCode).toBe(200);
      const query = body<{ paths: Record<string, { get: { parameters: { name: string }[] } }> }>(response).paths['/api/users/{userId}/_changes']!.get.parameters;
      expect(query.map((p) => p.name)).toContain('access_token');
      expect(body(response)).toMatchObject({
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ bearerAuth: [] }],
      });
    } finally {
      await docs.close();
    }
  });
});

describe('a worker whose JWKS URL is down', () => {
  let server: Server;
  let fx: HttpFixture;
  beforeEach(async () => {
    server = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    fx = await startHttpFixture({ tokens: verifier({ jwksUrl: `http://127.0.0.1:${port}/jwks` }) });
  });
  afterEach(async () => {
    await fx.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers 503 token_keys_unavailable with Retry-After, not 401, and still checks HS256 tokens', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const rs = await new SignJWT({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).sign(privateKey);
    const response = await fx.app.inject({ method: 'GET', url: '/api/users/alice/notes/n1', headers: { authorization: `Bearer ${rs}` } });
    expectProblem(response, 'token_keys_unavailable', 503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers['www-authenticate']).toBeUndefined();
    const hs = await fx.app.inject({ method: 'GET', url: '/api/users/alice/notes/n1', headers: { authorization: `Bearer ${await token('alice')}` } });
    expectProblem(hs, 'object_not_found', 404);
  });
});

describe('the data directory of a worker that refuses', () => {
  it('stays empty after refused writes to 50 users', async () => {
    const fx = await startHttpFixture({ tokens: verifier() });
    try {
      const mallory = await token('mallory');
      for (let i = 0; i < 50; i++) {
        const response = await fx.app.inject({
          method: 'PUT',
          url: `/api/users/user${i}/notes/n1`,
          headers: { authorization: `Bearer ${mallory}`, 'content-type': 'application/json' },
          payload: '{}',
        });
        expect(response.statusCode).toBe(403);
      }
      expect(listTree(join(fx.root, 'data'))).toEqual([]);
    } finally {
      await fx.close();
    }
  });
});
