import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { RealCluster } from './real-cluster.js';
import { send, sendRaw } from '../../support/http-client.js';

let cluster: RealCluster;
beforeAll(async () => {
  cluster = await RealCluster.start(3);
});
afterAll(async () => {
  await cluster?.stop();
});

const json = { 'content-type': 'application/json' };

const HOSTILE_PATHS: [string, number, string][] = [
  ['/api/users/../x', 400, 'invalid_user_id'],
  ['/api/users/%2e%2e/notes/1', 400, 'invalid_user_id'],
  ['/api/users/alice%2Fbob/notes/1', 400, 'invalid_user_id'],
  ['/api/users//notes/1', 400, 'invalid_user_id'],
  [`/api/users/${'x'.repeat(65)}/notes/1`, 400, 'invalid_user_id'],
  ['/api/users/alice/notes/..%2F..%2Fbob', 400, 'invalid_path'],
  ['/api/users/alice//notes/1', 400, 'invalid_path'],
  ['/api/users/alice/../bob/notes/1', 400, 'invalid_path'],
  ['/api/users/alice/NOTES!/1', 400, 'invalid_collection'],
  ['/api/users/alice/notes/1?at=-3', 400, 'invalid_at'],
];

const OVERSIZE_BODY = `{"a":"${'x'.repeat(1024 * 1024)}"}`;

const MALFORMED_REQUESTS = [
  'GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\nBad Header: 1\r\n\r\n',
  'PUT /api/users/alice/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
  `GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
];

describe('router + 3 real workers', () => {
  it('keeps every request of a user on the one worker that owns it', async () => {
    for (let u = 0; u < 12; u++) {
      const user = `sticky${u}`;
      const workers = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const put = await send(cluster.url, `/api/users/${user}/notes/n${i}`, { method: 'PUT', headers: json, body: JSON.stringify({ i }) });
        expect(put.status).toBe(201);
        const get = await send(cluster.url, `/api/users/${user}/notes/n${i}`);
        expect(get.json()).toEqual({ i });
        workers.add(String(put.headers['x-pinbase-worker'])).add(String(get.headers['x-pinbase-worker']));
      }
      expect([...workers]).toEqual([cluster.ownerOf(user)]);
    }
  });

  it('answers a query through the router: filter, order, fields, X-Pinbase-Index and a cursor to the next page', async () => {
    const user = 'querier';
    for (let i = 0; i < 5; i++) {
      const body = JSON.stringify({ n: i, kind: i % 2 ? 'odd' : 'even', note: `x${i}` });
      expect((await send(cluster.url, `/api/users/${user}/items/i${i}`, { method: 'PUT', headers: json, body })).status).toBe(201);
    }
    const params = `filter=${encodeURIComponent('{"kind":"even"}')}&order=-n&fields=n&limit=2`;
    const first = await send(cluster.url, `/api/users/${user}/items?${params}`);
    expect(first.status).toBe(200);
    expect(first.headers['x-pinbase-index']).toBe('none');
    expect(first.headers['x-pinbase-worker']).toBe(cluster.ownerOf(user));
    const page = first.json() as { items: unknown[]; next: string };
    expect(page.items).toEqual([{ id: 'i4', rev: 5, data: { n: 4 } }, { id: 'i2', rev: 3, data: { n: 2 } }]);
    const second = await send(cluster.url, `/api/users/${user}/items?${params}&cursor=${page.next}`);
    expect(second.json()).toEqual({ items: [{ id: 'i0', rev: 1, data: { n: 0 } }], next: null });
    const bad = await send(cluster.url, `/api/users/${user}/items?filter=${encodeURIComponent('{"n":{"$gt":true}}')}`);
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'invalid_filter' });
  });

  it('gets 421 from a worker asked directly for a user it does not own', async () => {
    const user = cluster.usersOwnedBy('w1', 1, 'direct')[0]!;
    const wrong = await send(cluster.workerUrl('w2'), `/api/users/${user}/notes/1`);
    expect(wrong.status).toBe(421);
    expect(wrong.json()).toMatchObject({ code: 'misdirected_request', status: 421 });
    const through = await send(cluster.url, `/api/users/${user}/notes/1`);
    expect(through.headers['x-pinbase-worker']).toBe('w1');
  });

  it('streams new commits over SSE through the router', async () => {
    const user = 'sse-user';
    await send(cluster.url, `/api/users/${user}/notes/first`, { method: 'PUT', headers: json, body: '{"n":0}' });
    const controller = new AbortController();
    const response = await request(`${cluster.url}/api/users/${user}/_changes`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(response.headers['x-pinbase-worker']).toBe(cluster.ownerOf(user));
    let text = '';
    response.body.on('data', (chunk: Buffer) => (text += chunk.toString()));
    response.body.on('error', () => {});
    for (let n = 1; n <= 3; n++) {
      await send(cluster.url, `/api/users/${user}/notes/n${n}`, { method: 'PUT', headers: json, body: JSON.stringify({ n }) });
      await vi.waitFor(() => expect(text).toContain(`"id":"n${n}"`), { timeout: 3000 });
    }
    expect(text).toMatch(/event: change\ndata: \{"seq":\d+,"changes":\[\{"seq":\d+,"collection":"notes","id":"n3"/);
    controller.abort();
  });

  it('forwards /docs to a worker: the OpenAPI document and the Swagger UI page that worker serves', async () => {
    const openapi = await send(cluster.url, '/docs/json');
    expect(openapi.status).toBe(200);
    expect(openapi.header('content-type')).toMatch(/^application\/json/);
    const worker = openapi.header('x-pinbase-worker')!;
    expect(cluster.workers.map((w) => w.id)).toContain(worker);
    expect(openapi.json()).toMatchObject({ openapi: expect.stringMatching(/^3\./), info: { title: 'Pinbase API' } });
    expect(Object.keys(openapi.json().paths)).toContain('/api/users/{userId}/_tx');
    expect(openapi.json()).toEqual((await send(cluster.workerUrl(worker), '/docs/json')).json());

    const ui = await send(cluster.url, '/docs/');
    expect(ui.status).toBe(200);
    expect(ui.header('content-type')).toMatch(/^text\/html/);
    expect(ui.body).toContain('<title>Pinbase API</title>');
    expect(ui.body).toContain('<div id="swagger-ui"></div>');
    // The page's own assets come through the router too (relative to /docs/).
    for (const asset of ['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js', '/docs/static/theme/favicon.svg']) {
      expect((await send(cluster.url, asset)).status, asset).toBe(200);
    }
  });

  describe('hostile input', () => {
    it.each(HOSTILE_PATHS)('%s → %i %s', async (path, status, code) => {
      const reply = await send(cluster.url, path);
      expect(reply.status).toBe(status);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reply.json().code).toBe(code);
    });

    it('refuses an oversize body with 413 and a body that is not JSON with 400', async () => {
      const big = await send(cluster.url, '/api/users/alice/notes/big', { method: 'PUT', headers: json, body: OVERSIZE_BODY });
      expect(big.status).toBe(413);
      expect(big.json().code).toBe('body_too_large');
      const bad = await send(cluster.url, '/api/users/alice/notes/bad', { method: 'PUT', headers: json, body: '{"a":' });
      expect(bad.status).toBe(400);
      expect(bad.json().code).toBe('invalid_json');
      const proto = await send(cluster.url, '/api/users/alice/notes/p', { method: 'PUT', headers: json, body: '{"__proto__":{"x":1}}' });
      expect(proto.status).toBe(400);
      expect(proto.json().code).toBe('forbidden_key');
    });

    it('answers malformed requests with a 4xx problem', async () => {
      for (const bytes of MALFORMED_REQUESTS) {
        const raw = await sendRaw(cluster.url, bytes);
        expect(raw).toMatch(/^HTTP\/1\.1 4\d\d /);
        expect(raw.toLowerCase()).toContain('application/problem+json');
      }
      const badIfMatch = await send(cluster.url, '/api/users/alice/notes/1', { method: 'PUT', headers: { ...json, 'if-match': 'nonsense' }, body: '{}' });
      expect(badIfMatch.status).toBe(400);
    });

    it('leaves every worker running and serving after all of that', async () => {
      for (const [path] of HOSTILE_PATHS) await send(cluster.url, path);
      await send(cluster.url, '/api/users/alice/notes/big', { method: 'PUT', headers: json, body: OVERSIZE_BODY });
      for (const bytes of MALFORMED_REQUESTS) await sendRaw(cluster.url, bytes);
      for (const w of cluster.workers) expect((await send(cluster.workerUrl(w.id), '/healthz')).status).toBe(200);
      expect((await send(cluster.url, '/api/users/alice/notes/after', { method: 'PUT', headers: json, body: '{}' })).status).toBe(201);
    });
  });
});
