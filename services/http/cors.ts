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
export function corsOptions(origins: readonly string[]): FastifyCorsOptions {
  return {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'Last-Event-ID'],
    exposedHeaders: ['ETag', 'Location', 'Retry-After', 'WWW-Authenticate', 'Idempotent-Replayed', 'X-Pinbase-Seq', 'X-Pinbase-Worker', 'X-Pinbase-Topology'],
    maxAge: 600,
    // An OPTIONS without Origin is not a preflight: answer it like one rather than with a text/plain 400.
    strictPreflight: false,
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
