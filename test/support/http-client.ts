/**
 * The tests' HTTP client, on undici: keep-alive connections per origin, the
 * path sent exactly as given (no URL normalization, so a hostile path
 * reaches the server as written), the whole body read as text. Every
 * request is bounded by a timeout (connection, headers and body; 15 s
 * unless the client or the request says otherwise): a test request that
 * hangs fails with a TimeoutError instead of the test timing out.
 *
 * `send()` rejects on a network error (refused, reset, timeout); deciding
 * what that means is the caller's job. Bytes that no HTTP client would send
 * (smuggling attempts, bodies in pieces) go through `sendRaw()`.
 */
import { connect } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

export type ReplyHeaders = Dispatcher.ResponseData['headers'];

export interface Reply {
  status: number;
  headers: ReplyHeaders;
  body: string;
  /** The first value of a response header (names are lower case). */
  header(name: string): string | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert on the parsed shape
  json(): any;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /** The body as given, with no content-type added. */
  body?: string | Buffer;
  /** A JSON body: serialized, with content-type application/json unless `headers` names one. */
  json?: unknown;
  /** Bound on the whole exchange instead of the client's; rejects with a TimeoutError beyond it. */
  timeoutMs?: number;
}

export interface HttpClientOptions {
  /** Connections to the origin at most (default 64). */
  connections?: number;
  keepAliveTimeoutMs?: number;
  /** Default bound on each request (default 15 s). */
  timeoutMs?: number;
}

/** One origin's keep-alive connections; `close()` ends them. */
export class HttpClient {
  private readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(
    readonly origin: string,
    options: HttpClientOptions = {},
  ) {
    this.pool = new Pool(origin, { connections: options.connections ?? 64, pipelining: 1, keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000 });
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  async send(path: string, options: SendOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const response = await this.pool.request({
      path,
      method: options.method ?? 'GET',
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    return {
      status: response.statusCode,
      headers: response.headers,
      body: text,
      header: (name) => {
        const value = response.headers[name];
        return Array.isArray(value) ? value[0] : value;
      },
      json: () => JSON.parse(text) as unknown,
    };
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

const clients = new Map<string, HttpClient>();

/** Sends one request to `base` (any URL of the origin) on that origin's shared connections. */
export function send(base: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const { origin } = new URL(base);
  let client = clients.get(origin);
  if (client === undefined) {
    client = new HttpClient(origin);
    clients.set(origin, client);
  }
  return client.send(path, options);
}

/** Writes raw bytes on a fresh connection and resolves with everything the server sent before closing (or `waitMs`). */
export function sendRaw(base: string, bytes: string, waitMs = 2000): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', reject);
  });
}
