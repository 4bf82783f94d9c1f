import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { PartitionStore } from '../../partition/partition-store.js';

/** What the API routes need from the worker. */
export interface RouteContext {
  store: Pick<PartitionStore, 'read' | 'write' | 'subscribe' | 'portability'>;
  heartbeatMs: number;
}

/**
 * Types a route's params, query string, headers and body from its `as const`
 * JSON schemas (schemas.ts), as validated (defaults applied). Replies stay
 * untyped: handlers send JSON they write themselves, and problems go through
 * sendProblem, so the 4xx/5xx response schemas only document the API.
 */
export interface SchemaTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends JSONSchema ? FromSchema<this['schema']> : unknown;
}

/** The app the routes are declared on, with request types from their schemas. */
export type ApiInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  SchemaTypeProvider
>;

export const USER_BASE = '/api/users/:userId';
