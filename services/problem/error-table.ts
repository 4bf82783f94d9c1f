/**
 * Every error Pinbase can answer with, in one table: a stable `code` (the
 * contract clients program against), the HTTP status, a short title, and
 * whether the same request may succeed if retried unchanged. A retryable
 * answer carries `Retry-After`: `retryAfter` seconds where the row says,
 * else 1 (see retryAfterSeconds).
 *
 * Codes are never renamed or reused; new rows may be added.
 */
export const ERROR_TABLE = {
  // 400: the request itself is malformed. Nothing was changed.
  invalid_user_id: { status: 400, title: 'Invalid user id', retryable: false },
  invalid_collection: { status: 400, title: 'Invalid collection name', retryable: false },
  invalid_object_id: { status: 400, title: 'Invalid object id', retryable: false },
  invalid_json: { status: 400, title: 'Request body is not valid JSON', retryable: false },
  forbidden_key: { status: 400, title: 'Forbidden key in JSON body', retryable: false },
  invalid_body: { status: 400, title: 'Invalid request body', retryable: false },
  invalid_pointer: { status: 400, title: 'Invalid JSON pointer', retryable: false },
  invalid_at: { status: 400, title: 'Invalid snapshot sequence', retryable: false },
  snapshot_in_future: { status: 400, title: 'Snapshot sequence is beyond the latest commit', retryable: false },
  invalid_since: { status: 400, title: 'Invalid change-feed position', retryable: false },
  invalid_cursor: { status: 400, title: 'Invalid cursor', retryable: false },
  invalid_limit: { status: 400, title: 'Invalid limit', retryable: false },
  invalid_precondition: { status: 400, title: 'Invalid conditional header', retryable: false },
  invalid_idempotency_key: { status: 400, title: 'Invalid Idempotency-Key header', retryable: false },
  invalid_transaction: { status: 400, title: 'Invalid transaction', retryable: false },
  invalid_request: { status: 400, title: 'Invalid request', retryable: false },
  invalid_path: { status: 400, title: 'Invalid request path', retryable: false },
  invalid_header: { status: 400, title: 'Invalid request header', retryable: false },
  invalid_filter: { status: 400, title: 'Invalid query filter', retryable: false },
  invalid_order: { status: 400, title: 'Invalid query order', retryable: false },
  invalid_fields: { status: 400, title: 'Invalid field projection', retryable: false },
  // An unindexed query that would have to examine more objects than one request may (see the query docs).
  query_too_expensive: { status: 400, title: 'Query needs an index', retryable: false },
  invalid_index: { status: 400, title: 'Invalid index definition', retryable: false },
  invalid_patch: { status: 400, title: 'Invalid JSON Patch document', retryable: false },
  invalid_import: { status: 400, title: 'Invalid import file', retryable: false },
  // An Upgrade (WebSocket or other) on a route that serves none: only GET /api/users/:userId/_changes upgrades.
  upgrade_not_supported: { status: 400, title: 'Upgrade not supported on this route', retryable: false },
  request_timeout: { status: 408, title: 'Request not received in time', retryable: true },
  headers_too_large: { status: 431, title: 'Request headers too large', retryable: false },

  // 401 / 403: who is asking, and what they may do. Nothing was read or changed.
  unauthorized: { status: 401, title: 'Missing or wrong admin token', retryable: false },
  missing_token: { status: 401, title: 'A bearer token is required', retryable: false },
  invalid_token: { status: 401, title: 'The bearer token is invalid or expired', retryable: false },
  forbidden: { status: 403, title: 'The token does not grant access to this user', retryable: false },
  insufficient_scope: { status: 403, title: 'The token\'s scope does not allow this request', retryable: false },
  // A browser page of another site asked the router's admin endpoints to act (CSRF).
  cross_site_request: { status: 403, title: 'Cross-site admin request refused', retryable: false },

  // 404 / 410: the thing asked for is not there.
  route_not_found: { status: 404, title: 'No such route', retryable: false },
  worker_not_found: { status: 404, title: 'No such worker in the topology', retryable: false },
  object_not_found: { status: 404, title: 'Object not found', retryable: false },
  path_not_found: { status: 404, title: 'Path not found in object', retryable: false },
  index_not_found: { status: 404, title: 'No such index', retryable: false },
  snapshot_pruned: { status: 410, title: 'Snapshot is older than the retention window', retryable: false },

  // 406: no representation the client accepts.
  not_acceptable: { status: 406, title: 'No acceptable representation', retryable: false },

  // 409 / 412 / 422: the request conflicts with the stored state.
  transaction_conflict: { status: 409, title: 'Transaction conflict', retryable: false },
  // Draining the worker would leave no routable worker: refused unless asked with ?force=true.
  last_worker: { status: 409, title: 'The last routable worker would be drained', retryable: false },
  // A write would give two live objects of a collection the same values of a unique index; nothing was applied.
  unique_violation: { status: 409, title: 'Unique index violated', retryable: false },
  // An index of this name exists with another definition (PUT of the same definition is a no-op).
  index_exists: { status: 409, title: 'An index of this name exists with another definition', retryable: false },
  // A JSON Patch `test` op did not hold, or an op's path does not exist in the document; nothing was applied.
  patch_test_failed: { status: 409, title: 'JSON Patch test failed', retryable: false },
  patch_conflict: { status: 409, title: 'JSON Patch cannot be applied to this document', retryable: false },
  // An import into a user that has data, without ?replace=true.
  tenant_not_empty: { status: 409, title: 'The user already has data', retryable: false },
  precondition_failed: { status: 412, title: 'Precondition failed', retryable: false },
  idempotency_key_reused: {
    status: 422,
    title: 'Idempotency-Key was already used for a different request',
    retryable: false,
  },

  // 413 / 415: the body cannot be accepted at all.
  body_too_large: { status: 413, title: 'Request body too large', retryable: false },
  transaction_too_large: { status: 413, title: 'Transaction touches more data than allowed', retryable: false },
  import_too_large: { status: 413, title: 'Import file too large', retryable: false },
  unsupported_media_type: { status: 415, title: 'Unsupported content type', retryable: false },

  // 421: the request reached a worker that does not own the user.
  misdirected_request: { status: 421, title: 'This worker does not own the user', retryable: true },

  // 429 / 503 / 507: the server cannot take it now; nothing was changed.
  too_many_requests: { status: 429, title: 'Too many requests for this user', retryable: true },
  too_many_streams: { status: 429, title: 'Too many live streams', retryable: true },
  too_many_connections: { status: 429, title: 'Too many connections from this client', retryable: true },
  overloaded: { status: 503, title: 'Server overloaded', retryable: true },
  partition_busy: { status: 503, title: 'Partition is held by another worker', retryable: true },
  partition_lost: { status: 503, title: 'Partition ownership was lost', retryable: true },
  shutting_down: { status: 503, title: 'Worker is shutting down', retryable: true },
  no_worker_available: { status: 503, title: 'No live worker for this user', retryable: true },
  topology_changing: { status: 503, title: 'The cluster topology is changing', retryable: true },
  token_keys_unavailable: { status: 503, title: 'The keys to check the bearer token cannot be fetched now', retryable: true },
  io_error: { status: 503, title: 'Storage I/O error; the outcome of a write is unknown', retryable: true },
  insufficient_storage: { status: 507, title: 'Insufficient storage', retryable: true, retryAfter: 5 },
  // 507 as WebDAV quotas use it (RFC 4331): retrying does not help until data is deleted.
  quota_exceeded: { status: 507, title: 'The user\'s storage quota is exceeded', retryable: false },

  // 5xx: something failed inside. The outcome of a write may be unknown (502/504).
  internal_error: { status: 500, title: 'Internal error', retryable: false },
  upstream_failed: { status: 502, title: 'Upstream worker failed', retryable: true },
  upstream_timeout: { status: 504, title: 'Upstream worker timed out', retryable: true },
} as const satisfies Record<string, ErrorRow>;

interface ErrorRow {
  status: number;
  title: string;
  retryable: boolean;
  /** Seconds to wait before a retry, for a retryable row (default 1). */
  retryAfter?: number;
}

export type ErrorCode = keyof typeof ERROR_TABLE;

/**
 * The `Retry-After` of every answer with `code`, in seconds: set for
 * retryable codes only. The worker and the router both take it from here.
 */
export function retryAfterSeconds(code: ErrorCode): number | undefined {
  const row: ErrorRow = ERROR_TABLE[code];
  return row.retryable ? (row.retryAfter ?? 1) : undefined;
}

