import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

const SHARED = { removeAdditional: false, discriminator: true } as const;

/**
 * The schema compiler of the worker's routes: fastify's own Ajv setup, in
 * two instances. Path parameters, query strings and headers arrive as
 * strings, so their schemas coerce ("12" → 12; a lone value → an array).
 * JSON bodies are checked as sent: a string where the schema says integer,
 * or an object where it says array, is a 400, not a guess.
 */
export function buildValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const factory = AjvCompiler();
  const coercing = factory({}, { customOptions: { ...SHARED, coerceTypes: 'array' } });
  const exact = factory({}, { customOptions: { ...SHARED, coerceTypes: false } });
  return (route) => (route.httpPart === 'body' ? exact : coercing)(route);
}
