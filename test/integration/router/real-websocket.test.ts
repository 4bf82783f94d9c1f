/**
 * The WebSocket change feed through a real router in front of real workers
 * (authentication on): proxied to the owner, authenticated by the worker,
 * capped by the router, and resumed with no gap and no duplicate after the
 * user's partition moves to another worker.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { Placement } from '../../../services/topology/placement.js';
import { send } from '../../support/http-client.js';
import { RealCluster } from './real-cluster.js';

const secrets = { auth: generateSecret(), admin: generateSecret(), cluster: generateSecret() };
let cluster: RealCluster;
const open: WebSocket[] = [];
const secretsDir = mkdtempSync(join(tmpdir(), 'pinbase-real-ws-'));

beforeAll(async () => {
  const file = (name: keyof typeof secrets): string => {
    const path = join(secretsDir, name);
    writeFileSync(path, `${secrets[name]}\n`, { mode: 0o600 });
    return path;
  };
  const shared = ['--admin-token-file', file('admin'), '--cluster-secret-file', file('cluster')];
  cluster = await RealCluster.start(2, [...shared, '--max-streams-per-user', '2'], ['--auth-secret-file', file('auth'), ...shared]);
}, 60_000);
afterAll(async () => {
  for (const ws of open) ws.terminate();
  await cluster?.stop();
  rmSync(secretsDir, { recursive: true, force: true });
});

const tokenFor = (userId: string): Promise<string> => signUserToken(secrets.auth, { userId, scopes: [], ttlSeconds: 3600 });
const wsUrl = (path: string): string => `${cluster.url.replace('http', 'ws')}${path}`;

interface FeedMessage {
  type: string;
  seq: number;
}

interface Refusal {
  status: number;
  code: string | undefined;
}

/**
 * Opens the feed of `userId` through the router; resolves with the socket
 * once upgraded, or with the refusal. `onMessage` is attached at once: the
 * first messages may arrive in the same read as the handshake's answer.
 */
function connectFeed(userId: string, since: number, token: string, onMessage?: (message: FeedMessage) => void): Promise<WebSocket | Refusal> {
  const ws = new WebSocket(wsUrl(`/api/users/${userId}/_changes?since=${since}`), { headers: { authorization: `Bearer ${token}` } });
  if (onMessage !== undefined) ws.on('message', (data: Buffer) => onMessage(JSON.parse(data.toString()) as FeedMessage));
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(body) as { code?: string }).code }));
    });
    ws.once('upgrade', () => {
      open.push(ws);
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

async function put(userId: string, token: string, id: string): Promise<number> {
  const reply = await send(cluster.url, `/api/users/${userId}/notes/${id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `${userId}-${id}` },
    body: JSON.stringify({ n: id }),
  });
  expect([200, 201]).toContain(reply.status);
  return Number(reply.headers['x-pinbase-seq']);
}

/**
 * A client of the feed that reconnects through the router whenever its
 * socket closes, resuming with `since` = the last seq it received: what
 * every client of the feed is told to do.
 */
class ResumingFeed {
  readonly seqs: number[] = [];
  readonly closeCodes: number[] = [];
  private stopped = false;
  private socket: WebSocket | undefined;

  constructor(
    private readonly userId: string,
    private readonly token: string,
  ) {}

  start(): void {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
  }

  private async connect(): Promise<void> {
    while (!this.stopped) {
      const since = this.seqs.at(-1) ?? 0;
      const onMessage = (message: FeedMessage): void => {
        if (message.type === 'change') this.seqs.push(message.seq);
      };
      const outcome = await connectFeed(this.userId, since, this.token, onMessage).catch(() => undefined);
      if (outcome instanceof WebSocket) {
        this.socket = outcome;
        const code = await new Promise<number>((resolve) => outcome.once('close', (closeCode: number) => resolve(closeCode)));
        this.closeCodes.push(code);
      } else {
        await sleep(100);
      }
    }
  }
}

describe('WebSocket change feed through a real router', () => {
  it('is proxied to the owner and authenticated by it: a bad token is refused without an upgrade, a good one gets every commit', async () => {
    const user = cluster.usersOwnedBy('w2', 1, 'wsauth')[0]!;
    const refused = await connectFeed(user, 0, await tokenFor('someone-else'));
    expect(refused).toEqual({ status: 403, code: 'forbidden' });
    const invalid = await connectFeed(user, 0, 'not-a-jwt');
    expect(invalid).toMatchObject({ status: 401 });

    const token = await tokenFor(user);
    const messages: FeedMessage[] = [];
    const ws = (await connectFeed(user, 0, token, (message) => messages.push(message))) as WebSocket;
    const seq = await put(user, token, 'a');
    for (let i = 0; i < 200 && !messages.some((m) => m.type === 'change' && m.seq === seq); i++) await sleep(20);
    expect(messages[0]).toMatchObject({ type: 'ready' });
    expect(messages.filter((m) => m.type === 'change').map((m) => m.seq)).toEqual([seq]);
    ws.close();
  });

  it('refuses a user\'s third socket with 429 too_many_streams (cap 2), before any worker sees it', async () => {
    const user = 'wscapped';
    const token = await tokenFor(user);
    expect(await connectFeed(user, 0, token)).toBeInstanceOf(WebSocket);
    expect(await connectFeed(user, 0, token)).toBeInstanceOf(WebSocket);
    expect(await connectFeed(user, 0, token)).toEqual({ status: 429, code: 'too_many_streams' });
    for (const ws of open.splice(0)) ws.terminate();
  });

  it('moves a drained worker\'s feed: closed with 4421, and a reconnect through the router resumes on the next owner with no gap and no duplicate', async () => {
    const user = cluster.usersOwnedBy('w1', 1, 'wsdrain')[0]!;
    const token = await tokenFor(user);
    const written = [await put(user, token, 'before')];
    const feed = new ResumingFeed(user, token);
    feed.start();
    for (let i = 0; i < 100 && feed.seqs.length === 0; i++) await sleep(20);
    const headers = { authorization: `Bearer ${secrets.admin}` };
    expect((await send(cluster.url, '/_router/workers/w1/drain', { method: 'POST', headers })).status).toBe(200);
    for (let i = 0; i < 10; i++) written.push(await put(user, token, `d${i}`));
    for (let i = 0; i < 300 && feed.seqs.at(-1) !== written.at(-1); i++) await sleep(20);
    feed.stop();
    expect((await send(cluster.url, '/_router/workers/w1/undrain', { method: 'POST', headers })).status).toBe(200);
    await cluster.waitRoutable(2);
    // The new owner took the partition at the first write: the old one closed the feed with 4421.
    expect(feed.closeCodes[0]).toBe(4421);
    expect(feed.seqs).toEqual(written);
  }, 20_000);

  it('closes the feed with 4421 when the user moves to a new worker, and a reconnect through the router resumes with no gap and no duplicate', async () => {
    // A user that a third worker would take over.
    const ids = ['w1', 'w2', 'w3'];
    let user = '';
    for (let i = 0; user === ''; i++) if (new Placement(ids).owner(`wsmove${i}`) === 'w3') user = `wsmove${i}`;
    const token = await tokenFor(user);
    const written: number[] = [];
    written.push(await put(user, token, 'before'));
    const feed = new ResumingFeed(user, token);
    feed.start();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        written.push(await put(user, token, `n${i}`).catch(() => -1));
        await sleep(30);
      }
    })();
    await sleep(500);
    await cluster.addWorker();
    await cluster.waitRoutable(3);
    await sleep(1500);
    writing = false;
    await writer;
    const acknowledged = written.filter((seq) => seq > 0);
    for (let i = 0; i < 300 && feed.seqs.at(-1) !== Math.max(...acknowledged); i++) await sleep(20);
    feed.stop();

    expect(feed.closeCodes).toContain(4421);
    // Every commit once, in order: the resumed feed neither skips nor repeats one.
    expect(feed.seqs).toEqual(Array.from({ length: feed.seqs.length }, (_, i) => i + 1));
    expect(feed.seqs.at(-1)).toBe(Math.max(...acknowledged));
  }, 30_000);
});
