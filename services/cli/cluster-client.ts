/**
 * What `pinbase export | import | backup | restore` share: the router's
 * address, the bearer token (given, or minted per run from the local
 * cluster's secret), and an undici client with keep-alive and a timeout per
 * request that turns every non-2xx answer into a RequestFailure carrying the
 * problem's code and detail.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { bearer } from '../auth/admin-token.js';
import { localSecretsDir } from '../auth/local-secrets.js';
import { signUserToken } from '../auth/token-signer.js';
import { CliError } from './command.js';
import { readSigningSecret } from './token-command.js';

/** The flags every command of this family takes to reach the cluster. */
export const CLUSTER_OPTIONS = {
  router: { type: 'string', short: 'r' },
  token: { type: 'string' },
  data: { type: 'string', short: 'd' },
  timeout: { type: 'string' },
} as const;

export const CLUSTER_USAGE = `  --router URL        the router's address (default http://127.0.0.1:8080)
  --token T           a bearer token; default: env PINBASE_TOKEN, else a service token minted for
                      this run from DIR/secrets/auth-secret of --data (the local cluster's secret)
  -d, --data DIR      the data directory of \`pinbase up\` (default ./data), for its secrets
  --timeout SECONDS   how long the cluster may stay silent during one request (default 60)`;

/** The sub of the tokens this CLI mints: a service token reads and writes every tenant. */
const CLI_SUBJECT = 'pinbase-cli';
/** Lifetime of a minted token; it is minted again when less than MINT_MARGIN_S remains. */
const MINT_TTL_S = 3600;
const MINT_MARGIN_S = 300;
/** A problem document larger than this is not read (its code is then unknown). */
const MAX_PROBLEM_BYTES = 64 * 1024;

/** The router origin of --router, checked. */
export function routerOrigin(value: string | undefined): string {
  const base = (value ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(base)) throw new CliError(`--router must be an http:// or https:// origin, got "${value}"`);
  return base;
}

/** Seconds of --timeout as milliseconds. */
export function timeoutOption(value: string | undefined): number {
  if (value === undefined) return 60_000;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds < 1 || seconds > 3600) throw new CliError(`--timeout must be seconds from 1 to 3600, got "${value}"`);
  return seconds * 1000;
}

/** Where a bearer token comes from: fixed, or minted (and re-minted before it expires) from the auth secret. */
export class TokenSource {
  private minted: { token: string; expires: number } | undefined;

  private constructor(
    private readonly fixed: string | undefined,
    private readonly secret: string | undefined,
  ) {}

  /** --token, else PINBASE_TOKEN, else the secret of --data (required to exist when --data is given), else no token. */
  static resolve(token: string | undefined, dataDir: string | undefined): TokenSource {
    const given = token ?? process.env.PINBASE_TOKEN;
    if (given !== undefined && given !== '') return new TokenSource(given, undefined);
    const file = join(localSecretsDir(dataDir ?? './data'), 'auth-secret');
    if (dataDir === undefined && !existsSync(file)) return new TokenSource(undefined, undefined);
    return new TokenSource(undefined, readSigningSecret(file, true));
  }

  async authorization(): Promise<string | undefined> {
    if (this.fixed !== undefined) return bearer(this.fixed);
    if (this.secret === undefined) return undefined;
    const now = Math.floor(Date.now() / 1000);
    if (this.minted === undefined || this.minted.expires - now < MINT_MARGIN_S) {
      const token = await signUserToken(this.secret, { userId: CLI_SUBJECT, scopes: ['service'], ttlSeconds: MINT_TTL_S });
      this.minted = { token, expires: now + MINT_TTL_S };
    }
    return bearer(this.minted.token);
  }
}

/** A request the cluster refused or that could not be made. `retryable`: the same request may succeed later. */
export class RequestFailure extends Error {
  override name = 'RequestFailure';
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(status === undefined ? `${code}: ${detail}` : `${status} ${code}: ${detail}`);
  }
}

export interface ClientRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query, starting with '/'. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Readable;
}

/** Keep-alive HTTP to the router; `connections` bounds the sockets it opens. */
export class ClusterClient {
  private readonly agent: Agent;

  constructor(
    readonly base: string,
    private readonly tokens: TokenSource,
    private readonly timeoutMs: number,
    connections = 8,
  ) {
    this.agent = new Agent({ connections, keepAliveTimeout: 10_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });
  }

  /**
   * Sends the request; resolves with the 2xx response (its body still to be
   * read), throws RequestFailure for anything else. `authorization`
   * overrides the user token (the admin token of /_router/...).
   */
  async send(req: ClientRequest, authorization?: string): Promise<Dispatcher.ResponseData> {
    const auth = authorization ?? (await this.tokens.authorization());
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.base}${req.path}`, {
        dispatcher: this.agent,
        method: req.method,
        headers: { ...req.headers, ...(auth === undefined ? {} : { authorization: auth }) },
        body: req.body,
      });
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'request_failed';
      throw new RequestFailure(code, `${req.method} ${this.base}${req.path}: ${(error as Error).message}`, undefined, true);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return response;
    throw await failureOf(response);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The RequestFailure of a non-2xx answer: its problem document's code and detail when it has one. */
async function failureOf(response: Dispatcher.ResponseData): Promise<RequestFailure> {
  const status = response.statusCode;
  const retryable = status === 429 || status >= 500;
  let text = '';
  try {
    for await (const chunk of response.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > MAX_PROBLEM_BYTES) break;
    }
  } catch {
    // The body broke off: the status alone says what happened.
  }
  response.body.destroy();
  try {
    const problem = JSON.parse(text) as { code?: unknown; detail?: unknown; title?: unknown };
    if (typeof problem.code === 'string') {
      const detail = typeof problem.detail === 'string' ? problem.detail : typeof problem.title === 'string' ? problem.title : '';
      return new RequestFailure(problem.code, detail, status, retryable);
    }
  } catch {
    // Not a problem document.
  }
  return new RequestFailure(`http_${status}`, text.slice(0, 200).trim(), status, retryable);
}

/** "1.2 GiB", "340 KiB", "12 B". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
