import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'undici';
import type { FeedServerMessage } from '../../services/http/change-socket-protocol.js';

/** A change-feed WebSocket for tests (undici's WebSocket, as a Node client would use). */
export interface FeedSocket {
  socket: WebSocket;
  /** Every message received, parsed, in order. */
  messages: FeedServerMessage[];
  /** Resolves once at least `count` messages arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<FeedServerMessage[]>;
  /** Resolves when the socket opened (rejects if it closed first). */
  opened: Promise<void>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens `url` (http:// or ws://) as a WebSocket, with `headers` on the upgrade request. */
export function openFeedSocket(url: string, headers: Record<string, string> = {}): FeedSocket {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
  const messages: FeedServerMessage[] = [];
  const waiters = new Set<() => void>();
  socket.addEventListener('message', (event) => {
    messages.push(JSON.parse(String(event.data)) as FeedServerMessage);
    for (const wake of [...waiters]) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.addEventListener('close', (event) => {
      resolve({ code: event.code, reason: event.reason });
      for (const wake of [...waiters]) wake();
    });
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve());
    void closed.then(({ code }) => reject(new Error(`closed before it opened (${code})`)));
  });
  opened.catch(() => undefined);
  const waitFor = (count: number, timeoutMs = 5000) =>
    new Promise<FeedServerMessage[]>((resolve, reject) => {
      const check = () => {
        if (messages.length >= count) {
          cleanup();
          resolve(messages.slice(0, count));
        } else if (socket.readyState === WebSocket.CLOSED) {
          cleanup();
          reject(new Error(`closed after ${messages.length} of ${count} messages: ${JSON.stringify(messages)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${messages.length} of ${count} messages after ${timeoutMs} ms: ${JSON.stringify(messages)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return { socket, messages, waitFor, opened, closed };
}

/** The answer to a WebSocket upgrade request when it is not upgraded (status 101 and no body when it is). */
export interface UpgradeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Sends an upgrade request (`GET` unless `method` says otherwise, Upgrade:
 * websocket with a valid key unless `headers` override them) and returns the
 * plain HTTP answer, or status 101 (the socket is closed at once).
 */
export function upgradeRequest(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    req.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' });
    });
    req.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A WebSocket client that only does the handshake: the connection after the
 * 101, for tests of peers that misbehave (never read, never answer a ping).
 * `rest` is what arrived after the 101's headers.
 */
export function rawUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ socket: Socket; rest: Buffer }> {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const lines = [
      `GET ${pathname}${search} HTTP/1.1`,
      `host: ${hostname}:${port}`,
      'connection: Upgrade',
      'upgrade: websocket',
      'sec-websocket-version: 13',
      'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = received.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`not upgraded: ${head.split('\r\n')[0]}`));
      } else {
        resolve({ socket, rest: received.subarray(end + 4) });
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}
