/**
 * The chaos clients' HTTP access to the router: one keep-alive undici pool,
 * every request bounded by a client timeout, every result (a response, a
 * timeout, a reset) turned into an Attempt. Never throws for a request.
 */
import { Pool } from 'undici';
import type { Attempt } from './attempt-outcome.js';

export interface SendOptions {
  headers?: Record<string, string>;
  body?: string;
  /** This request's client timeout instead of the default. */
  timeoutMs?: number;
}

export class RouterClient {
  private readonly pool: Pool;

  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
    connections = 64,
  ) {
    this.pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 10_000 });
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<Attempt> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      const response = await this.pool.request({
        path,
        method,
        headers,
        body: options.body,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const body = await response.body.text();
      const header = (name: string): string | undefined => {
        const value = response.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      const attempt: Attempt = {
        status: response.statusCode,
        replayed: header('idempotent-replayed') === 'true',
        body,
      };
      const etag = header('etag');
      if (etag !== undefined) attempt.etag = etag;
      const worker = header('x-pinbase-worker');
      if (worker !== undefined) attempt.worker = worker;
      if (response.statusCode >= 400) {
        const code = problemCode(body);
        if (code !== undefined) attempt.code = code;
      }
      return attempt;
    } catch (error) {
      return { error: errorLabel(error), replayed: false };
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
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
