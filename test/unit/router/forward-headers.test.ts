import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, upgradeRequestHeaders, upstreamRequestHeaders, type RequestFacts } from '../../../router/forward-headers.js';

function facts(): RequestFacts {
  return { contentLength: -1, chunked: false, hasIdempotencyKey: false, wantsEventStream: false, hosts: 0 };
}

function asMap(flat: string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) map.set(flat[i]!.toLowerCase(), [...(map.get(flat[i]!.toLowerCase()) ?? []), flat[i + 1]!]);
  return map;
}

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop headers and every client-sent X-Pinbase-* header', () => {
    const raw = [
      'Host', 'example.test', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'TE', 'trailers',
      'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket', 'Proxy-Authorization', 'x', 'Expect', '100-continue',
      'X-Pinbase-Down', 'w1,w2', 'x-pinbase-worker', 'w9', 'Content-Length', '12', 'Content-Type', 'application/json',
    ];
    const f = facts();
    const headers = asMap(upstreamRequestHeaders(raw, '10.0.0.9', f));
    for (const name of ['host', 'connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'expect', 'x-pinbase-down', 'x-pinbase-worker', 'content-length']) {
      expect(headers.has(name), name).toBe(false);
    }
    expect(headers.get('content-type')).toEqual(['application/json']);
    expect(f.contentLength).toBe(12);
    expect(f.chunked).toBe(true);
  });

  it('sets X-Forwarded-For/Proto/Host, appending to a client X-Forwarded-For', () => {
    const raw = ['Host', 'pinbase.test:8080', 'X-Forwarded-For', '1.2.3.4', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil'];
    const headers = asMap(upstreamRequestHeaders(raw, '127.0.0.1', facts()));
    expect(headers.get('x-forwarded-for')).toEqual(['1.2.3.4, 127.0.0.1']);
    expect(headers.get('x-forwarded-proto')).toEqual(['http']);
    expect(headers.get('x-forwarded-host')).toEqual(['pinbase.test:8080']);
  });

  it('drops the headers that Connection names as hop-by-hop', () => {
    const raw = ['Connection', 'keep-alive, X-Secret', 'X-Secret', '1', 'X-Kept', '2'];
    const headers = asMap(upstreamRequestHeaders(raw, '127.0.0.1', facts()));
    expect(headers.has('x-secret')).toBe(false);
    expect(headers.get('x-kept')).toEqual(['2']);
  });

  it('drops an Idempotency-Key that Connection names before deciding the request may be re-sent', () => {
    const f = facts();
    const headers = asMap(upstreamRequestHeaders(['Host', 'h', 'Connection', 'idempotency-key', 'Idempotency-Key', 'k1'], '127.0.0.1', f));
    expect(headers.has('idempotency-key')).toBe(false);
    expect(f.hasIdempotencyKey).toBe(false);
    const later = facts();
    upstreamRequestHeaders(['Idempotency-Key', 'k1', 'Connection', 'keep-alive', 'connection', 'Idempotency-Key'], '127.0.0.1', later);
    expect(later.hasIdempotencyKey).toBe(false);
  });

  it('drops an Accept that Connection names before deciding the request is a stream', () => {
    const f = facts();
    upstreamRequestHeaders(['Accept', 'text/event-stream', 'Connection', 'close, Accept'], '127.0.0.1', f);
    expect(f.wantsEventStream).toBe(false);
  });

  it('adds its own forwarding headers after dropping the ones Connection names', () => {
    const raw = ['Host', 'pinbase.test', 'Connection', 'X-Forwarded-For, x-forwarded-host, X-Forwarded-Proto', 'X-Forwarded-For', '6.6.6.6'];
    const headers = asMap(upstreamRequestHeaders(raw, '10.1.2.3', facts()));
    expect(headers.get('x-forwarded-for')).toEqual(['10.1.2.3']);
    expect(headers.get('x-forwarded-proto')).toEqual(['http']);
    expect(headers.get('x-forwarded-host')).toEqual(['pinbase.test']);
  });

  it('keeps framing and Host facts whatever Connection names', () => {
    const f = facts();
    const headers = asMap(upstreamRequestHeaders(['Host', 'h', 'Content-Length', '3', 'Connection', 'content-length, host'], '127.0.0.1', f));
    expect(f.contentLength).toBe(3);
    expect(f.hosts).toBe(1);
    expect(headers.get('x-forwarded-host')).toEqual(['h']);
  });

  it('counts Host headers', () => {
    const f = facts();
    upstreamRequestHeaders(['Host', 'a', 'host', 'b'], '127.0.0.1', f);
    expect(f.hosts).toBe(2);
    upstreamRequestHeaders([], '127.0.0.1', f);
    expect(f.hosts).toBe(0);
  });

  it('notes an Idempotency-Key and an SSE Accept, and keeps them', () => {
    const f = facts();
    const headers = asMap(upstreamRequestHeaders(['Idempotency-Key', 'k1', 'Accept', 'text/event-stream'], '127.0.0.1', f));
    expect(f.hasIdempotencyKey).toBe(true);
    expect(f.wantsEventStream).toBe(true);
    expect(headers.get('idempotency-key')).toEqual(['k1']);
  });

  it('writes every fact each time, so one facts object can serve request after request', () => {
    const f = facts();
    upstreamRequestHeaders(['Host', 'h', 'Content-Length', '5', 'Idempotency-Key', 'k1', 'Accept', 'text/event-stream', 'Transfer-Encoding', 'chunked'], '127.0.0.1', f);
    upstreamRequestHeaders(['Accept', 'application/json'], '127.0.0.1', f);
    expect(f).toEqual(facts());
  });
});

describe('clientResponseHeaders', () => {
  it('keeps end-to-end headers, drops hop-by-hop ones and notes an event stream', () => {
    const raw = ['content-type', 'text/event-stream', 'x-pinbase-worker', 'w1', 'connection', 'keep-alive', 'keep-alive', 'timeout=72', 'transfer-encoding', 'chunked', 'etag', '"3"'].map((s) => Buffer.from(s));
    const f = { isEventStream: false };
    expect(clientResponseHeaders(raw, f)).toEqual(['content-type', 'text/event-stream', 'x-pinbase-worker', 'w1', 'etag', '"3"']);
    expect(f.isEventStream).toBe(true);
    clientResponseHeaders([Buffer.from('content-type'), Buffer.from('application/json')], f);
    expect(f.isEventStream).toBe(false);
  });
});

describe('upgradeRequestHeaders', () => {
  it('keeps the WebSocket handshake, drops other hop-by-hop and client X-Pinbase-* headers, and joins duplicates', () => {
    const raw = [
      'Host', 'example.test', 'Connection', 'Upgrade, X-Secret', 'Upgrade', 'WebSocket', 'X-Secret', 's',
      'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version', '13', 'Sec-WebSocket-Protocol', 'a, b',
      'Authorization', 'Bearer t', 'X-Pinbase-Hint', 'forged', 'Cookie', 'a=1', 'Cookie', 'b=2', 'X-Forwarded-For', '203.0.113.1',
    ];
    const f = facts();
    const headers = upgradeRequestHeaders(raw, '10.0.0.9', f);
    expect({ ...headers }).toEqual({
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'a, b',
      authorization: 'Bearer t',
      cookie: 'a=1; b=2',
      'x-forwarded-for': '203.0.113.1, 10.0.0.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'example.test',
      connection: 'Upgrade',
      upgrade: 'websocket',
    });
    expect(f.hosts).toBe(1);
  });
});
