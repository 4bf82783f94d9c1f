import type { FastifyCorsOptions } from '@fastify/cors';
import { CliError } from '../cli/command.js';

/**
 * CORS for browser apps that call the API (`--cors-origin`), on the worker,
 * so it holds whether a client goes through the router or straight to a
 * worker. Only the listed origins get `Access-Control-Allow-Origin` (`*`:
 * any); credentials are bearer tokens in a header, never cookies, so
 * `Access-Control-Allow-Credentials` is not sent. Preflights are answered
 * before authentication (a browser sends them without the token).
 */
/** The response headers a page may read (besides the CORS-safelisted ones). */
export const CORS_EXPOSED_HEADERS = ['ETag', 'Location', 'Retry-After', 'WWW-Authenticate', 'Idempotent-Replayed', 'X-Pinbase-Seq', 'X-Pinbase-Worker', 'X-Pinbase-Topology'];

export function corsOptions(origins: readonly string[]): FastifyCorsOptions {
  return {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'Last-Event-ID'],
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: 600,
    // An OPTIONS without Origin is not a preflight: answer it like one rather than with a text/plain 400.
    strictPreflight: false,
  };
}

/**
 * The CORS headers of an answer (not a preflight) to a request from
 * `origin`, as the workers' corsOptions give them: for the router's own
 * answers (a 429, 503, 413… it makes without a worker), so that a page can
 * read their problem document and Retry-After instead of seeing a network
 * error. None when the origin is not listed (or the request has none).
 */
export function corsAnswerHeaders(origins: readonly string[], origin: string | undefined): Record<string, string> | undefined {
  if (origin === undefined || origins.length === 0) return undefined;
  const any = origins.includes('*');
  if (!any && !origins.includes(origin)) return undefined;
  return {
    'access-control-allow-origin': any ? '*' : origin,
    'access-control-expose-headers': CORS_EXPOSED_HEADERS.join(', '),
    ...(any ? {} : { vary: 'Origin' }),
  };
}

/**
 * Parses `--cors-origin` values (repeatable, each comma-separated): every
 * entry is `*` or an origin `scheme://host[:port]` as browsers send it (no
 * path, no trailing slash). A bad entry is a one-line CliError.
 */
export function parseCorsOrigins(values: readonly string[]): string[] {
  const origins: string[] = [];
  for (const value of values) {
    for (const entry of value.split(',').map((e) => e.trim())) {
      if (entry === '') continue;
      if (entry !== '*' && !isOrigin(entry)) {
        throw new CliError(`--cors-origin "${entry}" is not an origin like https://app.example.com or http://localhost:5173`);
      }
      if (!origins.includes(entry)) origins.push(entry);
    }
  }
  return origins;
}

function isOrigin(entry: string): boolean {
  try {
    const url = new URL(entry);
    const host = /^[a-z0-9.-]+$/.test(url.hostname) || /^\[[0-9a-f:.]+\]$/.test(url.hostname);
    return (url.protocol === 'http:' || url.protocol === 'https:') && host && url.origin === entry;
  } catch {
    return false;
  }
}
