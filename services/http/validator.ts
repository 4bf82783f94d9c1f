import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

const SHARED = { removeAdditional: false, discriminator: true } as const;
const DECIMAL = /^[0-9]+$/;

type Validate = ReturnType<FastifySchemaCompiler<FastifySchema>>;

/**
 * The schema compiler of the worker's routes: fastify's own Ajv setup, in
 * two instances. Path parameters, query strings and headers arrive as
 * strings, so their schemas coerce ("12" → 12; a lone value → an array),
 * except that an integer query parameter must be plain decimal digits: Ajv
 * would also take anything Number() takes ("0x1", "1e3", " 1", "+1", "1.0").
 * JSON bodies are checked as sent: a string where the schema says integer,
 * or an object where it says array, is a 400, not a guess.
 */
export function buildValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const factory = AjvCompiler();
  const coercing = factory({}, { customOptions: { ...SHARED, coerceTypes: 'array' } });
  const exact = factory({}, { customOptions: { ...SHARED, coerceTypes: false } });
  return (route) => {
    if (route.httpPart === 'body') return exact(route);
    const validate = coercing(route);
    return route.httpPart === 'querystring' ? decimalIntegersFirst(validate, integerProperties(route.schema)) : validate;
  };
}

/** The names of a query schema's integer properties, found once when the route is compiled. */
function integerProperties(schema: unknown): string[] {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  return Object.keys(properties).filter((name) => properties[name]!.type === 'integer');
}

/**
 * `validate`, after refusing a raw value of one of `names` that is not
 * decimal digits, with an error shaped like Ajv's (so the field's problem
 * code applies, e.g. invalid_at).
 */
function decimalIntegersFirst(validate: Validate, names: string[]): Validate {
  if (names.length === 0) return validate;
  const check: Validate = (data: Record<string, unknown> | null) => {
    for (const name of names) {
      const value = data?.[name];
      if (typeof value === 'string' && !DECIMAL.test(value)) {
        check.errors = [{ keyword: 'pattern', instancePath: `/${name}`, schemaPath: `#/properties/${name}`, params: {}, message: 'must be a non-negative decimal integer' }];
        return false;
      }
    }
    const valid = validate(data) as boolean;
    check.errors = validate.errors;
    return valid;
  };
  return check;
}
