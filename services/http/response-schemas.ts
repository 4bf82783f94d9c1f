import { indexResponse, problemResponse, revertResponse } from './schemas.js';

/**
 * JSON Schemas of what the API answers on success (2xx). They document the
 * API in OpenAPI (/docs/json), so that generated clients are typed, and they
 * are the source of the TypeScript types in api-types.ts (the client's).
 *
 * Most handlers send JSON text they built themselves (documents are stored
 * as text and never re-parsed): fastify sends a string as it is, so these
 * schemas do not re-serialise those answers. Where a handler returns an
 * object (indexes, topology, health), fast-json-stringify writes exactly the
 * properties declared here: so a document (`data`) is always an open object,
 * and every other shape lists all its members. test/unit/http/
 * response-schemas.test.ts checks real answers against these schemas with
 * every object closed (no member the schema does not name).
 */

const seq = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const rev = { ...seq, description: 'The object\'s revision: the seq of the commit that last wrote it (its ETag)' } as const;
const name = { type: 'string' } as const;

/** A stored document: any JSON object, as written (every member kept). */
export const documentResponse = {
  type: 'object',
  additionalProperties: true,
  description: 'The document: the JSON object as written',
} as const;

/** Any JSON value (what a JSON pointer inside a document reaches). */
export const jsonValueResponse = { description: 'The value at that path: any JSON value' } as const;

/** An object with its id and revision: a listing's or a query's item. */
export const objectEnvelope = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'rev', 'data'],
  properties: {
    id: name,
    rev,
    data: { ...documentResponse, description: 'The document (with `fields`: only those fields)' },
  },
} as const;

/** One page of a listing or a query. */
export const objectPage = {
  type: 'object',
  description: 'One page of the listing or query, in order; follow `next` for the rest',
  additionalProperties: false,
  required: ['items', 'next'],
  properties: {
    items: { type: 'array', items: objectEnvelope },
    next: { type: ['string', 'null'], description: 'The cursor of the next page (pass it as `cursor`); null on the last page' },
  },
} as const;

/** What a write of one object answers (PUT, PATCH, DELETE, POST create); the same again on an idempotent replay. */
export const writeResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['collection', 'id', 'rev'],
  description: 'The object written and its new revision (also the ETag; the commit\'s seq is X-Pinbase-Seq)',
  properties: {
    collection: name,
    id: name,
    rev,
    deleted: { type: 'boolean', const: true, description: 'Present (true) on a delete: rev is the tombstone\'s' },
  },
} as const;

/** One version of an object, in its history. */
export const objectVersion = {
  type: 'object',
  additionalProperties: false,
  required: ['rev', 'deleted', 'committedAt', 'data'],
  properties: {
    rev,
    deleted: { type: 'boolean' },
    committedAt: { type: 'string', format: 'date-time' },
    data: { ...documentResponse, type: ['object', 'null'], description: 'The document at that version; null for a deletion' },
  },
} as const;

export const historyPage = {
  type: 'object',
  description: "The object's versions, newest first, within the retention window",
  additionalProperties: false,
  required: ['versions', 'next'],
  properties: {
    versions: { type: 'array', items: objectVersion, description: 'Newest first' },
    next: { ...seq, type: ['integer', 'null'], description: 'Pass as `before` for the next page; null on the last page' },
  },
} as const;

/** One changed object of a commit: a change feed row. */
export const changeRow = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'collection', 'id', 'deleted'],
  properties: {
    seq: { ...seq, description: 'The commit' },
    collection: name,
    id: name,
    deleted: { type: 'boolean' },
    data: { ...documentResponse, type: ['object', 'null'], description: 'With includeData=true: the object\'s data (null once deleted)' },
  },
} as const;

/** A JSON page of the change feed. */
export const changePage = {
  type: 'object',
  description:
    'The commits after `since`, whole, oldest first; a commit of more than 1000 changes or 2 MiB of bodies (an import, a large revert) ' +
    'comes in parts, one page each, and `cursor` is set on every page but its last',
  additionalProperties: false,
  required: ['changes', 'lastSeq', 'hasMore'],
  properties: {
    changes: { type: 'array', items: changeRow, description: 'Whole commits, oldest first (or one part of a commit, see `cursor`)' },
    lastSeq: { ...seq, description: 'The last commit this page holds whole: resume with since=lastSeq (unless `cursor` is set)' },
    hasMore: { type: 'boolean', description: 'Whether more changes exist already' },
    cursor: {
      type: 'string',
      description: 'Set when the page ends inside a commit (the one after lastSeq, which comes in parts): ask the next page with cursor=<this>, not since',
    },
  },
} as const;

/** What marks a live feed's event as one part of a commit too large to send whole (more than 1000 changes or 2 MiB of bodies). */
const commitPartProperties = {
  partial: {
    type: 'boolean',
    const: true,
    description: 'Set on every part of a large commit but its last (which has the same seq and no `partial`): the commit is complete after that one',
  },
  cursor: {
    type: 'string',
    description: 'With `partial`: where the feed resumes after this part (cursor=<this>, or the SSE id); without it, resume with since=seq',
  },
} as const;

/**
 * One commit of a live feed, or one part of a large one: the data of an SSE
 * `change` event (its `id:` is the seq, or the cursor of a part).
 */
export const changeEvent = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'changes'],
  properties: { seq, changes: { type: 'array', items: changeRow }, ...commitPartProperties },
} as const;

/**
 * The server's messages on the WebSocket change feed (contract C2), one JSON
 * text message each: `ready` once authenticated, one `change` per commit
 * (the rows of an SSE event), and `error` (a problem) right before a close
 * caused by an error.
 */
export const changeFeedMessage = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'seq'],
      properties: { type: { type: 'string', const: 'ready' }, seq: { ...seq, description: 'The latest commit when the feed started' } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'seq', 'changes'],
      properties: { type: { type: 'string', const: 'change' }, seq, changes: { type: 'array', items: changeRow }, ...commitPartProperties },
    },
    {
      ...problemResponse,
      required: ['type', 'title', 'status', 'code', 'retryable'],
      properties: { ...problemResponse.properties, type: { type: 'string', const: 'error' } },
    },
  ],
} as const;

export const changeResponses = {
  description: 'A page of changes (application/json), or with Accept: text/event-stream a live stream of `change` events',
  content: {
    'application/json': { schema: changePage },
    'text/event-stream': {
      schema: {
        type: 'string',
        description: 'SSE: one `event: change` per commit, `id: <seq>`, `data:` a ChangeEvent ({"seq","changes":[...]}); ' +
          '`event: error` with a problem before an error closes the stream; comments as heartbeats',
      },
    },
  },
} as const;

/** What a transaction answers: the commit and one entry per operation, in order. */
export const transactionResult = {
  type: 'object',
  description: "The transaction's commit, and what each operation did, in order",
  additionalProperties: false,
  required: ['seq', 'results'],
  properties: {
    seq: { ...seq, description: 'The transaction\'s commit' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['op', 'collection', 'id', 'rev', 'deleted'],
        properties: {
          op: { type: 'string', enum: ['put', 'patch', 'delete', 'create'] },
          collection: name,
          id: { ...name, description: 'For a create: the id the server chose (or the one given)' },
          rev,
          deleted: { type: 'boolean' },
        },
      },
    },
  },
} as const;

export const indexList = {
  type: 'object',
  description: "The user's secondary indexes",
  additionalProperties: false,
  required: ['items'],
  properties: { items: { type: 'array', items: indexResponse } },
} as const;

export const importResult = {
  type: 'object',
  description: "The import's commit and what it brought in",
  additionalProperties: false,
  required: ['seq', 'objects', 'versions', 'indexes'],
  properties: {
    seq: { ...seq, description: 'The import\'s commit' },
    objects: { type: 'integer', minimum: 0, description: 'Live objects after the import' },
    versions: { type: 'integer', minimum: 0, description: 'Versions imported, tombstones included' },
    indexes: { type: 'integer', minimum: 0 },
  },
} as const;

export const exportResponses = {
  description: 'The export: NDJSON lines (header, indexes, versions, end), or the SQLite file',
  content: {
    'application/x-ndjson': { schema: { type: 'string', description: 'One JSON object per line (services/portability/export-format.ts)' } },
    'application/vnd.sqlite3': { schema: { type: 'string', contentMediaType: 'application/vnd.sqlite3' } },
  },
} as const;

/** C1: what a client in direct mode routes by. */
export const topologyResponse = {
  type: 'object',
  description: "The cluster's workers, for a client that routes straight to the owner",
  additionalProperties: false,
  required: ['version', 'workers', 'down'],
  properties: {
    version: { ...seq, description: 'The topology file\'s version (also X-Pinbase-Topology on every /api/users answer); 0: no topology file' },
    workers: {
      type: 'array',
      description: 'The workers of the topology file, in its order (empty when the worker runs without one)',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'url'],
        properties: { id: name, url: { type: 'string', description: 'Where the worker listens: a direct client connects here' } },
      },
    },
    down: {
      type: 'array',
      items: name,
      description: 'The workers the router reports as down (only through the router, from its signed hint; otherwise empty)',
    },
  },
} as const;

/** GET /healthz: the process answers. */
export const healthResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { type: 'string', const: 'ok' } },
} as const;

/** GET /readyz: the worker serves; the rest is its status (worker id, pid, topology version, counts), kept whole. */
export const readinessResponse = {
  type: 'object',
  additionalProperties: true,
  required: ['status'],
  properties: { status: { type: 'string', const: 'ready' } },
} as const;

export const emptyResponse = { type: 'null', description: 'No body' } as const;

export { indexResponse, problemResponse, revertResponse };
