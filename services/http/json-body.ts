import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PinbaseError } from '../problem/pinbase-error.js';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor']);

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body exactly as received (for the idempotency request hash). */
    rawBody?: string;
  }
}

/** Deepest nesting of objects and arrays accepted in a body. */
export const MAX_JSON_DEPTH = 100;

/**
 * Parses a JSON request body. Throws `invalid_json` for malformed JSON,
 * `forbidden_key` for a `__proto__` or `constructor` key at any depth
 * (including ones spelled with \u escapes), and `invalid_body` for nesting
 * deeper than MAX_JSON_DEPTH.
 */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PinbaseError('invalid_json', (error as Error).message);
  }
  // A text this short cannot nest too deep; then only a possible key needs the walk.
  const mayHideKey = text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');
  if (mayHideKey || text.length > 2 * MAX_JSON_DEPTH) checkStructure(value);
  return value;
}

/** Walks the parsed value without recursion (a hostile body cannot overflow the stack). */
function checkStructure(root: unknown): void {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw new PinbaseError('invalid_body', `objects and arrays may nest at most ${MAX_JSON_DEPTH} levels deep`);
    }
    if (Array.isArray(value)) {
      for (const item of value) {
        values.push(item);
        depths.push(depth + 1);
      }
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) throw new PinbaseError('forbidden_key', `key "${key}" is not allowed in a document`);
      values.push((value as Record<string, unknown>)[key]);
      depths.push(depth + 1);
    }
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
      done(null, parseJsonBody(text));
    } catch (error) {
      done(error as Error);
    }
  };
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, parse);
}
