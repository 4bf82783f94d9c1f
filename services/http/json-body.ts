import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DOCUMENT_STRUCTURE, scanJsonStructure, type JsonStructureLimits } from '../partition/json-structure.js';
import { PinbaseError } from '../problem/pinbase-error.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body exactly as received (for the idempotency request hash). */
    rawBody?: string;
  }
  interface FastifyContextConfig {
    /** The structure limits of this route's JSON body (default DOCUMENT_STRUCTURE). */
    bodyStructure?: JsonStructureLimits;
  }
}

/**
 * Parses a JSON request body. Its structure is checked before JSON.parse
 * builds anything (see scanJsonStructure: DOCUMENT_STRUCTURE's depth and
 * node limits bound the time parsing takes): `invalid_body` for nesting or
 * nodes beyond them, `forbidden_key` for a `__proto__` or `constructor` key
 * at any depth (including ones spelled with \u escapes); then
 * `invalid_json` for malformed JSON.
 */
export function parseJsonBody(text: string, limits: JsonStructureLimits = DOCUMENT_STRUCTURE): unknown {
  scanJsonStructure(text, limits);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PinbaseError('invalid_json', (error as Error).message);
  }
}

/**
 * Accepts `application/json` (and `application/merge-patch+json` for PATCH)
 * bodies only; anything else is 415 `unsupported_media_type`, a body over
 * `bodyLimit` is 413 `body_too_large` (both raised by fastify itself).
 */
export function registerJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = (request: FastifyRequest, body: string | Buffer, done: (error: Error | null, value?: unknown) => void) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    request.rawBody = text;
    if (text.length === 0) {
      done(new PinbaseError('invalid_json', 'the request body is empty'));
      return;
    }
    try {
      done(null, parseJsonBody(text, request.routeOptions.config.bodyStructure));
    } catch (error) {
      done(error as Error);
    }
  };
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, parse);
}
