import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonStructureLimits } from '../partition/json-structure.js';
import { parseJsonText } from '../partition/json-text.js';
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

/** Charsets a JSON body may declare: JSON exchanged between systems is UTF-8 (RFC 8259 §8.1). */
const UTF8_CHARSET = /^\s*"?utf-8"?\s*$/i;

/** Why the body's media type parameters or content coding are refused (415), or undefined. */
function unsupportedEncoding(request: FastifyRequest): string | undefined {
  const coding = request.headers['content-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') return `content coding "${coding}" is not supported: send the body uncompressed`;
  const contentType = request.headers['content-type'] ?? '';
  for (const parameter of contentType.split(';').slice(1)) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() === 'charset' && !UTF8_CHARSET.test(value)) return `charset ${value.trim()} is not supported: JSON bodies are UTF-8`;
  }
  return undefined;
}

/** The media type of a JSON Patch (RFC 6902): taken by PATCH of an object only. */
export const JSON_PATCH_MEDIA_TYPE = 'application/json-patch+json';

/** What PATCH of an object takes: a merge patch as either of the first two, or a JSON Patch. */
export const PATCH_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/merge-patch+json', 'application/json', JSON_PATCH_MEDIA_TYPE]);

/** The Accept-Patch header (RFC 5789 §3.1): on object reads, and on every answer to PATCH (a 415 included). */
export const ACCEPT_PATCH = `application/merge-patch+json, ${JSON_PATCH_MEDIA_TYPE}`;

/**
 * The request body's value, or why it is refused: a JSON Patch body must
 * be an array and is taken by PATCH only (415 elsewhere); every other
 * JSON body is an object (the route's body error code otherwise, as its
 * schema would say).
 */
function topLevelRefusal(request: FastifyRequest, value: unknown): PinbaseError | undefined {
  if (request.mediaType === JSON_PATCH_MEDIA_TYPE) {
    if (request.method !== 'PATCH') return new PinbaseError('unsupported_media_type', `${JSON_PATCH_MEDIA_TYPE} is taken by PATCH of an object only`);
    return Array.isArray(value) ? undefined : new PinbaseError('invalid_patch', 'a JSON Patch is an array of operations (RFC 6902)');
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return undefined;
  return new PinbaseError(request.routeOptions.config.bodyErrorCode ?? 'invalid_body', `the body is a JSON object (only ${JSON_PATCH_MEDIA_TYPE} takes an array)`);
}

/**
 * Accepts `application/json` (and `application/merge-patch+json` and
 * `application/json-patch+json` for PATCH) bodies only; anything else is
 * 415 `unsupported_media_type`, a body over `bodyLimit` is 413
 * `body_too_large` (both raised by fastify itself). The body must be
 * UTF-8 (a declared charset other than utf-8, or a content coding, is 415;
 * bytes that are not UTF-8 are 400 `invalid_json`: never stored with
 * replacement characters). A JSON Patch body is an array, every other
 * body an object (see topLevelRefusal).
 */
export function registerJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = (request: FastifyRequest, body: string | Buffer, done: (error: Error | null, value?: unknown) => void) => {
    const refusal = unsupportedEncoding(request);
    if (refusal !== undefined) {
      done(new PinbaseError('unsupported_media_type', refusal));
      return;
    }
    if (typeof body !== 'string' && !isUtf8(body)) {
      done(new PinbaseError('invalid_json', 'the request body is not UTF-8'));
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    request.rawBody = text;
    if (text.length === 0) {
      done(new PinbaseError('invalid_json', 'the request body is empty'));
      return;
    }
    try {
      const value = parseJsonText(text, request.routeOptions.config.bodyStructure);
      const refusal = topLevelRefusal(request, value);
      if (refusal === undefined) done(null, value);
      else done(refusal);
    } catch (error) {
      done(error as Error);
    }
  };
  app.addContentTypeParser(['application/json', 'application/merge-patch+json', JSON_PATCH_MEDIA_TYPE], { parseAs: 'buffer' }, parse);
}
