/**
 * WebSocket upgrades at the router (upgrade-path.ts), in front of fake
 * workers that serve real `ws` upgrades: proxied to the owner with the data
 * path's headers and signed hints, counted against the stream caps,
 * refused with problem+json before any upgrade, and cut when their worker
 * leaves the topology.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { RouterOptions } from '../../../router/router-options.js';
import { CUT_GRACE_MS } from '../../../router/upgrade-path.js';
import { NO_AUTH } from '../../../services/auth/auth-options.js';
import { Placement } from '../../../services/topology/placement.js';
import { FakeCluster } from './fake-cluster.js';

let cluster: FakeCluster | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await cluster?.stop();
  cluster = undefined;
});

async function start(workers: number, overrides: Partial<RouterOptions> = {}): Promise<FakeCluster> {
  cluster = await FakeCluster.start(workers, overrides);
  return cluster;
}

type Outcome =
  | { kind: 'open'; ws: WebSocket; first: Promise<string> }
  | { kind: 'refused'; status: number; headers: Record<string, string | string[] | undefined>; problem: { code?: string; status?: number } };

/** Opens a WebSocket through the router; a refusal's status and problem document are read instead. */
function openSocket(c: FakeCluster, path: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const ws = new WebSocket(`${c.url.replace('http', 'ws')}${path}`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers, problem: JSON.parse(body) as { code?: string } }));
    });
    ws.once('upgrade', () => {
      sockets.push(ws);
      const first = new Promise<string>((resolveMessage) => ws.once('message', (data: Buffer) => resolveMessage(data.toString())));
      resolve({ kind: 'open', ws, first });
    });
    ws.once('error', (error) => reject(error));
  });
}

async function opened(c: FakeCluster, path: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; first: Promise<string> }> {
  const outcome = await openSocket(c, path, headers);
  if (outcome.kind !== 'open') throw new Error(`refused: ${outcome.status} ${JSON.stringify(outcome.problem)}`);
  return outcome;
}

async function refused(c: FakeCluster, path: string, headers: Record<string, string> = {}): Promise<Extract<Outcome, { kind: 'refused' }>> {
  const outcome = await openSocket(c, path, headers);
  if (outcome.kind !== 'refused') throw new Error('the upgrade was proxied');
  return outcome;
}

/** The headers of a WebSocket handshake, for raw requests. */
const HANDSHAKE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/**
 * Sends `head` as raw bytes and reads the answer until the router closes
 * the connection (or, with `firstChunk`, its first bytes, then closes it).
 */
async function rawExchange(url: string, head: string, firstChunk = false): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.write(head);
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    if (firstChunk) socket.destroy();
  });
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return text;
}

async function metric(c: FakeCluster, line: string): Promise<number> {
  const text = await (await request(`${c.url}/metrics`)).body.text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.split(' ').pop());
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await sleep(10);
  expect(check()).toBe(true);
}

describe('WebSocket upgrades through the router', () => {
  it('proxies an upgrade of _changes to the owner, with the data path\'s headers, and pipes messages both ways', async () => {
    const c = await start(2);
    const user = c.userOwnedBy('w2');
    const { ws, first } = await opened(c, `/api/users/${user}/_changes?since=3`, { 'x-pinbase-down': 'w1', 'x-forwarded-for': '203.0.113.9' });
    expect(JSON.parse(await first)).toEqual({ type: 'ready', worker: 'w2' });
    const received = c.worker('w2').received.at(-1)!;
    expect(received.url).toBe(`/api/users/${user}/_changes?since=3`);
    expect(received.headers.upgrade).toBe('websocket');
    expect(received.headers['sec-websocket-key']).toBeTruthy();
    expect(received.headers['x-pinbase-down']).toBeUndefined();
    expect(received.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(received.headers['x-forwarded-host']).toBe(new URL(c.url).host);
    expect(c.worker('w1').received.filter((r) => r.url.includes('_changes'))).toHaveLength(0);

    const message = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
    c.worker('w2').publishWs('{"type":"change","seq":4}');
    expect(await message).toBe('{"type":"change","seq":4}');
    const [workerSide] = [...c.worker('w2').sockets];
    const echoed = new Promise<string>((resolve) => workerSide!.once('message', (data: Buffer) => resolve(data.toString())));
    ws.send('{"type":"auth","token":"t"}');
    expect(await echoed).toBe('{"type":"auth","token":"t"}');
    expect(await metric(c, 'pinbase_router_upgrades_total{outcome="proxied"}')).toBe(1);
    expect(await metric(c, 'pinbase_router_open_streams{worker="w2"}')).toBe(1);

    ws.close(1000);
    await until(() => c.worker('w2').sockets.size === 0);
    await until(() => c.router.dataPath.stats().workers.find((w) => w.id === 'w2')!.streams === 0);
  });

  it('signs the down list over the request target exactly as the client sent it, so the next-ranked worker believes it', async () => {
    const c = await start(2, { auth: { ...NO_AUTH, clusterSecret: 'cluster-secret-for-the-fake-cluster-0123456789' } });
    const user = c.userOwnedBy('w1');
    expect((await request(`${c.url}/_router/workers/w1/drain?force=true`, { method: 'POST' })).statusCode).toBe(200);
    // A quote in the query is one character URL re-serialisation would percent-encode (the ws client does: raw bytes here).
    const target = `/api/users/${user}/_changes?since=0&tag='x'`;
    const answer = await rawExchange(c.url, `GET ${target} HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`, true);
    expect(answer).toMatch(/^HTTP\/1\.1 101 /);
    expect(c.worker('w2').received.at(-1)!.url).toBe(target);
    expect(c.worker('w2').hintVerdicts.at(-1)).toBe('valid');
  });

  it('refuses any other upgrade with 400 upgrade_not_supported problem+json, before any worker sees it', async () => {
    const c = await start(1);
    for (const path of ['/api/users/alice/notes/n1', '/api/users/alice/_changes/x', '/_router/status', '/']) {
      const outcome = await refused(c, path);
      expect([outcome.status, outcome.problem.code]).toEqual([400, 'upgrade_not_supported']);
      expect(outcome.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const h2c = await rawExchange(
      c.url,
      `GET /api/users/alice/_changes HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n`,
    );
    expect(h2c).toMatch(/^HTTP\/1\.1 400 /);
    expect(h2c).toContain('"code":"upgrade_not_supported"');
    const post = await rawExchange(c.url, `POST /api/users/alice/_changes HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n`);
    expect(post).toContain('"code":"upgrade_not_supported"');
    expect((await refused(c, '/api/users/a%2e%2e/_changes')).problem.code).toBe('invalid_user_id');
    // Raw: a WebSocket client would resolve the dot segment itself.
    const dots = await rawExchange(c.url, `GET /api/users/alice/%2e%2e/_changes HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`);
    expect(dots).toContain('"code":"invalid_path"');
    expect(c.worker('w1').received.filter((r) => r.url !== '/readyz')).toHaveLength(0);
    expect(await metric(c, 'pinbase_router_upgrades_total{outcome="refused"}')).toBe(8);
  });

  it('counts a WebSocket against the per-user stream cap with SSE streams, and refuses beyond it with 429 and no upgrade', async () => {
    const c = await start(1, { maxStreamsPerUser: 2 });
    const controller = new AbortController();
    const sse = await request(`${c.url}/api/users/alice/_changes`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    sse.body.on('error', () => {});
    expect(sse.statusCode).toBe(200);
    const { ws } = await opened(c, '/api/users/alice/_changes');
    const over = await refused(c, '/api/users/alice/_changes');
    expect([over.status, over.problem.code, over.headers['retry-after']]).toEqual([429, 'too_many_streams', '1']);
    expect(c.worker('w1').sockets.size).toBe(1);
    expect((await opened(c, '/api/users/bob/_changes')).ws.readyState).toBe(WebSocket.OPEN);
    // A closed WebSocket gives its slot back.
    ws.close();
    await until(() => c.worker('w1').sockets.size === 1);
    await until(() => c.router.dataPath.stats().workers[0]!.streams === 2);
    expect((await opened(c, '/api/users/alice/_changes')).ws.readyState).toBe(WebSocket.OPEN);
    controller.abort();
  });

  it('answers 503 overloaded beyond the per-worker stream cap and 429 beyond the per-client one', async () => {
    const c = await start(1, { maxStreamsPerWorker: 2, maxStreamsPerClient: 3 });
    await opened(c, '/api/users/a/_changes');
    await opened(c, '/api/users/b/_changes');
    const full = await refused(c, '/api/users/c/_changes');
    expect([full.status, full.problem.code]).toEqual([503, 'overloaded']);
    await c.stop();
    const d = await start(1, { maxStreamsPerClient: 2 });
    await opened(d, '/api/users/a/_changes');
    await opened(d, '/api/users/b/_changes');
    expect((await refused(d, '/api/users/c/_changes')).problem.code).toBe('too_many_streams');
  });

  it('passes on a worker\'s refusal to upgrade (its problem+json) as it is, without upgrading', async () => {
    const c = await start(1);
    // The worker believes in a newer topology where w9 owns the user: it answers 421.
    c.worker('w1').topologyIds = ['w1', 'w9'];
    let user = '';
    for (let i = 0; user === ''; i++) if (new Placement(['w1', 'w9']).owner(`user${i}`) === 'w9') user = `user${i}`;
    const outcome = await refused(c, `/api/users/${user}/_changes`);
    expect([outcome.status, outcome.problem.code, outcome.headers['x-pinbase-worker']]).toEqual([421, 'misdirected_request', 'w1']);
    // A plain answer: no Upgrade header, and a Connection header that does not announce one.
    expect(outcome.headers.upgrade).toBeUndefined();
    expect(String(outcome.headers.connection ?? '')).not.toMatch(/upgrade/i);
    expect(await metric(c, 'pinbase_router_upgrades_total{outcome="answered"}')).toBe(1);
  });

  it('answers 504 when the worker does not answer the handshake in time', async () => {
    const c = await start(1, { headersTimeoutMs: 300 });
    c.worker('w1').stallUpgrades = true;
    const started = Date.now();
    const stalled = await refused(c, '/api/users/alice/_changes');
    expect([stalled.status, stalled.problem.code]).toEqual([504, 'upstream_timeout']);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await metric(c, 'pinbase_router_upgrades_total{outcome="failed"}')).toBe(1);
  });

  it('keeps an upgraded socket open past the client request and keep-alive timeouts, until a side closes it', async () => {
    const c = await start(1, { clientRequestTimeoutMs: 1000, clientHeadersTimeoutMs: 500, keepAliveTimeoutMs: 300 });
    const { ws, first } = await opened(c, '/api/users/alice/_changes');
    await first;
    await sleep(2500);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const message = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
    c.worker('w1').publishWs('still here');
    expect(await message).toBe('still here');
  });

  it('answers 503 no_worker_available, not a hang, when the owner cannot be reached', async () => {
    const c = await start(1);
    await c.worker('w1').kill();
    const outcome = await refused(c, '/api/users/alice/_changes');
    expect([outcome.status, outcome.problem.code]).toEqual([503, 'no_worker_available']);
  });

  it(`closes a proxied socket ${CUT_GRACE_MS} ms after its worker leaves the topology, and frees its stream slot`, async () => {
    const c = await start(2);
    const user = c.userOwnedBy('w2');
    const { ws } = await opened(c, `/api/users/${user}/_changes`);
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    const w2 = c.workers.splice(1, 1)[0]!;
    c.version++;
    c.writeTopology();
    const removedAt = Date.now();
    await closed;
    const after = Date.now() - removedAt;
    expect(after).toBeGreaterThanOrEqual(CUT_GRACE_MS - 200);
    // The router notices the new topology at its next poll of the file; on a loaded CI machine that took 2 s.
    expect(after).toBeLessThan(CUT_GRACE_MS + 5000);
    await until(() => w2.sockets.size === 0);
    expect(await metric(c, 'pinbase_router_upgrades_total{outcome="cut"}')).toBe(1);
    await w2.kill();
    // The user's next upgrade goes to its new owner.
    expect(JSON.parse(await (await opened(c, `/api/users/${user}/_changes`)).first)).toEqual({ type: 'ready', worker: 'w1' });
  });
});
