/**
 * The API's wire types, derived from the very JSON Schemas the worker
 * validates requests with and documents its answers by (schemas.ts,
 * response-schemas.ts): one source of truth for the worker, the OpenAPI
 * description and the TypeScript client (services/client).
 *
 * Type-only: importing this module (with `import type`) pulls no code into a
 * bundle. Request shapes keep defaulted members optional (the server fills
 * them in); response shapes are exactly what the worker sends.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type {
  changeEvent,
  changeFeedMessage,
  changePage,
  changeRow,
  historyPage,
  importResult,
  indexList,
  objectEnvelope,
  objectPage,
  objectVersion,
  topologyResponse,
  transactionResult,
  writeResponse,
} from './response-schemas.js';
import type {
  changesQuery,
  exportQuery,
  historyQuery,
  importQuery,
  indexBody,
  indexResponse,
  jsonPatchBody,
  listQuery,
  problemResponse,
  revertBody,
  revertResponse,
  snapshotQuery,
  transactionBody,
} from './schemas.js';

/** What a request sends: defaulted members stay optional. */
type Sent<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }>;

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A document: any JSON object (keys `__proto__` and `constructor` are refused on write). */
export type JsonDocument = { [key: string]: unknown };

/** Replaces the `data` member of a wire shape with the caller's document type. */
type WithData<Shape, T> = Omit<Shape, 'data'> & { data: T };

// ---- Requests ----

/** `?at=`: a snapshot read. */
export type SnapshotQuery = Sent<typeof snapshotQuery>;
/** `GET /:collection`: a listing, or a query with filter / order / fields. */
export type ListQuery = Sent<typeof listQuery>;
export type HistoryQuery = Sent<typeof historyQuery>;
export type ChangesQuery = Sent<typeof changesQuery>;
export type ExportQuery = Sent<typeof exportQuery>;
export type ImportQuery = Sent<typeof importQuery>;
/** A JSON Patch (RFC 6902), the body of PATCH with `application/json-patch+json`. */
export type JsonPatch = Sent<typeof jsonPatchBody>;
export type JsonPatchOperation = JsonPatch[number];
/** The body of `POST /_tx`. */
export type TransactionRequest = Sent<typeof transactionBody>;
/** One read-set entry of a transaction: what the client read, at which rev (0: absent). */
export type TransactionRead = NonNullable<TransactionRequest['reads']>[number];
/** One operation of a transaction (put / patch / delete / create). */
export type TransactionOperation = TransactionRequest['ops'][number];
/** The body of `PUT /_indexes/:collection/:name`. */
export type IndexDefinition = Sent<typeof indexBody>;
/** The body of `POST /_revert`. */
export type RevertRequest = Sent<typeof revertBody>;

// ---- Responses ----

/** An RFC 9457 problem: every 4xx and 5xx answer (extensions such as `owner` or `conflicts` as further members). */
export type Problem = FromSchema<typeof problemResponse>;
/** An object with its id and revision (a listing's or a query's item), typed by its document. */
export type ObjectEnvelope<T = JsonDocument> = WithData<FromSchema<typeof objectEnvelope>, T>;
/** One page of a listing or query; `next` is the cursor of the next page, null on the last. */
export type ObjectPage<T = JsonDocument> = Omit<FromSchema<typeof objectPage>, 'items'> & { items: ObjectEnvelope<T>[] };
/** What PUT, PATCH, DELETE and POST (create) answer: the object's new rev (`deleted: true` on a delete). */
export type WriteResult = FromSchema<typeof writeResponse>;
/** One version in an object's history; `data` is null for a deletion. */
export type ObjectVersion<T = JsonDocument> = WithData<FromSchema<typeof objectVersion>, T | null>;
/** A page of an object's history, newest first; `next` goes in `before`. */
export type HistoryPage<T = JsonDocument> = Omit<FromSchema<typeof historyPage>, 'versions'> & { versions: ObjectVersion<T>[] };
/** One changed object of a commit (data only with includeData, null once deleted). */
export type ChangeRow = FromSchema<typeof changeRow>;
/** A JSON page of the change feed. */
export type ChangePage = FromSchema<typeof changePage>;
/** One commit of a live feed (an SSE `change` event's data). */
export type ChangeEvent = FromSchema<typeof changeEvent>;
/** A server message on the WebSocket change feed: `ready`, `change` (one commit) or `error` (a problem, then the close). */
export type ChangeFeedMessage = FromSchema<typeof changeFeedMessage>;
/** What `POST /_tx` answers. */
export type TransactionResult = FromSchema<typeof transactionResult>;
export type TransactionResultEntry = TransactionResult['results'][number];
/** A secondary index and its state. */
export type IndexInfo = FromSchema<typeof indexResponse>;
export type IndexList = FromSchema<typeof indexList>;
/** What `POST /_revert` answers. */
export type RevertResult = FromSchema<typeof revertResponse>;
/** What `POST /_import` answers. */
export type ImportResult = FromSchema<typeof importResult>;
/** `GET /_topology`: the workers a direct client routes over, and those the router reports down. */
export type Topology = FromSchema<typeof topologyResponse>;
export type TopologyWorker = Topology['workers'][number];
