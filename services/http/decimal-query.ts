import type { FastifyRequest } from 'fastify';
import { PinbaseError } from '../problem/pinbase-error.js';
import { fieldErrorCode } from './problem-reply.js';

const DECIMAL = /^[0-9]+$/;

interface QuerySchema {
  properties?: Record<string, { type?: unknown }>;
}

/**
 * Throws a 400 problem (the field's code, e.g. invalid_at) for an integer
 * query parameter that is not plain decimal digits. The schemas declare
 * these parameters as integers, and ajv's type coercion would otherwise take
 * anything JavaScript's Number() takes: "0x1", "1e3", " 1", "+1", "1.0".
 * Run before validation, when the query still holds the raw strings.
 */
export function rejectNonDecimalIntegers(request: FastifyRequest): void {
  const properties = (request.routeOptions.schema?.querystring as QuerySchema | undefined)?.properties;
  if (properties === undefined) return;
  const query = request.query as Record<string, unknown>;
  for (const name in query) {
    const value = query[name];
    if (typeof value !== 'string' || DECIMAL.test(value) || properties[name]?.type !== 'integer') continue;
    throw new PinbaseError(fieldErrorCode(name), `querystring/${name} must be a non-negative decimal integer`);
  }
}
