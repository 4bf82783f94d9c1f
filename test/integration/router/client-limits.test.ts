/**
 * The router's limits on clients: connections per client address and in
 * total, and the time a client may take to send its request.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { RouterOptions } from '../../../router/router-options.js';
import { send, sendRaw } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

let cluster: FakeCluster | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await cluster?.stop();
  cluster = undefined;
});

async function start(overrides: Partial<RouterOptions>): Promise<FakeCluster> {
  cluster = await FakeCluster.start(1, overrides);
  return cluster;
}

/** A raw connection to the router that collects what it receives; `closed` resolves when the router closes it. */
async function openConnection(url: string): Promise<{ socket: Socket; text: () => string; closed: Promise<number> }> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  const openedAt = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
  return { socket, text: () => text, closed };
}

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
}

function problemOf(raw: string): { code: string } {
  expect(raw.toLowerCase()).toContain('content-type: application/problem+json');
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { code: string };
}

describe('connection caps', () => {
  it('answers a connection beyond the per-client cap with 429 too_many_connections and closes it; a freed slot is usable again', async () => {
    const c = await start({ maxConnectionsPerClient: 3 });
    const held = [await openConnection(c.url), await openConnection(c.url), await openConnection(c.url)];
    const raw = await sendRaw(c.url, 'GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\n\r\n');
    expect(statusOf(raw)).toBe(429);
    expect(raw.toLowerCase()).toContain('retry-after: 1');
    expect(raw.toLowerCase()).toContain('connection: close');
    expect(problemOf(raw)).toMatchObject({ code: 'too_many_connections' });
    expect(c.worker('w1').received).toHaveLength(0);

    held[0]!.socket.destroy();
    await held[0]!.closed;
    await sleep(20);
    expect(statusOf(await sendRaw(c.url, 'GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'))).toBe(200);
  });

  it('answers a connection beyond the total cap with 503 overloaded', async () => {
    const c = await start({ maxConnections: 2, maxConnectionsPerClient: 100 });
    await openConnection(c.url);
    await openConnection(c.url);
    const raw = await sendRaw(c.url, 'GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\n\r\n');
    expect(statusOf(raw)).toBe(503);
    expect(problemOf(raw)).toMatchObject({ code: 'overloaded' });
  });

  it('closes a refused connection that sends nothing within a second', async () => {
    const c = await start({ maxConnectionsPerClient: 1 });
    await openConnection(c.url);
    const idle = await openConnection(c.url);
    const closedAfter = await idle.closed;
    expect(closedAfter).toBeLessThan(2500);
    expect(idle.text()).toBe('');
  });
});

describe('client time limits', () => {
  it('answers headers that do not arrive in time with 408 request_timeout problem+json and closes the connection', async () => {
    const c = await start({ clientHeadersTimeoutMs: 300, clientRequestTimeoutMs: 600 });
    const slow = await openConnection(c.url);
    slow.socket.write('GET /api/users/alice/x HTTP/1.1\r\nHost: t\r\n');
    const closedAfter = await slow.closed;
    expect(closedAfter).toBeLessThan(3000);
    expect(statusOf(slow.text())).toBe(408);
    expect(problemOf(slow.text())).toMatchObject({ code: 'request_timeout' });
    expect(c.worker('w1').received).toHaveLength(0);
  });

  it('answers a body that does not arrive in time with 408 problem+json, sends nothing upstream and frees the user\'s slot', async () => {
    const c = await start({ clientHeadersTimeoutMs: 300, clientRequestTimeoutMs: 600, maxInFlightPerUser: 1 });
    const slow = await openConnection(c.url);
    slow.socket.write('PUT /api/users/alice/notes/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc');
    const closedAfter = await slow.closed;
    expect(closedAfter).toBeLessThan(3000);
    expect(statusOf(slow.text())).toBe(408);
    expect(problemOf(slow.text())).toMatchObject({ code: 'request_timeout' });
    expect(c.worker('w1').received).toHaveLength(0);
    const next = await send(c.url, '/api/users/alice/notes/1', { method: 'PUT', body: '{}' });
    expect(next.status).toBe(200);
  });
});
