import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { FEED_CLOSE } from '../../../services/http/change-socket-protocol.js';
import { SOCKET_BUFFER_BYTES } from '../../../services/http/routes/change-socket.js';
import { PinbaseError } from '../../../services/problem/pinbase-error.js';
import { WebSocket } from 'undici';
import { openSse } from '../../support/sse-client.js';
import { openFeedSocket, rawUpgrade, upgradeRequest, type UpgradeAnswer } from '../../support/ws-client.js';
import { jsonRequest, startHttpFixture, type FixtureOptions, type HttpFixture } from './http-harness.js';
import { hs256Verifier } from '../../support/hs256-verifier.js';

const SECRET = generateSecret();
const tokens = () =>
  hs256Verifier(SECRET);
const tokenFor = (userId: string, scopes: ('read' | 'service')[] = []) => signUserToken(SECRET, { userId, scopes, ttlSeconds: 600 });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let fx: HttpFixture | undefined;
let base = '';
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function start(options: FixtureOptions = {}): Promise<HttpFixture> {
  fx = await startHttpFixture({ tokens: tokens(), ...options });
  base = await fx.app.listen({ host: '127.0.0.1', port: 0 });
  return fx;
}

async function put(f: HttpFixture, user: string, id: string, data: unknown, token?: string): Promise<number> {
  const request = jsonRequest('PUT', `/api/users/${user}/notes/${id}`, data);
  const response = await f.app.inject({ ...request, headers: { ...request.headers, ...(token === undefined ? {} : bearer(token)) } });
  expect(response.statusCode).toBeLessThan(300);
  return Number(response.headers['x-pinbase-seq']);
}

function expectProblemAnswer(answer: UpgradeAnswer, code: string, status: number): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(JSON.parse(answer.body)).toMatchObject({ code, status });
}

describe('the change feed over a WebSocket', () => {
  it('authenticated by its header: sends ready with the latest seq, then one change message per commit after since', async () => {
    const f = await start();
    const alice = await tokenFor('alice');
    await put(f, 'alice', 'a', { v: 1 }, alice);
    await put(f, 'alice', 'b', { v: 1 }, alice);
    const feed = openFeedSocket(`${base}/api/users/alice/_changes?since=1&includeData=true`, bearer(alice));
    expect((await feed.waitFor(2))).toEqual([
      { type: 'ready', seq: 2 },
      { type: 'change', seq: 2, changes: [{ seq: 2, collection: 'notes', id: 'b', deleted: false, data: { v: 1 } }] },
    ]);
    await put(f, 'alice', 'a', { v: 2 }, alice);
    expect((await feed.waitFor(3))[2]).toEqual({
      type: 'change',
      seq: 3,
      changes: [{ seq: 3, collection: 'notes', id: 'a', deleted: false, data: { v: 2 } }],
    });
    feed.socket.close();
    await feed.closed;
    await vi.waitFor(() => expect(f.store.subscriberCount).toBe(0));
  });

  it('without since, starts at the latest commit; resumed with since = the last seq seen, misses nothing', async () => {
    const f = await start();
    const alice = await tokenFor('alice');
    await put(f, 'alice', 'a', { v: 1 }, alice);
    const first = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(alice));
    expect(await first.waitFor(1)).toEqual([{ type: 'ready', seq: 1 }]);
    await put(f, 'alice', 'b', { v: 1 }, alice);
    await first.waitFor(2);
    first.socket.close();
    await first.closed;
    await put(f, 'alice', 'c', { v: 1 }, alice);
    await put(f, 'alice', 'd', { v: 1 }, alice);
    const resumed = openFeedSocket(`${base}/api/users/alice/_changes?since=2`, bearer(alice));
    const messages = await resumed.waitFor(3);
    expect(messages.map((m) => [m.type, 'seq' in m ? m.seq : undefined])).toEqual([['ready', 4], ['change', 3], ['change', 4]]);
    resumed.socket.close();
  });

  it('authenticated by its first message: sends nothing before it, then ready and the changes', async () => {
    const f = await start();
    const alice = await tokenFor('alice', ['read']);
    await put(f, 'alice', 'a', { v: 1 }, await tokenFor('alice'));
    const feed = openFeedSocket(`${base}/api/users/alice/_changes?since=0`);
    await feed.opened;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(feed.messages).toEqual([]);
    expect(f.store.subscriberCount).toBe(0);
    feed.socket.send(JSON.stringify({ type: 'auth', token: alice }));
    expect((await feed.waitFor(2)).map((m) => m.type)).toEqual(['ready', 'change']);
    feed.socket.close();
  });

  it('never sends a byte of the feed to a token for another user: 403 before the upgrade, 4403 after an auth message', async () => {
    const f = await start();
    await put(f, 'alice', 'a', { secret: 1 }, await tokenFor('alice'));
    const mallory = await tokenFor('mallory');
    const refused = await upgradeRequest(`${base}/api/users/alice/_changes?since=0`, bearer(mallory));
    expectProblemAnswer(refused, 'forbidden', 403);

    const feed = openFeedSocket(`${base}/api/users/alice/_changes?since=0&includeData=true`);
    await feed.opened;
    feed.socket.send(JSON.stringify({ type: 'auth', token: mallory }));
    expect(await feed.closed).toEqual({ code: FEED_CLOSE.forbidden, reason: 'forbidden' });
    expect(feed.messages).toEqual([expect.objectContaining({ type: 'error', code: 'forbidden', status: 403 })]);
    expect(JSON.stringify(feed.messages)).not.toContain('secret');
  });

  it('closes with 4401 for a token that does not verify and 4400 for anything but one auth message', async () => {
    await start();
    const bad = openFeedSocket(`${base}/api/users/alice/_changes`);
    await bad.opened;
    bad.socket.send(JSON.stringify({ type: 'auth', token: 'not.a.jwt' }));
    expect((await bad.closed).code).toBe(FEED_CLOSE.unauthorized);
    expect(bad.messages).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_token' })]);

    for (const message of ['hello', '{"type":"subscribe"}', '{"type":"auth","token":42}', '[]']) {
      const feed = openFeedSocket(`${base}/api/users/alice/_changes`);
      await feed.opened;
      feed.socket.send(message);
      expect((await feed.closed).code).toBe(FEED_CLOSE.badMessage);
      expect(feed.messages).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_request' })]);
    }

    const alice = await tokenFor('alice');
    const chatty = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(alice));
    await chatty.waitFor(1);
    chatty.socket.send(JSON.stringify({ type: 'auth', token: alice }));
    chatty.socket.send(JSON.stringify({ type: 'auth', token: alice }));
    expect((await chatty.closed).code).toBe(FEED_CLOSE.badMessage);
  });

  it('closes with 4408 when no auth message arrives in time', async () => {
    const f = await start({ socketAuthTimeoutMs: 200 });
    const feed = openFeedSocket(`${base}/api/users/alice/_changes`);
    expect((await feed.closed).code).toBe(FEED_CLOSE.authTimeout);
    expect(feed.messages).toEqual([expect.objectContaining({ type: 'error', code: 'missing_token' })]);
    await vi.waitFor(() => expect(f.store.subscriberCount).toBe(0));
  });

  it('does not take the token from ?access_token= (URLs get logged): 400 before the upgrade', async () => {
    await start();
    const alice = await tokenFor('alice');
    const answer = await upgradeRequest(`${base}/api/users/alice/_changes?access_token=${alice}`, { accept: 'text/event-stream' });
    expectProblemAnswer(answer, 'invalid_request', 400);
    expect(answer.body).not.toContain(alice);
  });

  it('answers what can be decided before the upgrade as plain HTTP problem+json: bad user id, since beyond the latest commit, a bad handshake', async () => {
    const f = await start();
    const alice = await tokenFor('alice');
    await put(f, 'alice', 'a', { v: 1 }, alice);
    // Without a header: the token hook lets it through to the schema (with one, a token for `alice` is refused 403 first).
    expectProblemAnswer(await upgradeRequest(`${base}/api/users/al%20ice/_changes`), 'invalid_user_id', 400);
    expectProblemAnswer(await upgradeRequest(`${base}/api/users/alice/_changes?since=2`, bearer(alice)), 'invalid_since', 400);
    expectProblemAnswer(await upgradeRequest(`${base}/api/users/alice/_changes`, { ...bearer(alice), 'sec-websocket-key': 'short' }), 'invalid_header', 400);
    expectProblemAnswer(await upgradeRequest(`${base}/api/users/alice/_changes`, { ...bearer(alice), 'sec-websocket-version': '7' }), 'invalid_header', 400);
    expect(f.app.websocketServer.clients.size).toBe(0);
    expect(f.store.subscriberCount).toBe(0);
  });

  it('is checked for ownership before the upgrade: 421 misdirected_request', async () => {
    await start({
      ownership: {
        assertOwner: (userId) => {
          if (userId === 'elsewhere') throw new PinbaseError('misdirected_request', 'user elsewhere is owned by w2');
          return [];
        },
        current: { version: 1, workers: [] },
        topologyHeader: '1',
      },
    });
    const answer = await upgradeRequest(`${base}/api/users/elsewhere/_changes`, bearer(await tokenFor('elsewhere')));
    expectProblemAnswer(answer, 'misdirected_request', 421);
    expect(answer.headers['x-pinbase-worker']).toBe('w-test');
  });

  it('refuses an upgrade on any other route, and any upgrade but websocket, with 400 upgrade_not_supported', async () => {
    await start();
    const alice = bearer(await tokenFor('alice'));
    expectProblemAnswer(await upgradeRequest(`${base}/api/users/alice/notes/a`, alice), 'upgrade_not_supported', 400);
    expectProblemAnswer(await upgradeRequest(`${base}/healthz`), 'upgrade_not_supported', 400);
    expectProblemAnswer(await upgradeRequest(`${base}/no/such/route`), 'upgrade_not_supported', 400);
    expectProblemAnswer(await upgradeRequest(`${base}/api/users/alice/_changes`, { ...alice, upgrade: 'h2c' }), 'upgrade_not_supported', 400);
    const head = await upgradeRequest(`${base}/api/users/alice/_changes`, alice, 'HEAD');
    expect([head.status, head.headers['content-type']]).toEqual([400, 'application/problem+json; charset=utf-8']);
  });
});

describe('change-feed WebSockets and the stream caps', () => {
  it('take a stream slot like SSE, from the same caps (429 too_many_streams before the upgrade), and give their request slot up', async () => {
    const f = await start({ maxStreamsPerUser: 2, maxInFlight: 1 });
    const alice = await tokenFor('alice');
    const first = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(alice));
    await first.waitFor(1);
    const sse = await openSse(`${base}/api/users/alice/_changes`, bearer(alice));
    const refused = await upgradeRequest(`${base}/api/users/alice/_changes`, bearer(alice));
    expectProblemAnswer(refused, 'too_many_streams', 429);
    expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    // maxInFlight 1: the sockets hold no request slot.
    await put(f, 'alice', 'a', { v: 1 }, alice);
    first.socket.close();
    await first.closed;
    await vi.waitFor(async () => expect((await upgradeRequest(`${base}/api/users/alice/_changes`, bearer(alice))).status).toBe(101));
    sse.close();
  });
});

describe('unauthenticated change-feed WebSockets', () => {
  it('take no slot of the user\'s while they wait for their auth message; over the user\'s cap after it, close with 1013', async () => {
    const f = await start({ maxStreamsPerUser: 1 });
    const alice = await tokenFor('alice');
    const anonymous = [1, 2, 3].map(() => openFeedSocket(`${base}/api/users/alice/_changes`));
    await Promise.all(anonymous.map((socket) => socket.opened));
    const owner = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(alice));
    expect(await owner.waitFor(1)).toEqual([{ type: 'ready', seq: 0 }]);
    anonymous[0]!.socket.send(JSON.stringify({ type: 'auth', token: alice }));
    expect((await anonymous[0]!.closed).code).toBe(FEED_CLOSE.tryAgainLater);
    expect(anonymous[0]!.messages).toEqual([expect.objectContaining({ type: 'error', code: 'too_many_streams', status: 429 })]);
    owner.socket.close();
    await vi.waitFor(() => expect(f.app.websocketServer.clients.size).toBe(2));
    anonymous[1]!.socket.send(JSON.stringify({ type: 'auth', token: alice }));
    expect(await anonymous[1]!.waitFor(1)).toEqual([{ type: 'ready', seq: 0 }]);
    for (const socket of anonymous) socket.socket.close();
  });
});

describe('the cost of a change-feed WebSocket', () => {
  it('a client that never reads holds at most the socket buffer bound and one message on the worker, however much is committed', async () => {
    const f = await start();
    const alice = await tokenFor('alice');
    const peer = await rawUpgrade(`${base}/api/users/alice/_changes?includeData=true`, bearer(alice));
    // 64 commits of 256 KiB: 16 MiB, well beyond what the kernel buffers of a loopback connection hold.
    const big = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 64; i++) await put(f, 'alice', `n${i}`, { big }, alice);
    const [server] = [...f.app.websocketServer.clients];
    await vi.waitFor(() => expect(server!.bufferedAmount).toBeGreaterThan(0));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The bound (64 KiB) plus the one message that crossed it: of the 16 MiB committed.
    expect(SOCKET_BUFFER_BYTES).toBe(64 * 1024);
    expect(server!.bufferedAmount).toBeLessThanOrEqual(64 * 1024 + big.length + 1024);
    peer.socket.destroy();
    await vi.waitFor(() => expect(f.store.subscriberCount).toBe(0));
  });

  it('pings every heartbeat interval; a client that answers stays, one that does not is dropped after two intervals', async () => {
    const f = await start({ heartbeatMs: 100 });
    const alice = await tokenFor('alice');
    const polite = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(alice));
    await polite.waitFor(1);
    const silent = await rawUpgrade(`${base}/api/users/alice/_changes`, bearer(alice));
    let received = silent.rest;
    silent.socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    silent.socket.resume();
    const ended = new Promise((resolve) => silent.socket.once('close', resolve));
    const startedAt = Date.now();
    await ended;
    expect(Date.now() - startedAt).toBeLessThan(2000);
    // Ping frames (FIN + opcode 0x9, empty) arrived before the drop.
    expect(received.includes(Buffer.from([0x89, 0x00]))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(polite.socket.readyState).toBe(WebSocket.OPEN);
    expect(f.store.subscriberCount).toBe(1);
    polite.socket.close();
  });
});

describe('the end of a change-feed WebSocket', () => {
  it('closes with 4421 when the user is handed over, so the client reconnects through the router', async () => {
    const f = await start();
    const feed = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(await tokenFor('alice')));
    await feed.waitFor(1);
    await f.store.release('alice');
    expect(await feed.closed).toEqual({ code: FEED_CLOSE.partitionMoved, reason: 'partition moved' });
    expect(f.store.subscriberCount).toBe(0);
  });

  it('closes with 4421 when the user is erased', async () => {
    const f = await start();
    const alice = await tokenFor('alice');
    await put(f, 'alice', 'a', { v: 1 }, alice);
    const feed = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(alice));
    await feed.waitFor(1);
    const erase = await f.app.inject({ method: 'DELETE', url: '/api/users/alice', headers: bearer(alice) });
    expect(erase.statusCode).toBeLessThan(300);
    expect(await feed.closed).toEqual({ code: FEED_CLOSE.partitionMoved, reason: 'user erased' });
  });

  it('closes with 1001 when the worker shuts down, authenticated or still waiting for its auth message', async () => {
    const f = await start();
    const running = openFeedSocket(`${base}/api/users/alice/_changes`, bearer(await tokenFor('alice')));
    const waiting = openFeedSocket(`${base}/api/users/bob/_changes`);
    await running.waitFor(1);
    await waiting.opened;
    await f.close();
    fx = undefined;
    expect((await running.closed).code).toBe(FEED_CLOSE.shuttingDown);
    expect((await waiting.closed).code).toBe(FEED_CLOSE.shuttingDown);
  });
});
