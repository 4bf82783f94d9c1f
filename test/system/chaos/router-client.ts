/**
 * The chaos clients' HTTP access to the router: the tests' HTTP client on
 * its own keep-alive connections, every request bounded by a client
 * timeout, every result (a response, a timeout, a reset) turned into an
 * Attempt. Never throws for a request. Each request carries the bearer
 * token of the user in its path.
 */
import { HttpClient } from '../../support/http-client.js';
import type { Attempt } from './attempt-outcome.js';

export interface SendOptions {
  headers?: Record<string, string>;
  body?: string;
  /** This request's client timeout instead of the default. */
  timeoutMs?: number;
}

export class RouterClient {
  private readonly http: HttpClient;

  /**
   * `tokens`: each user's bearer token, by user id; a request for a user
   * without one is sent without a token (and refused).
   */
  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
    private readonly tokens: ReadonlyMap<string, string>,
    connections = 64,
  ) {
    this.http = new HttpClient(url, { connections, keepAliveTimeoutMs: 10_000 });
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<Attempt> {
    const headers: Record<string, string> = { ...options.headers };
    const token = this.tokens.get(/^\/api\/users\/([^/?]+)/.exec(path)?.[1] ?? '');
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const reply = await this.http.send(path, { method, headers, body: options.body, timeoutMs: options.timeoutMs ?? this.timeoutMs });
      const attempt: Attempt = {
        status: reply.status,
        replayed: reply.header('idempotent-replayed') === 'true',
        body: reply.body,
      };
      const etag = reply.header('etag');
      if (etag !== undefined) attempt.etag = etag;
      const worker = reply.header('x-pinbase-worker');
      if (worker !== undefined) attempt.worker = worker;
      if (reply.status >= 400) {
        const code = problemCode(reply.body);
        if (code !== undefined) attempt.code = code;
      }
      return attempt;
    } catch (error) {
      return { error: errorLabel(error), replayed: false };
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

function problemCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown };
    return typeof parsed.code === 'string' ? parsed.code : undefined;
  } catch {
    return undefined;
  }
}

function errorLabel(error: unknown): string {
  const { name, code } = error as { name?: string; code?: string };
  if (name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return code ?? name ?? 'error';
}

/** The revision in an ETag header ("12" -> 12); undefined if absent or malformed. */
export function revOf(etag: string | undefined): number | undefined {
  const match = etag === undefined ? null : /^"(\d+)"$/.exec(etag);
  return match ? Number(match[1]) : undefined;
}
