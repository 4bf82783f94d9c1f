import { createRequire } from 'node:module';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FASTIFY_CODES, toPinbaseError } from '../../../services/http/problem-reply.js';
import { ERROR_TABLE } from '../../../services/problem/error-table.js';
import { sendRaw } from '../../support/http-client.js';
import { startHttpFixture, type HttpFixture } from './http-harness.js';

/** A raw HTTP/1.1 response, parsed just enough to check it. */
interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseRaw(text: string): RawResponse {
  const split = text.indexOf('\r\n\r\n');
  expect(split, `not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`).toBeGreaterThan(0);
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) };
}

/** Asserts a raw response is this worker's problem+json with `code`. */
function expectRawProblem(text: string, code: string, status: number): void {
  const response = parseRaw(text);
  expect(response.headers['content-type'], text.slice(0, 300)).toMatch(/^application\/problem\+json/);
  expect(response.headers['x-pinbase-worker']).toBe('w-test');
  expect(response.status).toBe(status);
  const problem = JSON.parse(response.body) as { code: string; status: number };
  expect({ code: problem.code, status: problem.status }).toEqual({ code, status });
}

const TIMEOUT_MS = 400;
let fx: HttpFixture;
let url: string;

beforeAll(async () => {
  fx = await startHttpFixture({ timeouts: { requestTimeoutMs: TIMEOUT_MS, headersTimeoutMs: TIMEOUT_MS } });
  url = await fx.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await fx.close();
});

describe('the worker\'s HTTP edge', () => {
  it('times out a slow request body with 408 request_timeout problem+json and writes nothing', async () => {
    const head = 'PUT /api/users/slow/c/a HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const started = Date.now();
    const text = await sendRaw(url, `${head}{"v":`, 10 * TIMEOUT_MS);
    expectRawProblem(text, 'request_timeout', 408);
    expect(Date.now() - started).toBeLessThan(5 * TIMEOUT_MS);
    expect(parseRaw(text).headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    expect((await fx.app.inject({ method: 'GET', url: '/api/users/slow/c/a' })).statusCode).toBe(404);
  });

  it('times out slow request headers with 408 request_timeout problem+json', async () => {
    const text = await sendRaw(url, 'GET /healthz HTTP/1.1\r\nHost: w\r\nX-Slow: ', 10 * TIMEOUT_MS);
    expectRawProblem(text, 'request_timeout', 408);
  });

  it('times out the slow headers of a second request on a kept-alive connection with 408 too', async () => {
    const text = await sendRaw(url, 'GET /healthz HTTP/1.1\r\nHost: w\r\n\r\nGET /healthz HTTP/1.1\r\nHost: w\r\nX-Slow: ', 10 * TIMEOUT_MS);
    expect(text.startsWith('HTTP/1.1 200')).toBe(true);
    expectRawProblem(text.slice(text.indexOf('HTTP/1.1', 1)), 'request_timeout', 408);
  });

  it('answers headers over the size limit with 431 headers_too_large problem+json', async () => {
    const text = await sendRaw(url, `GET /healthz HTTP/1.1\r\nHost: w\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectRawProblem(text, 'headers_too_large', 431);
  });

  // What Node's parser rejects, each answered 400 problem+json (the connection then closes).
  const malformed: [name: string, bytes: string, code: string][] = [
    ['an invalid method', 'G@T / HTTP/1.1\r\nHost: w\r\n\r\n', 'invalid_request'],
    ['an unknown HTTP version', 'GET / HTTP/9.9\r\nHost: w\r\n\r\n', 'invalid_request'],
    ['a lower-case method', 'get / HTTP/1.1\r\nHost: w\r\n\r\n', 'invalid_request'],
    ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: w\r\n\r\n', 'invalid_request'],
    ['a control character in the target', 'GET /a\x01 HTTP/1.1\r\nHost: w\r\n\r\n', 'invalid_request'],
    ['a header name with a space', 'GET / HTTP/1.1\r\nHost: w\r\nBad Name: x\r\n\r\n', 'invalid_header'],
    ['a header name with a colon first', 'GET / HTTP/1.1\r\nHost: w\r\n: x\r\n\r\n', 'invalid_header'],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost: w\r\nNoColon\r\n\r\n', 'invalid_header'],
    ['a bare CR in a header value', 'GET / HTTP/1.1\r\nHost: w\r\nX: a\rb\r\n\r\n', 'invalid_header'],
    ['a NUL in a header value', 'GET / HTTP/1.1\r\nHost: w\r\nX: a\x00b\r\n\r\n', 'invalid_header'],
    ['an obs-folded header', 'GET / HTTP/1.1\r\nHost: w\r\nX: a\r\n b\r\n\r\n', 'invalid_header'],
    ['a non-numeric Content-Length', 'PUT /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nContent-Length: abc\r\n\r\n', 'invalid_header'],
    ['a negative Content-Length', 'PUT /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nContent-Length: -1\r\n\r\n', 'invalid_header'],
    ['two different Content-Lengths', 'PUT /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}', 'invalid_header'],
    ['Content-Length and chunked together', 'PUT /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'invalid_header'],
    ['an unknown transfer coding', 'PUT /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: gzip\r\n\r\n', 'invalid_header'],
    ['a bad chunk size', 'PUT /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 'invalid_request'],
    ['garbage instead of a request', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 'invalid_request'],
  ];
  it.each(malformed)('answers %s with a 400 problem+json', async (_name, bytes, code) => {
    const text = await sendRaw(url, bytes);
    expectRawProblem(text, code, 400);
  });

  it('answers bytes that follow a complete write on its connection after the write\'s own response', async () => {
    const text = await sendRaw(url, 'PUT /api/users/piped/c/a HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}x');
    expect(text.startsWith('HTTP/1.1 201')).toBe(true);
    expectRawProblem(text.slice(text.indexOf('HTTP/1.1', 1)), 'invalid_request', 400);
    expect((await fx.app.inject({ method: 'GET', url: '/api/users/piped/c/a' })).statusCode).toBe(200);
  });

  it('serves a request with an unknown Expect as if it had none (not a bare 417)', async () => {
    const response = parseRaw(await sendRaw(url, 'GET /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nExpect: foo\r\nConnection: close\r\n\r\n'));
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers a duplicate Host with 400 invalid_header and closes the connection', async () => {
    const text = await sendRaw(url, 'GET /api/users/u/c/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expectRawProblem(text, 'invalid_header', 400);
    expect(parseRaw(text).headers.connection).toBe('close');
  });

  it('answers an HTTP/1.1 request without Host with 400 invalid_header; HTTP/1.0 needs none', async () => {
    expectRawProblem(await sendRaw(url, 'GET /api/users/u/c/a HTTP/1.1\r\n\r\n'), 'invalid_header', 400);
    const old = parseRaw(await sendRaw(url, 'GET /api/users/u/c/a HTTP/1.0\r\n\r\n'));
    expect(old.status).toBe(404);
    expect(JSON.parse(old.body)).toMatchObject({ code: 'object_not_found' });
  });
});

describe('fastify\'s own errors', () => {
  const require = createRequire(import.meta.url);
  const errors = require('fastify/lib/errors.js') as Record<string, unknown>;
  /** fastify's error classes a request can raise: a status below 500 (the others are programming errors). */
  const requestErrors = Object.entries(errors)
    .filter(([name, value]) => name.startsWith('FST_ERR_') && typeof value === 'function')
    .map(([name, value]) => [name, new (value as new (...args: string[]) => Error & { statusCode: number })('a', 'b', 'c')] as const)
    .filter(([name, error]) => error.statusCode < 500 && name !== 'FST_ERR_CTP_INSTANCE_ALREADY_STARTED');

  it('lists every one a request can raise', () => {
    expect(requestErrors.length).toBeGreaterThanOrEqual(12);
    expect(requestErrors.map(([name]) => name).filter((name) => !(name in FASTIFY_CODES))).toEqual([]);
  });

  it.each(requestErrors.map(([name, error]) => [name, error] as const))('maps %s to its problem code', (name, error) => {
    const problem = toPinbaseError(error, { routeOptions: { config: {} } } as never);
    expect(problem.code).toBe(FASTIFY_CODES[name]);
    expect(ERROR_TABLE[problem.code].status).toBeGreaterThanOrEqual(400);
  });

  it('answers the reachable ones as problem+json through the worker', async () => {
    const cases: [string, InjectOptions, string][] = [
      ['body too large', { method: 'PUT', url: '/api/users/u/c/a', payload: `{"x":"${'a'.repeat(2 * 1024 * 1024)}"}`, headers: { 'content-type': 'application/json' } }, 'body_too_large'],
      ['media type', { method: 'PUT', url: '/api/users/u/c/a', payload: 'x', headers: { 'content-type': 'text/plain' } }, 'unsupported_media_type'],
      ['bad percent-encoding', { method: 'GET', url: '/api/users/%E0%A4%A/c/a' }, 'invalid_path'],
      ['over-long parameter', { method: 'GET', url: `/api/users/${'u'.repeat(2000)}/c/a` }, 'invalid_path'],
      ['no route', { method: 'GET', url: '/nowhere' }, 'route_not_found'],
    ];
    for (const [name, request, code] of cases) {
      const response = await fx.app.inject(request);
      expect(response.headers['content-type'], name).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(response.body), name).toMatchObject({ code });
    }
  });

  it('answers a request that arrives while the worker closes with 503 shutting_down problem+json', async () => {
    const closing = await startHttpFixture();
    const address = new URL(await closing.app.listen({ host: '127.0.0.1', port: 0 }));
    const { connect } = await import('node:net');
    const socket = connect(Number(address.port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    // A request whose body is still arriving keeps the connection busy while close() begins...
    socket.write('PUT /api/users/u/c/a HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"v":');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = closing.app.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // ...then it completes, and a second request follows on the same connection.
    socket.write('12}GET /api/users/u/c/a HTTP/1.1\r\nHost: w\r\n\r\n');
    await ended;
    await closed;
    await closing.close();
    const second = received.slice(received.indexOf('HTTP/1.1', 1));
    expect(received.startsWith('HTTP/1.1 201')).toBe(true);
    expectRawProblem(second, 'shutting_down', 503);
  });
});
