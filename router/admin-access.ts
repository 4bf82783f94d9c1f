/**
 * Who may use the router's admin endpoints. Those that change state (every
 * POST: drain, undrain) or show tenant data (`GET /_router/status` and
 * `GET /_router/users` list users; `GET /_router/stats`, the dashboard's history, goes with them) are guarded; `/healthz`, `/readyz`, `/metrics` (no user ids) and
 * the dashboard page itself (static HTML that asks for the token) are open.
 *
 * - A request whose body a cross-site HTML form could send (`text/plain`,
 *   `application/x-www-form-urlencoded`, `multipart/form-data`) is refused
 *   with 415 on every state-changing endpoint, token or not: the admin
 *   endpoints take no body.
 * - With an admin token, a guarded endpoint needs `Authorization: Bearer
 *   <token>` (401 `unauthorized` otherwise). The credential is read from
 *   that header only, never from a query, a form or a cookie, so a page of
 *   another site cannot send it (a browser asks the router first, and the
 *   router answers no CORS preflight).
 * - Without one (loopback, or --insecure), the router refuses (403
 *   `cross_site_request`) what a page of another site could send through
 *   an operator's browser: a state-changing request with `Sec-Fetch-Site`
 *   `cross-site` or `same-site`, or with an `Origin` whose host is not the
 *   `Host` the request was sent to; and, on a router that listens on
 *   loopback, any guarded request whose `Host` is not a loopback name (a
 *   DNS-rebinding page reaches 127.0.0.1 under its own host name).
 */
import { isAuthorized } from '../services/auth/admin-token.js';
import { isLoopbackHost } from '../services/auth/auth-options.js';
import { PinbaseError } from '../services/problem/pinbase-error.js';

export interface AdminAccessPolicy {
  /** Undefined: no admin token is configured. */
  readonly adminToken: string | undefined;
  /** The router listens on a loopback address only. */
  readonly listensOnLoopback: boolean;
}

/** What the check reads of a request. */
export interface AdminRequest {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Content types a cross-site HTML form (or a "simple" fetch) can send without asking the router first. */
const FORM_CONTENT_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

/** The WWW-Authenticate value of a 401 from the admin endpoints. */
export const ADMIN_CHALLENGE = 'Bearer realm="pinbase-admin"';

/** Whether the endpoint changes state or shows tenant data. */
export function isGuarded(request: AdminRequest): boolean {
  return changesState(request.method) || request.path === '/_router/status' || request.path === '/_router/users' || request.path === '/_router/stats';
}

/** Why `request` is refused (a 415, 401 or 403 problem), or undefined when it may proceed. */
export function adminRefusal(request: AdminRequest, policy: AdminAccessPolicy): PinbaseError | undefined {
  const unsafe = changesState(request.method);
  if (unsafe && isFormContentType(header(request, 'content-type'))) {
    return new PinbaseError('unsupported_media_type', 'the admin endpoints take no body; a form or text/plain body is refused');
  }
  if (!isGuarded(request)) return undefined;
  if (policy.adminToken !== undefined) {
    if (isAuthorized(header(request, 'authorization'), policy.adminToken)) return undefined;
    return new PinbaseError('unauthorized', 'this admin endpoint needs the cluster admin token (Authorization: Bearer ...)');
  }
  const host = header(request, 'host') ?? '';
  if (policy.listensOnLoopback && !isLoopbackHost(hostName(host))) {
    return new PinbaseError('cross_site_request', `the Host "${host}" does not name this machine's loopback interface`);
  }
  if (!unsafe) return undefined;
  const site = header(request, 'sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return new PinbaseError('cross_site_request', `refused a ${site} request`);
  const origin = header(request, 'origin');
  if (origin !== undefined && originHost(origin) !== host.toLowerCase()) {
    return new PinbaseError('cross_site_request', `refused a request from origin ${origin}`);
  }
  return undefined;
}

function changesState(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

function header(request: AdminRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isFormContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const semicolon = value.indexOf(';');
  return FORM_CONTENT_TYPES.has((semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase());
}

/** The host name of a Host value (`name`, `name:port`, `[v6]:port`), brackets removed. */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') < 0 ? undefined : host.indexOf(']')).toLowerCase();
  const colon = host.indexOf(':');
  return (colon < 0 ? host : host.slice(0, colon)).toLowerCase();
}

/** The `host[:port]` of an Origin (scheme ignored: a TLS terminator may sit in front), or '' if it has none ("null"). */
function originHost(origin: string): string {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return '';
  }
}
