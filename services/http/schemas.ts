import { COLLECTION_PATTERN, OBJECT_ID_PATTERN, USER_ID_PATTERN } from '../ids/id-patterns.js';
import { IDEMPOTENCY_KEY_PATTERN } from './idempotency-key.js';

/**
 * JSON Schemas of the API's parameters. They validate requests (a failure
 * is a 400 problem whose code names the field, see problem-reply.ts), type
 * the route handlers' requests (routes/route-context.ts) and document the
 * API in OpenAPI (/docs).
 */

/** A commit seq (also an object's rev). */
const seq = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

export const userParams = {
  type: 'object',
  required: ['userId'],
  properties: { userId: { type: 'string', pattern: USER_ID_PATTERN.source, description: 'The tenant: one SQLite file' } },
} as const;

export const collectionParams = {
  type: 'object',
  required: ['userId', 'collection'],
  properties: {
    ...userParams.properties,
    collection: { type: 'string', pattern: COLLECTION_PATTERN.source },
  },
} as const;

export const objectParams = {
  type: 'object',
  required: ['userId', 'collection', 'id'],
  properties: {
    ...collectionParams.properties,
    id: { type: 'string', pattern: OBJECT_ID_PATTERN.source },
  },
} as const;

export const pointerParams = {
  type: 'object',
  required: ['userId', 'collection', 'id', '*'],
  properties: {
    ...objectParams.properties,
    '*': { type: 'string', description: 'A JSON pointer inside the object, without its leading "/" (e.g. address/city)' },
  },
} as const;

export const snapshotQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { at: { ...seq, description: 'Read the partition as of this commit seq (time travel)' } },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    at: snapshotQuery.properties.at,
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', maxLength: 2048, description: 'Opaque cursor from the previous page' },
  },
} as const;

export const historyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    before: { ...seq, description: 'Only versions with rev < before (the "next" value of the previous page)' },
  },
} as const;

export const changesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { ...seq, description: 'Changes after this seq (0: from the beginning)' },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
    includeData: { type: 'boolean', default: false, description: 'Include each object\'s current data' },
  },
} as const;

export const exportQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    history: { type: 'boolean', default: false, description: 'Every retained version (tombstones included), not only the live objects' },
  },
} as const;

export const importQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    replace: { type: 'boolean', default: false, description: 'Replace the user\'s data (otherwise a user with objects is 409 tenant_not_empty)' },
  },
} as const;

export const writeHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
    'if-match': { type: 'string' },
    'if-none-match': { type: 'string' },
  },
} as const;

export const documentBody = {
  type: 'object',
  description: 'A JSON object (the document). Keys "__proto__" and "constructor" are rejected.',
} as const;

const txTarget = {
  collection: { type: 'string', pattern: COLLECTION_PATTERN.source },
  id: { type: 'string', pattern: OBJECT_ID_PATTERN.source },
} as const;
const ifRev = { ...seq, description: 'The rev the object must have (0: must not exist)' };

export const transactionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['ops'],
  properties: {
    reads: {
      type: 'array',
      maxItems: 1000,
      description: 'What the client read, at which rev (0: read as absent); any change since is a conflict',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['collection', 'id', 'rev'],
        properties: { ...txTarget, rev: seq },
      },
    },
    ops: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      items: {
        // The op picks the branch, so an error names what is wrong with
        // that op rather than with the first branch tried.
        type: 'object',
        required: ['op'],
        discriminator: { propertyName: 'op' },
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['op', 'collection', 'id', 'data'],
            properties: { op: { const: 'put' }, ...txTarget, data: documentBody, ifRev },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['op', 'collection', 'id', 'patch'],
            properties: { op: { const: 'patch' }, ...txTarget, patch: documentBody, ifRev },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['op', 'collection', 'id'],
            properties: { op: { const: 'delete' }, ...txTarget, ifRev },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['op', 'collection', 'data'],
            properties: { op: { const: 'create' }, ...txTarget, data: documentBody },
          },
        ],
      },
    },
  },
} as const;

const problemResponse = {
  description: 'An RFC 9457 problem (application/problem+json) with a stable `code`',
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    retryable: { type: 'boolean' },
    detail: { type: 'string' },
  },
} as const;

/** The error responses of every API route: an RFC 9457 problem for any 4xx or 5xx. */
export const errorResponses = { '4xx': problemResponse, '5xx': problemResponse } as const;
