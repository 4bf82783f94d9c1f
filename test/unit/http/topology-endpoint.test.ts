import { afterEach, describe, expect, it } from 'vitest';
import { HintSigner, HintVerifier } from '../../../services/auth/hint-signature.js';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { Ownership } from '../../../services/worker/ownership.js';
import { SignJWT } from 'jose';
import { body, expectProblem, jsonRequest, listTree, startHttpFixture, type HttpFixture } from './http-harness.js';
import { hs256Verifier } from '../../support/hs256-verifier.js';

const CLUSTER_SECRET = generateSecret();
const USER_SECRET = generateSecret();
const TOPOLOGY = {
  version: 7,
  workers: [
    { id: 'w-test', url: 'http://127.0.0.1:3601' },
    { id: 'w2', url: 'http://127.0.0.1:3602' },
    { id: 'w3', url: 'http://127.0.0.1:3603' },
  ],
};

let fx: HttpFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

function signedOwnership(): Ownership {
  return new Ownership('w-test', TOPOLOGY, new HintVerifier(CLUSTER_SECRET));
}

/** Users this worker owns with every worker up, and users of w2 that come here once w2 is down. */
function usersOf(ownership: Ownership): { own: string; failover: string } {
  const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
  const own = users.find((user) => ownership.owns(user))!;
  const failover = users.find((user) => {
    if (ownership.owns(user)) return false;
    try {
      ownership.assertOwner(user, { method: 'GET', url: '/', headers: { 'x-pinbase-down': 'w2' } });
      return true;
    } catch {
      return false;
    }
  })!;
  return { own, failover };
}

/** The headers the router adds: the down list, signed for this request. */
function routerHint(method: string, url: string, down: string): Record<string, string> {
  return { 'x-pinbase-down': down, 'x-pinbase-hint': new HintSigner(CLUSTER_SECRET).sign(method, url, down) };
}

describe('GET /api/users/:userId/_topology', () => {
  it('answers the worker\'s topology file, no down list, and opens no partition', async () => {
    const ownership = signedOwnership();
    const { own } = usersOf(ownership);
    fx = await startHttpFixture({ ownership });
    const response = await fx.app.inject({ method: 'GET', url: `/api/users/${own}/_topology` });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(body(response)).toEqual({ ...TOPOLOGY, down: [] });
    expect(response.headers['x-pinbase-topology']).toBe('7');
    expect(fx.store.pool.openCount).toBe(0);
    expect(listTree(fx.dataDir)).toEqual([]);
  });

  it('names the workers the router reports down when its hint verifies, in topology order and only known ones', async () => {
    const ownership = signedOwnership();
    const { own } = usersOf(ownership);
    fx = await startHttpFixture({ ownership });
    const url = `/api/users/${own}/_topology`;
    const response = await fx.app.inject({ method: 'GET', url, headers: routerHint('GET', url, 'w3,nobody,w2') });
    expect(body(response)).toMatchObject({ down: ['w2', 'w3'] });
  });

  it('reports the down list that moved the user here (the hint is checked once, not refused as a replay)', async () => {
    const ownership = signedOwnership();
    const { failover } = usersOf(ownership);
    fx = await startHttpFixture({ ownership });
    const url = `/api/users/${failover}/_topology`;
    const response = await fx.app.inject({ method: 'GET', url, headers: routerHint('GET', url, 'w2') });
    expect(response.statusCode).toBe(200);
    expect(body(response)).toMatchObject({ down: ['w2'] });
  });

  it.each([
    ['an unsigned X-Pinbase-Down', () => ({ 'x-pinbase-down': 'w2' })],
    ['a hint signed with another secret', () => ({ 'x-pinbase-down': 'w2', 'x-pinbase-hint': new HintSigner(generateSecret()).sign('GET', '/', 'w2') })],
    ['a hint for another down list', () => ({ ...routerHint('GET', '/', 'w3'), 'x-pinbase-down': 'w2' })],
  ])('does not echo %s', async (_case, headers) => {
    const ownership = signedOwnership();
    const { own, failover } = usersOf(ownership);
    fx = await startHttpFixture({ ownership });
    const response = await fx.app.inject({ method: 'GET', url: `/api/users/${own}/_topology`, headers: headers() });
    expect(response.statusCode).toBe(200);
    expect(body(response)).toMatchObject({ down: [] });
    // Nor does it move another worker's user here.
    expectProblem(await fx.app.inject({ method: 'GET', url: `/api/users/${failover}/_topology`, headers: headers() }), 'misdirected_request', 421);
  });

  it('answers version 0 and no workers on a worker without a topology file (it serves every user)', async () => {
    fx = await startHttpFixture();
    const response = await fx.app.inject({ method: 'GET', url: '/api/users/anyone/_topology', headers: { 'x-pinbase-down': 'w2' } });
    expect(body(response)).toEqual({ version: 0, workers: [], down: [] });
    expect(response.headers['x-pinbase-topology']).toBe('0');
  });

  it('needs the user\'s token, and a read-only one suffices', async () => {
    const tokens = hs256Verifier(USER_SECRET);
    fx = await startHttpFixture({ tokens });
    const token = (sub: string, claims: Record<string, unknown> = {}) =>
      new SignJWT({ sub, exp: Math.floor(Date.now() / 1000) + 600, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(USER_SECRET, 'utf8'));
    const url = '/api/users/alice/_topology';
    const missing = await fx.app.inject({ method: 'GET', url });
    expectProblem(missing, 'missing_token', 401);
    expect(missing.headers['x-pinbase-topology']).toBe('0');
    expectProblem(await fx.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${await token('bob')}` } }), 'forbidden', 403);
    const readOnly = await fx.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${await token('alice', { scope: 'read' })}` } });
    expect(readOnly.statusCode).toBe(200);
  });
});

describe('X-Pinbase-Topology', () => {
  it('is on every answer for a user, success or error, and follows a topology change', async () => {
    const ownership = signedOwnership();
    const { own, failover } = usersOf(ownership);
    fx = await startHttpFixture({ ownership });
    const answers = [
      await fx.app.inject(jsonRequest('PUT', `/api/users/${own}/notes/a`, { v: 1 })),
      await fx.app.inject({ method: 'GET', url: `/api/users/${own}/notes/a` }),
      await fx.app.inject({ method: 'GET', url: `/api/users/${own}/notes/missing` }),
      await fx.app.inject({ method: 'GET', url: `/api/users/${own}/_changes?since=x` }),
      await fx.app.inject({ method: 'GET', url: `/api/users/${failover}/notes/a` }),
      await fx.app.inject({ method: 'GET', url: '/api/users/a!b/notes/a' }),
      await fx.app.inject({ method: 'GET', url: `/api/users/${own}/c/%E0%A4%A` }),
      await fx.app.inject({ method: 'POST', url: `/api/users/${own}/notes/a/b/c` }),
    ];
    expect(answers.map((r) => r.statusCode)).toEqual([201, 200, 404, 400, 421, 400, 400, 404]);
    for (const answer of answers) expect(answer.headers['x-pinbase-topology']).toBe('7');
    // Not on the worker's own endpoints.
    expect((await fx.app.inject({ method: 'GET', url: '/healthz' })).headers['x-pinbase-topology']).toBeUndefined();

    ownership.update({ ...TOPOLOGY, version: 8 });
    const after = await fx.app.inject({ method: 'GET', url: `/api/users/${own}/notes/a` });
    expect(after.headers['x-pinbase-topology']).toBe('8');
    expect(body((await fx.app.inject({ method: 'GET', url: `/api/users/${own}/_topology` })))).toMatchObject({ version: 8 });
  });

  it('is readable by a browser app (CORS exposes it)', async () => {
    fx = await startHttpFixture({ corsOrigins: ['https://app.example'] });
    const response = await fx.app.inject({ method: 'GET', url: '/api/users/alice/notes/a', headers: { origin: 'https://app.example' } });
    expect(String(response.headers['access-control-expose-headers'])).toMatch(/X-Pinbase-Topology/);
  });
});
