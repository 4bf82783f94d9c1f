import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { PinbaseError } from '../problem/pinbase-error.js';
import type { IdempotencyClaim } from '../partition/write-request.js';

/** Idempotency-Key values: 1 to 255 visible ASCII characters (also the schema's pattern). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * The Idempotency-Key claim of a write, or undefined without the header. The
 * request hash covers the method, the path and query, the conditional
 * headers and the exact body bytes: a retry must repeat all of them. The
 * content type is left out: the bytes alone tell the two kinds of PATCH
 * apart (a JSON Patch is an array, a merge patch an object).
 */
export function idempotencyClaim(request: FastifyRequest): IdempotencyClaim | undefined {
  const key = request.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new PinbaseError('invalid_idempotency_key', 'Idempotency-Key is 1 to 255 visible ASCII characters');
  }
  const hash = createHash('sha256');
  for (const part of [
    request.method,
    request.url,
    request.headers['if-match'] ?? '',
    request.headers['if-none-match'] ?? '',
    request.rawBody ?? '',
  ]) {
    hash.update(String(part)).update('\0');
  }
  return { key, requestHash: hash.digest('base64url') };
}
