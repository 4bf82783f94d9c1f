import { isUtf8 } from 'node:buffer';
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
 * `invalid_json` for malformed JSON; then `invalid_body` for what I-JSON
 * (RFC 7493) rules out because it cannot be stored and read back as sent:
 * a number beyond the range of a double (JSON.parse makes it Infinity,
 * which would be stored as null) and an unpaired surrogate escape (not a
 * Unicode string).
 */
export function parseJsonBody(text: string, limits: JsonStructureLimits = DOCUMENT_STRUCTURE): unknown {
  scanJsonStructure(text, limits);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PinbaseError('invalid_json', (error as Error).message);
  }
  // Only text with a surrogate escape or a very long number or exponent can hold either: the walk is paid for by those alone.
  if (MAY_LEAVE_I_JSON.test(text)) assertIJson(value);
  return value;
}

const MAY_LEAVE_I_JSON = /\\u[dD][89a-fA-F]|\d{300}|[eE][+-]?\d{3}/;

/** In Unicode mode a surrogate pair is one code point: only an unpaired surrogate matches. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/** Throws `invalid_body` for a non-finite number or a string with an unpaired surrogate anywhere in `value`. */
function assertIJson(value: unknown): void {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) throw new PinbaseError('invalid_body', 'a number is beyond the range of a double (RFC 7493 §2.2)');
    } else if (typeof current === 'string') {
      if (UNPAIRED_SURROGATE.test(current)) throw new PinbaseError('invalid_body', 'a string holds an unpaired surrogate (RFC 7493 §2.1)');
    } else if (Array.isArray(current)) {
      for (const item of current) pending.push(item);
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) {
        pending.push(key, item);
      }
    }
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
      const value = parseJsonBody(text, request.routeOptions.config.bodyStructure);
      const refusal = topLevelRefusal(request, value);
      if (refusal === undefined) done(null, value);
      else done(refusal);
    } catch (error) {
      done(error as Error);
    }
  };
  app.addContentTypeParser(['application/json', 'application/merge-patch+json', JSON_PATCH_MEDIA_TYPE], { parseAs: 'buffer' }, parse);
}
