import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { redactAccessToken } from '../auth/token-redaction.js';
import { retryAfterSeconds, type ErrorCode } from '../problem/error-table.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import { PROBLEM_CONTENT_TYPE, problemDocument } from '../problem/problem-document.js';

/**
 * Sends `error` as application/problem+json, with the Retry-After of its
 * code (retryable codes only). The one way a fastify app of Pinbase (the
 * worker's, the router's admin endpoints) writes a problem.
 */
export function sendProblem(reply: FastifyReply, error: PinbaseError, instance?: string): FastifyReply {
  const retryAfter = retryAfterSeconds(error.code);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  if (error.seq !== undefined) reply.header('x-pinbase-seq', String(error.seq));
  return reply
    .code(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemDocument(error.code, error.detail, instance && redactAccessToken(instance), error.extensions)));
}

/** Which problem code a schema validation failure of each field is. */
const FIELD_CODES: Record<string, ErrorCode> = {
  userId: 'invalid_user_id',
  collection: 'invalid_collection',
  id: 'invalid_object_id',
  at: 'invalid_at',
  since: 'invalid_since',
  limit: 'invalid_limit',
  cursor: 'invalid_cursor',
  filter: 'invalid_filter',
  order: 'invalid_order',
  fields: 'invalid_fields',
  before: 'invalid_cursor',
  'idempotency-key': 'invalid_idempotency_key',
  'last-event-id': 'invalid_since',
  name: 'invalid_index',
};

/**
 * fastify's errors (node_modules/fastify/lib/errors.js) a request can raise
 * (those with a status below 500 there), each as the problem a client gets.
 * Every other FST_ERR_ code is a programming or start-up error and becomes
 * internal_error. Errors node:http raises before fastify sees a request
 * (parse errors, timeouts) are answered by http-edge.ts.
 */
export const FASTIFY_CODES: Record<string, ErrorCode> = {
  // The body: its size, its media type, its length header (the worker parses JSON itself).
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_header',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: 'unsupported_media_type',
  FST_ERR_ROUTE_MISSING_CONTENT: 'invalid_body',
  // The path: bad percent-encoding, an over-long parameter, no route.
  FST_ERR_BAD_URL: 'invalid_path',
  FST_ERR_INVALID_URL: 'invalid_path',
  FST_ERR_MAX_PARAM_LENGTH: 'invalid_path',
  FST_ERR_NOT_FOUND: 'route_not_found',
  // Schema validation (details are mapped by field above; this is the fallback).
  FST_ERR_VALIDATION: 'invalid_request',
  // A route's handlerTimeout (none is set; a retry may succeed).
  FST_ERR_HANDLER_TIMEOUT: 'overloaded',
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The problem code for a body that fails this route's schema (default invalid_body). */
    bodyErrorCode?: ErrorCode;
  }
}

/** Turns anything thrown in a request into a PinbaseError a client can act on. */
export function toPinbaseError(error: unknown, request: FastifyRequest): PinbaseError {
  if (error instanceof PinbaseError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation && fastifyError.validation.length > 0) {
    const first = fastifyError.validation[0]!;
    const field =
      first.instancePath.split('/')[1] ?? (first.params as { missingProperty?: string }).missingProperty ?? '';
    const code =
      fastifyError.validationContext === 'body'
        ? (request.routeOptions.config.bodyErrorCode ?? 'invalid_body')
        : (FIELD_CODES[field] ?? 'invalid_request');
    return new PinbaseError(code, `${fastifyError.validationContext ?? 'request'}${first.instancePath} ${first.message ?? 'is invalid'}`);
  }
  const mapped = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (mapped) return new PinbaseError(mapped, fastifyError.message);
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return new PinbaseError('invalid_request', fastifyError.message);
  return new PinbaseError('internal_error', undefined, { cause: error });
}

/** Every error and every unknown route answers application/problem+json. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const problem = toPinbaseError(error, request);
    if (problem.status >= 500 && problem.code !== 'io_error') {
      request.log.error({ err: problem.cause ?? error, code: problem.code }, 'request failed');
    }
    return sendProblem(reply, problem, request.url);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new PinbaseError('route_not_found', `no route for ${request.method} ${redactAccessToken(request.url)}`), request.url),
  );
}
