import { COLLECTION_PATTERN, OBJECT_ID_PATTERN, USER_ID_PATTERN } from '../ids/id-patterns.js';
import { INDEX_NAME_PATTERN, MAX_INDEX_PATHS } from '../query/index-sql.js';
import { MAX_PATCH_OPS } from '../partition/json-patch.js';
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
    filter: {
      type: 'string',
      description:
        'A query filter: JSON such as {"status":"open","total":{"$gte":100}} (operators $eq $ne $lt $lte $gt $gte $in $nin $exists ' +
        '$prefix $contains, $and $or $not; at most 4096 characters, 32 conditions, nesting 8)',
    },
    order: { type: 'string', description: 'Comma-separated field paths, "-" for descending (e.g. -total,createdAt); the object id ends every order' },
    fields: { type: 'string', description: 'Comma-separated field paths to return in each item\'s data (e.g. title,address.city)' },
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
    cursor: {
      type: 'string',
      maxLength: 2048,
      description: 'Instead of since: resume inside a commit that comes in parts, from the `cursor` of a page, a partial event or message',
    },
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

/**
 * A JSON Patch (RFC 6902). parseJsonPatch checks it before this schema
 * does (a preValidation hook), so that a client learns which operation is
 * wrong (400 invalid_patch, `op`); this schema documents it and backs
 * that check up.
 */
export const jsonPatchBody = {
  type: 'array',
  maxItems: MAX_PATCH_OPS,
  description:
    'A JSON Patch (RFC 6902): operations applied in order, all or nothing. A `test` that does not hold is 409 ' +
    '`patch_test_failed`; an operation whose target does not exist is 409 `patch_conflict`; a malformed patch is 400 ' +
    '`invalid_patch` (each naming the operation\'s index in `op`). The result must be a JSON object.',
  items: {
    type: 'object',
    required: ['op', 'path'],
    properties: {
      op: { type: 'string', enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] },
      path: { type: 'string', description: 'A JSON pointer (RFC 6901) to the target, e.g. /tags/0 ("-" appends to an array)' },
      from: { type: 'string', description: 'move and copy: a JSON pointer to the source' },
      value: { description: 'add, replace and test: any JSON value' },
    },
  },
} as const;

/** The body of PATCH on an object, by media type (fastify validates the one sent; OpenAPI lists all three). */
export const objectPatchBodies = {
  content: {
    'application/merge-patch+json': { schema: { ...documentBody, description: 'A JSON Merge Patch (RFC 7396): null removes a member' } },
    'application/json': { schema: { ...documentBody, description: 'A JSON Merge Patch (RFC 7396), as application/merge-patch+json' } },
    'application/json-patch+json': { schema: jsonPatchBody },
  },
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
            properties: {
              op: { const: 'patch' },
              ...txTarget,
              patch: {
                description: 'An object is a JSON Merge Patch (RFC 7396), an array a JSON Patch (RFC 6902)',
                anyOf: [documentBody, jsonPatchBody],
              },
              ifRev,
            },
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

export const indexListParams = userParams;

export const indexParams = {
  type: 'object',
  required: ['userId', 'collection', 'name'],
  properties: {
    ...collectionParams.properties,
    name: { type: 'string', pattern: INDEX_NAME_PATTERN.source, description: 'The index\'s name within its collection' },
  },
} as const;

export const indexBody = {
  type: 'object',
  additionalProperties: false,
  required: ['paths'],
  properties: {
    paths: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_INDEX_PATHS,
      description: 'The indexed fields in dot form (`status`, `address.city`), in order; no duplicates',
      // 8 segments of 64 characters and their dots: a longer string cannot be a path.
      items: { type: 'string', maxLength: 8 * 65 },
    },
    unique: { type: 'boolean', default: false, description: 'Refuse a write that gives two live objects the same values (409 unique_violation)' },
  },
} as const;

/** An index as GET /_indexes shows it. */
export const indexResponse = {
  type: 'object',
  description: 'A secondary index and its state',
  additionalProperties: false,
  required: ['collection', 'name', 'paths', 'unique', 'state', 'createdAt'],
  properties: {
    collection: { type: 'string' },
    name: { type: 'string' },
    paths: { type: 'array', items: { type: 'string' } },
    unique: { type: 'boolean' },
    state: { type: 'string', enum: ['building', 'ready', 'failed'], description: 'Queries use an index once it is ready' },
    builtThrough: { type: 'string', description: 'While building: the id of the last object indexed (objects are indexed in id order)' },
    error: { type: 'string', description: 'Why the build failed (state failed): delete the index, fix the data, create it again' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const revertBody = {
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  properties: {
    to: { ...seq, description: 'The commit to restore: every object gets the state it had then' },
    collection: { type: 'string', pattern: COLLECTION_PATTERN.source, description: 'Only this collection (default: every collection)' },
  },
} as const;

export const revertResponse = {
  description: 'The revert\'s commit, and how many objects it changed (0: nothing to change, no commit, seq is the latest commit)',
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'reverted'],
  properties: { seq, reverted: { type: 'integer', minimum: 0 } },
} as const;

/**
 * An RFC 9457 problem. Extensions (e.g. `owner` on 421, `conflicts` on a
 * transaction conflict, `op` on a JSON Patch error) ride along as further
 * members, so it stays open.
 */
export const problemResponse = {
  description: 'An RFC 9457 problem (application/problem+json) with a stable `code`',
  type: 'object',
  additionalProperties: true,
  required: ['type', 'title', 'status', 'code', 'retryable'],
  properties: {
    type: { type: 'string', description: 'urn:pinbase:problem:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', description: 'Stable: what a program branches on' },
    retryable: { type: 'boolean', description: 'Whether the same request may succeed later (after Retry-After, if given)' },
    detail: { type: 'string' },
    instance: { type: 'string', description: 'The request target (an access_token redacted)' },
  },
} as const;

/** The error responses of every API route: an RFC 9457 problem for any 4xx or 5xx. */
export const errorResponses = { '4xx': problemResponse, '5xx': problemResponse } as const;
