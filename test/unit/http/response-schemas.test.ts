import { AjvCompiler } from '@fastify/ajv-compiler';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeEvent, changeFeedMessage, healthResponse, readinessResponse, writeResponse } from '../../../services/http/response-schemas.js';
import { Ownership } from '../../../services/worker/ownership.js';
import { openSse } from '../../support/sse-client.js';
import { jsonRequest, startHttpFixture, type HttpFixture } from './http-harness.js';

/**
 * Real answers of every /api/users operation, checked against the 2xx
 * schema the OpenAPI description (/docs/json) declares for their status and
 * media type, with Ajv in strict mode and every object schema closed (a
 * member the schema does not name fails), so the published schemas say
 * exactly what is sent.
 */

interface MediaType {
  schema?: object;
}
interface Operation {
  responses: Record<string, { content?: Record<string, MediaType> }>;
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
}

const compileStrict = AjvCompiler()(
  {},
  { customOptions: { strict: true, allowUnionTypes: true, coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: true } },
);

/** `schema` with `additionalProperties: false` on every object schema that does not say otherwise. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([name, s]) => [name, closed(s)])) : closed(value);
  }
  if ('properties' in out && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

function validator(schema: unknown): (data: unknown) => string | undefined {
  const validate = compileStrict({ schema: closed(schema) as object, method: 'GET', url: '/', httpPart: 'body' });
  return (data) => (validate(data) ? undefined : JSON.stringify(validate.errors));
}

const U = '/api/users/alice';
const DOC = { title: 'a', n: 1.5, nested: { deep: [1, { x: null, s: 'é\u2028' }], empty: {} }, flag: false };

describe('2xx response schemas (OpenAPI)', () => {
  let fx: HttpFixture;
  let spec: OpenApi;
  let baseUrl: string;
  /** `METHOD template` of every operation answered with a body that validated (or a 204). */
  const checked = new Set<string>();

  beforeAll(async () => {
    const ownership = new Ownership('w-test', { version: 3, workers: [{ id: 'w-test', url: 'http://127.0.0.1:3601' }] }, undefined);
    fx = await startHttpFixture({ docs: true, ownership });
    spec = JSON.parse((await fx.app.inject({ method: 'GET', url: '/docs/json' })).body) as OpenApi;
    baseUrl = await fx.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await fx.close();
  });

  const userOperations = () =>
    Object.entries(spec.paths)
      .filter(([path]) => path.startsWith('/api/users/'))
      .flatMap(([path, operations]) => Object.entries(operations).map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path}`, operation })));

  /** The operation fastify routes `method url` to: the matching template with the fewest parameters. */
  function operationOf(method: string, url: string): { key: string; operation: Operation } {
    const path = url.split('?')[0]!;
    const candidates = Object.entries(spec.paths)
      .filter(([template, operations]) => operations[method.toLowerCase()] !== undefined &&
        new RegExp(`^${template.replace(/\{\*\}|\{pointer\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path))
      .sort(([a], [b]) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
    const [template, operations] = candidates[0] ?? [];
    expect(template, `${method} ${path} is documented`).toBeDefined();
    return { key: `${method} ${template}`, operation: operations![method.toLowerCase()]! };
  }

  /** Checks one answer against its declared schema and returns its JSON body (undefined for a non-JSON or empty one). */
  function check(method: string, url: string, response: LightMyRequestResponse): unknown {
    const status = response.statusCode;
    expect(status, `${method} ${url}: ${response.body}`).toBeGreaterThanOrEqual(200);
    expect(status, `${method} ${url}: ${response.body}`).toBeLessThan(300);
    const { key, operation } = operationOf(method, url);
    const declared = operation.responses[String(status)];
    expect(declared, `${key} declares ${status}`).toBeDefined();
    checked.add(key);
    if (status === 204) {
      expect(response.body).toBe('');
      return undefined;
    }
    const mediaType = String(response.headers['content-type']).split(';')[0]!.trim();
    const schema = declared!.content?.[mediaType]?.schema;
    expect(schema, `${key} ${status} declares a schema for ${mediaType}`).toBeDefined();
    if (mediaType !== 'application/json') {
      expect(validator(schema)(response.body), `${key} ${status}`).toBeUndefined();
      return undefined;
    }
    const value: unknown = JSON.parse(response.body);
    expect(validator(schema)(value), `${key} ${status}: ${response.body}`).toBeUndefined();
    return value;
  }

  async function send(method: 'GET' | 'DELETE', url: string, headers: Record<string, string> = {}): Promise<unknown> {
    return check(method, url, await fx.app.inject({ method, url, headers }));
  }
  async function sendJson(method: 'PUT' | 'PATCH' | 'POST', url: string, payload: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    return check(method, url, await fx.app.inject(jsonRequest(method, url, payload, headers)));
  }

  it('closing a schema makes an undeclared member fail (the check below can fail)', () => {
    const validate = validator(writeResponse);
    expect(validate({ collection: 'c', id: 'x', rev: 1 })).toBeUndefined();
    expect(validate({ collection: 'c', id: 'x', rev: 1, seq: 1 })).toMatch(/additionalProperties/);
    expect(validate({ collection: 'c', id: 'x' })).toMatch(/required/);
  });

  it('every success answer of every /api/users operation matches its declared schema', async () => {
    expect(await sendJson('PUT', `${U}/notes/n1`, { title: 'first' })).toEqual({ collection: 'notes', id: 'n1', rev: 1 });
    await sendJson('PUT', `${U}/notes/n1`, DOC);
    await sendJson('PUT', `${U}/notes/gone`, { title: 'gone' });
    const got = await fx.app.inject({ method: 'GET', url: `${U}/notes/n1` });
    // The document comes back exactly as written: no schema re-serialises it.
    expect(got.body).toBe(JSON.stringify(DOC));
    check('GET', `${U}/notes/n1`, got);
    expect(await send('GET', `${U}/notes/n1/nested/deep`)).toEqual(DOC.nested.deep);
    await sendJson('PATCH', `${U}/notes/n1`, { extra: { a: [1] } }, { 'content-type': 'application/merge-patch+json' });
    await sendJson('PATCH', `${U}/notes/n1`, [{ op: 'add', path: '/tags', value: ['x'] }], { 'content-type': 'application/json-patch+json' });
    await sendJson('POST', `${U}/notes`, { title: 'created' });
    const page = (await send('GET', `${U}/notes?limit=1`)) as { next: string | null };
    expect(page.next).toEqual(expect.any(String));
    await send('GET', `${U}/notes?limit=1&cursor=${encodeURIComponent(page.next!)}`);
    await send('GET', `${U}/notes?filter=${encodeURIComponent('{"title":{"$exists":true}}')}&order=-title&fields=title,nested.deep`);
    expect(((await send('GET', `${U}/notes/n1/_history?limit=1`)) as { next: number | null }).next).toEqual(expect.any(Number));
    await send('GET', `${U}/notes/n1/_history`);
    const tx = await sendJson('POST', `${U}/_tx`, {
      reads: [{ collection: 'notes', id: 'n1', rev: 5 }],
      ops: [
        { op: 'put', collection: 'notes', id: 't1', data: { t: 1 } },
        { op: 'create', collection: 'notes', data: { t: 2 } },
        { op: 'patch', collection: 'notes', id: 'n1', patch: { t: 3 } },
        { op: 'delete', collection: 'notes', id: 'gone' },
      ],
    });
    expect((tx as { results: unknown[] }).results).toHaveLength(4);
    expect(await send('DELETE', `${U}/notes/t1`)).toMatchObject({ deleted: true });
    await send('GET', `${U}/notes/gone/_history`);
    await send('GET', `${U}/_changes?since=0&includeData=true`);
    await send('GET', `${U}/_changes?since=0&limit=1`);
    await sendJson('PUT', `${U}/_indexes/notes/by_title`, { paths: ['title'] });
    await sendJson('PUT', `${U}/_indexes/notes/by_title`, { paths: ['title'] });
    await send('GET', `${U}/_indexes`);
    await send('GET', `${U}/_indexes/notes/by_title`);
    await send('DELETE', `${U}/_indexes/notes/by_title`);
    await sendJson('POST', `${U}/_revert`, { to: 2 });
    const exported = await fx.app.inject({ method: 'GET', url: `${U}/_export?history=true` });
    check('GET', `${U}/_export`, exported);
    check('GET', `${U}/_export`, await fx.app.inject({ method: 'GET', url: `${U}/_export`, headers: { accept: 'application/vnd.sqlite3' } }));
    const imported = await fx.app.inject({
      method: 'POST',
      url: `${U}/_import?replace=true`,
      headers: { 'content-type': 'application/x-ndjson' },
      payload: exported.rawPayload,
    });
    check('POST', `${U}/_import`, imported);
    // A commit larger than a page (an import of 1001 objects) comes in parts: a page with a cursor, then the rest.
    const bulkLines = [JSON.stringify({ type: 'header', format: 'pinbase-export', version: 1, user: 'bulk', seq: 1, history: false, prunedThrough: 0, exportedAt: '2026-12-02T00:00:00.000Z' })];
    for (let n = 0; n <= 1000; n++) bulkLines.push(JSON.stringify({ type: 'version', collection: 'notes', id: `b${n}`, rev: 1, deleted: false, committedAt: 1, data: { n } }));
    bulkLines.push(JSON.stringify({ type: 'end', count: 1001 }));
    check('POST', '/api/users/bulk/_import', await fx.app.inject({ method: 'POST', url: '/api/users/bulk/_import', headers: { 'content-type': 'application/x-ndjson' }, payload: bulkLines.join('\n') }));
    const part = (await send('GET', '/api/users/bulk/_changes?since=0')) as { cursor?: string };
    expect(part.cursor).toBeDefined();
    await send('GET', `/api/users/bulk/_changes?cursor=${part.cursor}`);
    expect(validator(changeEvent)({ seq: 1, changes: [], partial: true, cursor: part.cursor })).toBeUndefined();
    expect(validator(changeFeedMessage)({ type: 'change', seq: 1, changes: [], partial: true, cursor: part.cursor })).toBeUndefined();
    expect(await send('GET', `${U}/_topology`)).toEqual({ version: 3, workers: [{ id: 'w-test', url: 'http://127.0.0.1:3601' }], down: [] });

    // A live feed's events (text/event-stream): each event's data is a ChangeEvent.
    const { key, operation } = operationOf('GET', `${U}/_changes`);
    expect(operation.responses['200']?.content?.['text/event-stream']?.schema, `${key} declares its SSE form`).toBeDefined();
    const stream = await openSse(`${baseUrl}${U}/_changes?since=0&includeData=true`);
    try {
      const events = await stream.waitFor(3);
      const validate = validator(changeEvent);
      for (const event of events) expect(validate(JSON.parse(event.data)), event.data).toBeUndefined();
    } finally {
      // The worker ends the stream when it lets the user go (as on a handover).
      await fx.store.release('alice');
      await stream.ended;
    }

    await send('DELETE', U);
    expect(
      userOperations()
        .map(({ key }) => key)
        .filter((operationKey) => !checked.has(operationKey)),
      'operations this test did not answer (a new route must be added here)',
    ).toEqual([]);
  });

  it('the WebSocket feed\'s message schema tells ready, change and error apart', () => {
    const validate = validator(changeFeedMessage);
    expect(validate({ type: 'ready', seq: 3 })).toBeUndefined();
    expect(validate({ type: 'change', seq: 4, changes: [{ seq: 4, collection: 'c', id: 'x', deleted: false, data: { a: 1 } }] })).toBeUndefined();
    expect(validate({ type: 'error', title: 'Gone', status: 421, code: 'misdirected_request', retryable: true, owner: 'w2' })).toBeUndefined();
    expect(validate({ type: 'change', seq: 4 })).toBeDefined();
    expect(validate({ type: 'ready', seq: 3, extra: true })).toBeDefined();
  });

  it('health answers match their schemas and keep every member of the status', async () => {
    const health = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.body).toBe('{"status":"ok"}');
    expect(validator(healthResponse)(JSON.parse(health.body))).toBeUndefined();
    const ready = await fx.app.inject({ method: 'GET', url: '/readyz' });
    // buildTestApp's status() is { worker: 'w-test' }: the open schema passes it through as it is.
    expect(ready.body).toBe('{"status":"ready","worker":"w-test"}');
    expect(validator(readinessResponse)(JSON.parse(ready.body))).toBeUndefined();
  });

  it('declares a 2xx answer with a schema for every /api/users operation', () => {
    const operations = userOperations();
    expect(operations.length).toBeGreaterThan(15);
    const lacking = operations.filter(({ operation }) => {
      const successes = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));
      if (successes.length === 0) return true;
      return successes.some(([status, response]) => {
        if (status === '204') return response.content !== undefined;
        const mediaTypes = Object.values(response.content ?? {});
        return mediaTypes.length === 0 || mediaTypes.some((media) => media.schema === undefined);
      });
    });
    expect(lacking.map(({ key }) => key)).toEqual([]);
  });
});
