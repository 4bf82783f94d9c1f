import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { clientErrorResponse, rawProblemResponse } from '../problem/client-error.js';
import { PinbaseError } from '../problem/pinbase-error.js';

/**
 * How long the worker waits for a client. Each bounds how long a slow or
 * silent client holds a socket (and, until its request is complete, a
 * request slot): headers within headersTimeoutMs, the whole request (body
 * included) within requestTimeoutMs, else 408 request_timeout; an idle
 * keep-alive connection is closed after keepAliveTimeoutMs, any socket with
 * no traffic at all after connectionTimeoutMs (a live stream sends a
 * heartbeat more often).
 */
export interface EdgeTimeouts {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionTimeoutMs: number;
}

/**
 * The node:http server options for `timeouts`. Node checks the request and
 * headers timeouts every connectionsCheckingInterval (30 s by default, which
 * would let a slow client hold on for up to twice its timeout): here a
 * quarter of the shorter timeout, at most 1 s. Node's own answer to a
 * request without Host (a bare 400) is turned off: the onRequest hook
 * answers it (assertOneHost).
 */
export function edgeServerOptions(timeouts: EdgeTimeouts): Partial<FastifyServerOptions> {
  const checkEvery = Math.max(10, Math.min(1000, Math.floor(Math.min(timeouts.requestTimeoutMs, timeouts.headersTimeoutMs) / 4)));
  return {
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    connectionTimeout: timeouts.connectionTimeoutMs,
    http: {
      requestTimeout: timeouts.requestTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      connectionsCheckingInterval: checkEvery,
      requireHostHeader: false,
    },
  } as Partial<FastifyServerOptions>;
}

/**
 * Answers what Node's HTTP parser rejects, and its timeouts, with
 * problem+json (400 invalid_request / invalid_header, 408 request_timeout,
 * 431 headers_too_large) carrying X-Pinbase-Worker, then closes the
 * connection. When a response to an earlier request on the connection is
 * still being produced (pipelining), the problem follows it; an error in a
 * request whose body is still arriving (a bad chunk, a timeout) is that
 * request's own, answered at once unless its response has started. A reset connection, or one whose response is already being sent,
 * is just closed.
 */
export function clientErrorHandler(workerId: string): (this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket) => void {
  return function (this: FastifyInstance, error, socket) {
    // The code only: the error's raw bytes may carry a token (services/auth/token-redaction.ts).
    this.log.debug({ code: error.code }, 'client error');
    if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = () => {
      if (!socket.destroyed && socket.writable) socket.end(clientErrorResponse(error, { 'x-pinbase-worker': workerId }));
    };
    const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!pending || pending.writableFinished) return answer();
    if (pending.headersSent) {
      socket.destroy();
    } else if (!pending.req.complete) {
      // The error is the pending request's own (its body is what failed or is late).
      answer();
    } else {
      pending.once('finish', answer);
      pending.once('close', () => {
        if (!pending.writableFinished) socket.destroy();
      });
    }
  };
}

/**
 * Throws invalid_header unless the request names exactly one Host (an
 * HTTP/1.0 request may name none): two Hosts are how a request smuggles a
 * second authority past a proxy that reads the other one.
 */
export function assertOneHost(request: FastifyRequest): void {
  const raw = request.raw.rawHeaders;
  let hosts = 0;
  let authorizations = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 13 && name.toLowerCase() === 'authorization') authorizations++;
  }
  if (hosts > 1) throw new PinbaseError('invalid_header', 'the request has more than one Host header');
  // Node keeps the first of several Authorization headers; a proxy in front may have looked at another.
  if (authorizations > 1) throw new PinbaseError('invalid_header', 'the request has more than one Authorization header');
  if (hosts === 0 && request.raw.httpVersion !== '1.0') throw new PinbaseError('invalid_header', 'the request has no Host header');
}

/**
 * Serves a request whose Expect header names something other than
 * 100-continue as if it had none (RFC 9110 lets a server ignore an
 * expectation it does not know), instead of Node's bare 417.
 */
export function ignoreUnknownExpectations(server: Server): void {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => server.emit('request', request, response));
}

/** Answers CONNECT (Node would close the connection without a word) with 400 problem+json: a worker is not a forward proxy. */
export function refuseConnect(server: Server, workerId: string): void {
  server.on('connect', (_request: IncomingMessage, socket: Socket) => {
    if (!socket.writable) socket.destroy();
    else socket.end(rawProblemResponse('invalid_request', 'CONNECT is not supported: this is not a forward proxy', { 'x-pinbase-worker': workerId }));
  });
}
