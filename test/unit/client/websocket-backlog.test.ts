/**
 * The WebSocket connection of the change feed keeps a bounded backlog for a
 * consumer slower than the server: the WHATWG WebSocket has no read
 * back-pressure, so beyond maxBuffered messages the connection is closed
 * (the feed then resumes after the last commit delivered).
 */
import { describe, expect, it } from 'vitest';
import type { FeedMessage, FeedTarget } from '../../../services/client/feed-message.js';
import { openChangeFeed } from '../../../services/client/change-feed.js';
import { webSocketConnection, type WebSocketLike } from '../../../services/client/websocket-connection.js';

/** A socket whose server side the test drives: open, send messages, close. */
class ScriptedSocket implements WebSocketLike {
  static last: ScriptedSocket | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closedWith: { code?: number; reason?: string } | undefined;

  constructor(readonly url: string) {
    ScriptedSocket.last = this;
  }

  send(): void {}

  close(code?: number, reason?: string): void {
    this.closedWith ??= { code, reason };
  }

  serverSends(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

function target(maxBuffered: number): FeedTarget {
  return { baseUrl: 'http://127.0.0.1:1', userId: 'u', since: 0, cursor: undefined, includeData: false, token: undefined, signal: new AbortController().signal, maxBuffered };
}

async function opened(connection: AsyncGenerator<FeedMessage>): Promise<{ socket: ScriptedSocket; first: Promise<IteratorResult<FeedMessage>> }> {
  const first = connection.next();
  await Promise.resolve();
  const socket = ScriptedSocket.last!;
  socket.onopen?.({});
  return { socket, first };
}

describe('the change feed over a WebSocket, for a slow consumer', () => {
  it('keeps at most maxBuffered commits waiting, then closes the connection and delivers what waits', async () => {
    const connection = webSocketConnection(target(10), ScriptedSocket, true);
    const { socket, first } = await opened(connection);
    socket.serverSends({ type: 'ready', seq: 0 });
    expect((await first).value).toEqual({ kind: 'ready', seq: 0 });
    // The consumer is busy: 100 commits arrive before it asks for the next.
    for (let seq = 1; seq <= 100; seq++) socket.serverSends({ type: 'change', seq, changes: [] });
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'client behind' });
    const delivered: number[] = [];
    for await (const message of connection) if (message.kind === 'change') delivered.push(message.event.seq);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('keeps the connection while the consumer keeps up', async () => {
    const connection = webSocketConnection(target(2), ScriptedSocket, true);
    const { socket, first } = await opened(connection);
    socket.serverSends({ type: 'ready', seq: 0 });
    await first;
    for (let seq = 1; seq <= 50; seq++) {
      socket.serverSends({ type: 'change', seq, changes: [] });
      expect((await connection.next()).value).toMatchObject({ kind: 'change', event: { seq } });
    }
    expect(socket.closedWith).toBeUndefined();
    await connection.return(undefined);
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'client done' });
  });

  it('bounds the characters waiting too, but always takes one message however large', async () => {
    const connection = webSocketConnection(target(1000), ScriptedSocket, true);
    const { socket, first } = await opened(connection);
    socket.serverSends({ type: 'ready', seq: 0 });
    await first;
    const big = 'x'.repeat(9 * 1024 * 1024);
    socket.serverSends({ type: 'change', seq: 1, changes: [{ seq: 1, collection: 'c', id: 'a', deleted: false, data: { big } }] });
    expect(socket.closedWith).toBeUndefined();
    socket.serverSends({ type: 'change', seq: 2, changes: [{ seq: 2, collection: 'c', id: 'b', deleted: false, data: { big } }] });
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'client behind' });
    const delivered: number[] = [];
    for await (const message of connection) if (message.kind === 'change') delivered.push(message.event.seq);
    expect(delivered).toEqual([1]);
  });

  it('refuses a maxBuffered that is not a positive integer, before connecting', async () => {
    let connected = false;
    const ctx = { baseUrl: 'http://127.0.0.1:1', token: undefined, fetch, deadlineMs: 1000, webSocket: async () => ((connected = true), undefined) };
    for (const maxBuffered of [0, -1, 1.5, Number.NaN]) {
      await expect(openChangeFeed(ctx, 'u', { maxBuffered }).next()).rejects.toThrow(/maxBuffered must be a positive integer/);
    }
    expect(connected).toBe(false);
  });
});
