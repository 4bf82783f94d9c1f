import { PinbaseError } from './pinbase-error.js';
import type { RetryingExchange } from './retrying-exchange.js';
import type { ExchangeResponse } from './transport.js';
import type {
  HistoryPage,
  JsonObject,
  JsonPatchOperation,
  ListOptions,
  ObjectResult,
  Page,
  PreconditionOptions,
  PutOptions,
  QueryOptions,
  WriteOptions,
  WriteResult,
} from './types.js';

const JSON_TYPE = 'application/json';

/** The path of a user's resource: every segment percent-encoded (the server checks each against its pattern). */
export function userPath(userId: string, ...segments: string[]): string {
  let path = `/api/users/${encodeURIComponent(userId)}`;
  for (const segment of segments) path += `/${encodeURIComponent(segment)}`;
  return path;
}

/** A fresh Idempotency-Key: a random UUID (crypto.randomUUID exists in browsers' secure contexts and Node). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * The reads of one collection of one user, optionally at a snapshot
 * (`at`): get, list and query. Every read is retried by the exchange's
 * rules (GET is idempotent).
 */
export class CollectionReads<T> {
  constructor(
    protected readonly exchange: RetryingExchange,
    readonly userId: string,
    readonly name: string,
    /** The snapshot every read sees (undefined: the latest commit). */
    readonly at: number | undefined,
  ) {}

  /** The object `id`; throws PinbaseError `object_not_found` (404) when absent or deleted (at the snapshot). */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<ObjectResult<T>> {
    const query = this.at === undefined ? '' : `?at=${this.at}`;
    const response = await this.exchange.call(this.userId, 'GET', userPath(this.userId, this.name, id) + query, { signal: options.signal });
    return { id, rev: revisionOf(response), seq: seqOf(response), data: parseJson(response) as T };
  }

  /** Every live object in id order, one page per step, following the server's cursor. */
  list(options: ListOptions = {}): AsyncIterableIterator<Page<T>> {
    return this.pages(new URLSearchParams(), options);
  }

  /** The objects matching a query, in its order, one page per step (see the README's "Queries"). */
  query(options: QueryOptions = {}): AsyncIterableIterator<Page<T>> {
    const params = new URLSearchParams();
    if (options.filter !== undefined) params.set('filter', JSON.stringify(options.filter));
    if (options.order !== undefined) params.set('order', options.order.join(','));
    if (options.fields !== undefined) params.set('fields', options.fields.join(','));
    // The server tells a query from a listing by these parameters: an empty filter is still a query.
    if (!params.has('filter') && !params.has('order') && !params.has('fields')) params.set('filter', '{}');
    return this.pages(params, options);
  }

  private async *pages(params: URLSearchParams, options: ListOptions): AsyncIterableIterator<Page<T>> {
    if (options.limit !== undefined) params.set('limit', String(options.limit));
    if (this.at !== undefined) params.set('at', String(this.at));
    const base = userPath(this.userId, this.name);
    for (;;) {
      const response = await this.exchange.call(this.userId, 'GET', `${base}?${params.toString()}`, { signal: options.signal });
      const body = parseJson(response) as { items: { id: string; rev: number; data: T }[]; next: string | null };
      const seq = seqOf(response);
      yield { items: body.items.map((item) => ({ id: item.id, rev: item.rev, seq, data: item.data })), seq };
      if (body.next === null || body.next === undefined) return;
      params.set('cursor', body.next);
    }
  }
}

/** One collection of one user: reads (latest), writes with preconditions and Idempotency-Keys, history. */
export class CollectionHandle<T = JsonObject> extends CollectionReads<T> {
  constructor(exchange: RetryingExchange, userId: string, name: string) {
    super(exchange, userId, name, undefined);
  }

  /** Creates an object with a server-generated, time-sortable id. */
  async create(data: T, options: WriteOptions = {}): Promise<ObjectResult<T>> {
    const response = await this.write('POST', userPath(this.userId, this.name), JSON_TYPE, data, options, undefined);
    const body = parseJson(response) as WriteResult;
    return { id: body.id, rev: body.rev, seq: seqOf(response), data };
  }

  /**
   * Creates or replaces the object `id`. `ifRev`: only if it is at that
   * revision; `ifAbsent`: only if it does not exist; else 412
   * `precondition_failed` and nothing is applied.
   */
  async put(id: string, data: T, options: PutOptions = {}): Promise<ObjectResult<T>> {
    const response = await this.write('PUT', userPath(this.userId, this.name, id), JSON_TYPE, data, options, options.ifAbsent);
    const body = parseJson(response) as WriteResult;
    return { id, rev: body.rev, seq: seqOf(response), data };
  }

  /**
   * Updates the object `id`: an object is a JSON Merge Patch (RFC 7396:
   * null removes a member), an array a JSON Patch (RFC 6902, all or nothing;
   * 409 `patch_test_failed` / `patch_conflict`). 404 when absent.
   */
  async patch(id: string, patch: Partial<T> | JsonObject | JsonPatchOperation[], options: PreconditionOptions = {}): Promise<WriteResult> {
    const type = Array.isArray(patch) ? 'application/json-patch+json' : 'application/merge-patch+json';
    return writeResult(await this.write('PATCH', userPath(this.userId, this.name, id), type, patch, options, undefined));
  }

  /** Deletes the object `id` (its history stays for the retention window); 404 when absent. */
  async delete(id: string, options: PreconditionOptions = {}): Promise<WriteResult> {
    return writeResult(await this.write('DELETE', userPath(this.userId, this.name, id), undefined, undefined, options, undefined));
  }

  /** One page of the versions of `id`, newest first; pass `next` as `before` for older ones. 404 when it never existed. */
  async history(id: string, options: { limit?: number; before?: number; signal?: AbortSignal } = {}): Promise<HistoryPage<T>> {
    const params = new URLSearchParams();
    if (options.limit !== undefined) params.set('limit', String(options.limit));
    if (options.before !== undefined) params.set('before', String(options.before));
    const query = params.size === 0 ? '' : `?${params.toString()}`;
    const response = await this.exchange.call(this.userId, 'GET', `${userPath(this.userId, this.name, id, '_history')}${query}`, { signal: options.signal });
    return parseJson(response) as HistoryPage<T>;
  }

  private write(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    contentType: string | undefined,
    body: unknown,
    options: PreconditionOptions,
    ifAbsent: boolean | undefined,
  ): Promise<ExchangeResponse> {
    const headers: Record<string, string> = { 'idempotency-key': options.idempotencyKey ?? newIdempotencyKey() };
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (options.ifRev !== undefined) headers['if-match'] = `"${options.ifRev}"`;
    if (ifAbsent === true) headers['if-none-match'] = '*';
    return this.exchange.call(this.userId, method, path, {
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
  }
}

/** The body of a response, parsed; a body that is not JSON is PinbaseError `invalid_response`. */
export function parseJson(response: ExchangeResponse): unknown {
  try {
    return JSON.parse(response.body);
  } catch (error) {
    throw PinbaseError.client('invalid_response', `the server's answer (${response.status}) is not JSON`, error, false);
  }
}

/** X-Pinbase-Seq of a partition response. */
export function seqOf(response: ExchangeResponse): number {
  return Number(response.header('x-pinbase-seq') ?? Number.NaN);
}

/** The revision of an `ETag: "<rev>"` (or `W/"<rev>"`); NaN without one. */
function revisionOf(response: ExchangeResponse): number {
  const etag = response.header('etag');
  if (etag === undefined) return Number.NaN;
  const start = etag.indexOf('"');
  return start < 0 ? Number(etag) : Number(etag.slice(start + 1, etag.length - 1));
}

function writeResult(response: ExchangeResponse): WriteResult {
  const body = parseJson(response) as WriteResult;
  return { ...body, seq: seqOf(response) };
}
