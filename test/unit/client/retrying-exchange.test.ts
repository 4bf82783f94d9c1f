/**
 * The client's retry rules against a scripted local HTTP server: what is
 * retried (no answer, 408/421/429/502/503/504), how long it waits (full
 * jitter, Retry-After), when it stops (the deadline), and that a write keeps
 * its Idempotency-Key across attempts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FetchTransport } from '../../../services/client/fetch-transport.js';
import { PinbaseError } from '../../../services/client/pinbase-error.js';
import { BACKOFF_CAP_MS, backoffDelay, nextDelay, parseRetryAfter } from '../../../services/client/retry-policy.js';
import { RetryingExchange } from '../../../services/client/retrying-exchange.js';

interface Seen {
  at: number;
  method: string;
  key: string | undefined;
  authorization: string | undefined;
}

type Step = (req: IncomingMessage, res: ServerResponse) => void;

const problem = (status: number, code: string, headers: Record<string, string> = {}): Step => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  res.end(JSON.stringify({ type: `urn:pinbase:problem:${code}`, title: code, status, code, retryable: [408, 421, 429, 502, 503, 504].includes(status), detail: `${code} here` }));
};
const ok: Step = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'x-pinbase-seq': '7' });
  res.end('{"ok":true}');
};
const hang: Step = () => undefined;
const drop: Step = (req) => req.socket.destroy();

describe('RetryingExchange', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise((done) => server!.close(done));
    server = undefined;
  });

  /** A server answering request i with steps[i] (the last step again beyond), recording each request. */
  async function scripted(steps: Step[]): Promise<{ url: string; seen: Seen[] }> {
    const seen: Seen[] = [];
    server = createServer((req, res) => {
      seen.push({ at: Date.now(), method: req.method!, key: req.headers['idempotency-key'] as string | undefined, authorization: req.headers.authorization });
      req.resume();
      req.on('end', () => steps[Math.min(seen.length - 1, steps.length - 1)]!(req, res));
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  const exchangeFor = (url: string, deadlineMs = 5000, attemptTimeoutMs = 2000) =>
    new RetryingExchange(() => new FetchTransport(url), { deadlineMs, attemptTimeoutMs, token: (userId) => `token-of-${userId}` });
  const write = (exchange: RetryingExchange) =>
    exchange.call('alice', 'PUT', '/api/users/alice/notes/n1', { headers: { 'idempotency-key': 'k-1', 'content-type': 'application/json' }, body: '{}' });

  it('waits the Retry-After of a 503 and sends the write again with the same Idempotency-Key and a fresh token', async () => {
    const { url, seen } = await scripted([problem(503, 'overloaded', { 'retry-after': '1' }), ok]);
    const response = await write(exchangeFor(url));
    expect(response.status).toBe(200);
    expect(seen.map((s) => s.key)).toEqual(['k-1', 'k-1']);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer token-of-alice', 'Bearer token-of-alice']);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('retries 429, 502, 504, 408 and 421 (the latter without waiting its Retry-After) until an answer', async () => {
    const { url, seen } = await scripted([
      problem(421, 'misdirected_request', { 'retry-after': '1' }),
      problem(429, 'too_many_requests'),
      problem(502, 'upstream_failed'),
      problem(504, 'upstream_timeout'),
      problem(408, 'request_timeout'),
      ok,
    ]);
    expect((await write(exchangeFor(url))).status).toBe(200);
    expect(seen).toHaveLength(6);
    expect(new Set(seen.map((s) => s.key))).toEqual(new Set(['k-1']));
    // The first retry's backoff is below 50 ms: far below the 421's Retry-After of 1 s.
    expect(seen[1]!.at - seen[0]!.at).toBeLessThan(500);
  });

  it('throws any other 4xx and 500 at once as a typed PinbaseError, after exactly one request', async () => {
    for (const [status, code] of [[400, 'invalid_json'], [404, 'object_not_found'], [409, 'transaction_conflict'], [412, 'precondition_failed'], [500, 'internal_error']] as const) {
      const { url, seen } = await scripted([problem(status, code), ok]);
      const error = await write(exchangeFor(url)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PinbaseError);
      expect(error).toMatchObject({ status, code, title: code, detail: `${code} here`, retryable: false });
      expect(seen).toHaveLength(1);
      server!.closeAllConnections();
      await new Promise((done) => server!.close(done));
      server = undefined;
    }
  });

  it('retries a request whose connection broke, and one that timed out, with the same key', async () => {
    const { url, seen } = await scripted([drop, hang, ok]);
    const started = Date.now();
    const response = await write(exchangeFor(url, 5000, 300));
    expect(response.status).toBe(200);
    expect(seen.map((s) => s.key)).toEqual(['k-1', 'k-1', 'k-1']);
    // The third attempt waited out the second's 300 ms timeout. Measured from the call, not from the
    // server's receipt of the second (which a busy machine may deliver late, after its timer started).
    expect(seen[2]!.at - started).toBeGreaterThanOrEqual(290);
  });

  it('stops at the deadline with the last error rather than wait a Retry-After beyond it', async () => {
    const { url, seen } = await scripted([problem(503, 'shutting_down', { 'retry-after': '1' })]);
    const started = Date.now();
    const error = await write(exchangeFor(url, 400)).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: 'shutting_down', retryable: true });
    expect(seen).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('gives up on an unreachable server by the deadline with a retryable network_error', async () => {
    const { url } = await scripted([ok]);
    server!.close();
    const started = Date.now();
    const error = await exchangeFor(url, 600).call('alice', 'GET', '/api/users/alice/notes/x').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, code: 'network_error', retryable: true });
    // It stops once the next backoff (full jitter: random) would pass the deadline, so only the upper bound is fixed.
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('rejects with the signal\'s reason when the caller aborts, without retrying further', async () => {
    // The caller aborts once the server holds the request (not after a fixed time: on a busy machine
    // the request may not have arrived by then), and the server never answers it.
    const controller = new AbortController();
    const { url, seen } = await scripted([() => controller.abort(new Error('user left'))]);
    const error = await exchangeFor(url).call('alice', 'GET', '/x', { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toEqual(new Error('user left'));
    await new Promise((done) => setTimeout(done, 300));
    expect(seen).toHaveLength(1);
  });
});

describe('retry timing', () => {
  it('draws full-jitter backoff below min(2 s, 50 ms·2^attempt)', () => {
    expect(backoffDelay(0, () => 0.999)).toBe(49);
    expect(backoffDelay(3, () => 0.5)).toBe(200);
    expect(backoffDelay(30, () => 0.999)).toBe(BACKOFF_CAP_MS - 2);
    expect(backoffDelay(5, () => 0)).toBe(0);
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores what it cannot read', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 10:00:02 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('waits the longer of Retry-After and the backoff, and not at all past the deadline', () => {
    expect(nextDelay(0, 1000, 0, 5000, () => 0.5)).toBe(1000);
    expect(nextDelay(10, 100, 0, 5000, () => 0.5)).toBe(1000);
    expect(nextDelay(0, 1000, 4500, 5000, () => 0)).toBeUndefined();
  });
});
