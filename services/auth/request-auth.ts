/**
 * Who may do what on `/api/users/<id>/...`: the worker's decision for every
 * user request, taken before anything is read, written or created.
 *
 *   no token, or not `Bearer`          401 missing_token   WWW-Authenticate: Bearer realm="pinbase"
 *   a token that does not verify       401 invalid_token   ... error="invalid_token"
 *   `sub` is another user, no service  403 forbidden
 *   scope `read` on a write            403 insufficient_scope  ... error="insufficient_scope"
 *
 * Writes are every method but GET, HEAD and OPTIONS. The token comes from
 * the Authorization header; only a route that says so (the SSE change feed:
 * EventSource cannot send headers) also takes it from `?access_token=`,
 * and only for `Accept: text/event-stream` without an Authorization header,
 * never on a WebSocket upgrade. A WebSocket upgrade of the change feed
 * without an Authorization header is let through: it sends its token in its
 * first message (http/routes/change-socket.ts), and nothing before.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from '../http/problem-reply.js';
import { isWebSocketRequest } from '../http/websocket-upgrade.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { ACCESS_TOKEN_PARAM } from './token-redaction.js';
import { MAX_TOKEN_LENGTH, type TokenVerifier, type VerifiedToken } from './token-verifier.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route also takes the bearer token from `?access_token=` for SSE (see request-auth.ts). */
    acceptsQueryToken?: boolean;
  }
}

export const AUTH_REALM = 'pinbase';

/** The `?access_token=` query parameter, for the schema of a route that accepts it (acceptsQueryToken). */
export const accessTokenQueryProperty = {
  [ACCESS_TOKEN_PARAM]: {
    type: 'string',
    maxLength: MAX_TOKEN_LENGTH,
    description:
      'The bearer token, for EventSource (which cannot send headers): only with Accept: text/event-stream and no ' +
      'Authorization header. Never logged.',
  },
} as const;

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether `method` changes data (and so needs more than a `read` scope). */
export function isWrite(method: string): boolean {
  return !READ_METHODS.has(method);
}

/** The bearer token of a request: a string, absent (missing_token), or a PinbaseError for a malformed header. */
export function requestToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) return bearerToken(header);
  if (request.routeOptions.config.acceptsQueryToken !== true) return undefined;
  // Never on a WebSocket upgrade, whatever its Accept says: it sends a header or its auth message.
  if (request.ws) return undefined;
  if (request.headers.accept?.includes('text/event-stream') !== true) return undefined;
  const value = (request.query as Record<string, unknown> | undefined)?.[ACCESS_TOKEN_PARAM];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1);
 * undefined for an empty header or another scheme; invalid_token when the
 * credential is not one token68 word. Linear in the header's length (no
 * backtracking pattern: an unauthenticated client chooses this string).
 */
export function bearerToken(header: string): string | undefined {
  const trimmed = header.trim();
  const space = trimmed.search(/\s/);
  if (space === -1 || trimmed.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const credential = trimmed.slice(space).trimStart();
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(credential)) throw new PinbaseError('invalid_token', 'the bearer credential is not a single token');
  return credential;
}

/** What `token` may do on `userId` with `method`: undefined if allowed, else the 403 to answer. */
export function authorize(token: VerifiedToken, userId: string, method: string): PinbaseError | undefined {
  if (token.subject !== userId && !token.service) {
    return new PinbaseError('forbidden', 'the token is for another user');
  }
  if (token.readOnly && isWrite(method)) {
    return new PinbaseError('insufficient_scope', `the token is read-only (scope "read"); ${method} needs a read-write token`);
  }
  return undefined;
}

/** The WWW-Authenticate challenge that goes with a refusal (RFC 6750 §3), if any. */
export function challengeFor(error: PinbaseError): string | undefined {
  switch (error.code) {
    case 'missing_token':
      return `Bearer realm="${AUTH_REALM}"`;
    case 'invalid_token':
    case 'insufficient_scope':
      return `Bearer realm="${AUTH_REALM}", error="${error.code}"`;
    default:
      return undefined;
  }
}

/**
 * Requires a valid token on every route of `scope` (the `/api/users/:userId`
 * routes), as an onRequest hook: before the body is read, before the
 * ownership check, before any partition is opened. The token is never logged
 * (see token-redaction.ts) nor echoed.
 */
export function requireUserTokens(scope: FastifyInstance, verifier: TokenVerifier): void {
  // A callback hook, not an async one: a hot client's request (its token in the cache) is decided without a promise.
  scope.addHook('onRequest', (request, reply, done) => {
    // A WebSocket feed without an Authorization header authenticates by its first message (routes/change-socket.ts).
    if (request.headers.authorization === undefined && isWebSocketRequest(request)) return done();
    let token: string | undefined;
    try {
      token = requestToken(request);
    } catch (error) {
      if (!(error instanceof PinbaseError)) return done(error as Error);
      refuse(reply, request, error);
      return;
    }
    if (token === undefined) {
      refuse(reply, request, new PinbaseError('missing_token', missingTokenDetail(request)));
      return;
    }
    const cached = verifier.cached(token);
    if (cached !== undefined) return decide(request, reply, cached, done);
    verifier.verify(token).then(
      (verified) => decide(request, reply, verified, done),
      (error: unknown) => {
        if (error instanceof PinbaseError) refuse(reply, request, error);
        else done(error as Error);
      },
    );
  });
}

/** Lets the request on (done) or answers the refusal (a callback hook that replies must not call done). */
function decide(request: FastifyRequest, reply: FastifyReply, token: VerifiedToken, done: (error?: Error) => void): void {
  const { userId } = request.params as { userId: string };
  const refusal = authorize(token, userId, request.method);
  if (refusal === undefined) done();
  else refuse(reply, request, refusal);
}

function missingTokenDetail(request: FastifyRequest): string {
  if (request.routeOptions.config.acceptsQueryToken !== true) return 'send Authorization: Bearer <token>';
  return `send Authorization: Bearer <token> (or, for EventSource, ?${ACCESS_TOKEN_PARAM}=<token> with Accept: text/event-stream)`;
}

function refuse(reply: FastifyReply, request: FastifyRequest, error: PinbaseError): FastifyReply {
  const challenge = challengeFor(error);
  if (challenge !== undefined) reply.header('www-authenticate', challenge);
  return sendProblem(reply, error, request.url);
}
