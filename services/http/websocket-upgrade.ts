import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { rawProblemResponse } from '../problem/client-error.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { FEED_CLOSE, MAX_CLIENT_MESSAGE_BYTES } from './change-socket-protocol.js';
import { sendProblem } from './problem-reply.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This GET route also serves `Upgrade: websocket` (its wsHandler); every other route refuses upgrades. */
    acceptsWebSocket?: boolean;
  }
}

/** How long a closing WebSocket may take to answer the close frame before its connection is cut. */
export const CLOSE_GRACE_MS = 1000;

export interface UpgradeMetrics {
  onResponse(method: string, route: string, status: number, seconds: number): void;
}

/** Whether `request` is a WebSocket upgrade of a route that serves one (GET with config.acceptsWebSocket). */
export function isWebSocketRequest(request: FastifyRequest): boolean {
  return (
    request.ws &&
    request.method === 'GET' &&
    request.headers.upgrade?.toLowerCase() === 'websocket' &&
    request.routeOptions.config.acceptsWebSocket === true
  );
}

/**
 * Closes `socket` with `code` and a short `reason`, and cuts the connection
 * if the peer has not answered the close frame within CLOSE_GRACE_MS (ws
 * would wait 30 s): a closing socket holds nothing for longer than that.
 */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === socket.CLOSED) return;
  socket.close(code, reason);
  const cut = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
  socket.once('close', () => clearTimeout(cut));
}

/**
 * Registers @fastify/websocket on the worker app, after the request-slot
 * hook (a refused upgrade is counted like any answered request):
 * - an upgrade of any route but those with config.acceptsWebSocket is
 *   answered 400 upgrade_not_supported (problem+json, never upgraded);
 * - a handshake ws cannot accept (bad Sec-WebSocket-Key/-Version, ...) is
 *   answered 400 invalid_header as problem+json;
 * - an accepted WebSocket never finishes an HTTP response, so it is counted
 *   (metrics) as answered 101 when its connection closes;
 * - shutdown (app.close()) closes every WebSocket with 1001.
 * A client message may be at most MAX_CLIENT_MESSAGE_BYTES (1009 beyond);
 * no compression (permessage-deflate costs memory per socket).
 */
export async function registerWebSockets(app: FastifyInstance, workerId: string, metrics: UpgradeMetrics): Promise<void> {
  const upgraded = new WeakSet<IncomingMessage>();
  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: true },
    preClose(this: FastifyInstance, done: () => void) {
      for (const client of this.websocketServer.clients) closeSocket(client, FEED_CLOSE.shuttingDown, 'worker shutting down');
      done();
    },
  });
  app.websocketServer.on('connection', (_socket: WebSocket, request: IncomingMessage) => upgraded.add(request));
  app.websocketServer.on('wsClientError', (error: Error, socket: Duplex) => {
    if (!socket.writable) socket.destroy();
    else socket.end(rawProblemResponse('invalid_header', `WebSocket handshake refused: ${error.message}`, { 'x-pinbase-worker': workerId }));
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!request.ws) return;
    // An upgrade request's connection is closed after any plain HTTP answer (@fastify/websocket destroys it): say so.
    reply.header('connection', 'close');
    if (!isWebSocketRequest(request)) {
      const detail = 'only GET /api/users/:userId/_changes upgrades, and only to a WebSocket (Upgrade: websocket)';
      return sendProblem(reply, new PinbaseError('upgrade_not_supported', detail), request.url);
    }
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return; // answered over HTTP: onResponse counted it
      const status = upgraded.has(request.raw) ? 101 : 400;
      metrics.onResponse(request.method, request.routeOptions.url ?? 'unmatched', status, reply.elapsedTime / 1000);
    });
  });
}
