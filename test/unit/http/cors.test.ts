import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { parseCorsOrigins } from '../../../services/http/cors.js';
import { expectProblem, startHttpFixture, type HttpFixture } from './http-harness.js';
import { hs256Verifier } from '../../support/hs256-verifier.js';

const APP = 'https://app.example.com';
const SECRET = generateSecret();
const tokens = () =>
  hs256Verifier(SECRET);
const token = (sub: string) =>
  new SignJWT({ sub, exp: Math.floor(Date.now() / 1000) + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(SECRET, 'utf8'));

describe('CORS on the worker', () => {
  let fx: HttpFixture;
  afterEach(() => fx.close());

  it('answers a preflight from an allowed origin without a token, allowing the API\'s headers and methods', async () => {
    fx = await startHttpFixture({ tokens: tokens(), corsOrigins: [APP, 'http://localhost:5173'] });
    const response = await fx.app.inject({
      method: 'OPTIONS',
      url: '/api/users/alice/notes/n1',
      headers: { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type,if-match' },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe(APP);
    expect(response.headers['access-control-allow-methods']).toBe('GET, HEAD, PUT, PATCH, POST, DELETE');
    expect(String(response.headers['access-control-allow-headers']).split(', ')).toEqual(
      expect.arrayContaining(['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'Last-Event-ID']),
    );
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    expect(response.headers['x-pinbase-worker']).toBe('w-test');
  });

  it('gives an allowed origin the headers it may read, on answers and on refusals', async () => {
    fx = await startHttpFixture({ tokens: tokens(), corsOrigins: [APP] });
    const put = await fx.app.inject({
      method: 'PUT',
      url: '/api/users/alice/notes/n1',
      headers: { origin: APP, authorization: `Bearer ${await token('alice')}`, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(put.statusCode).toBe(201);
    expect(put.headers['access-control-allow-origin']).toBe(APP);
    expect(String(put.headers['access-control-expose-headers']).split(', ')).toEqual(
      expect.arrayContaining(['ETag', 'Location', 'Retry-After', 'WWW-Authenticate', 'X-Pinbase-Seq', 'X-Pinbase-Worker', 'X-Pinbase-Topology']),
    );
    const refused = await fx.app.inject({ method: 'GET', url: '/api/users/alice/notes/n1', headers: { origin: APP } });
    expectProblem(refused, 'missing_token', 401);
    expect(refused.headers['access-control-allow-origin']).toBe(APP);
  });

  it('gives another origin no Access-Control-Allow-Origin', async () => {
    fx = await startHttpFixture({ tokens: tokens(), corsOrigins: [APP] });
    const preflight = await fx.app.inject({
      method: 'OPTIONS',
      url: '/api/users/alice/notes/n1',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const get = await fx.app.inject({ method: 'GET', url: '/api/users/alice/notes/n1', headers: { origin: `${APP}.evil.example` } });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends no CORS headers at all without --cors-origin, and OPTIONS is an unknown route', async () => {
    fx = await startHttpFixture({ tokens: tokens() });
    const preflight = await fx.app.inject({
      method: 'OPTIONS',
      url: '/api/users/alice/notes/n1',
      headers: { origin: APP, 'access-control-request-method': 'GET' },
    });
    expectProblem(preflight, 'route_not_found', 404);
    expect(Object.keys(preflight.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('answers any origin with * when told so', async () => {
    fx = await startHttpFixture({ corsOrigins: ['*'] });
    const get = await fx.app.inject({ method: 'GET', url: '/api/users/alice/notes/n1', headers: { origin: 'https://anywhere.example' } });
    expect(get.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('--cors-origin', () => {
  it('takes origins repeated or comma-separated, once each', () => {
    expect(parseCorsOrigins([`${APP}, http://localhost:5173`, APP, '*'])).toEqual([APP, 'http://localhost:5173', '*']);
    expect(parseCorsOrigins([])).toEqual([]);
  });

  it('refuses what a browser never sends as an Origin, in one line', () => {
    for (const bad of ['app.example.com', `${APP}/`, `${APP}/path`, 'ftp://files.example', 'https://*.example.com', 'null']) {
      expect(() => parseCorsOrigins([bad]), bad).toThrow(/--cors-origin ".*" is not an origin like/);
    }
  });
});
