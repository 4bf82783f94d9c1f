/**
 * Who may ask what, as configured on the command line: the contract every
 * worker and router parses the same way.
 *
 * - Users' requests (`/api/users/<id>/...`) carry `Authorization: Bearer
 *   <JWT>`, verified by the worker against HS256 secrets and/or a JWKS.
 * - The admin endpoints take the cluster's admin token (a separate secret).
 * - The router's hints to the workers (`X-Pinbase-Down`) are signed with the
 *   cluster secret (HMAC), so that a client that reaches a worker directly
 *   cannot forge them.
 *
 * Without any of it a process serves anyone: allowed on a loopback address
 * (development, tests), refused on any other address unless `--insecure`.
 * A worker that checks users' tokens must also have the admin token and the
 * cluster secret, or its peers and the router could not talk to it.
 */
import { isIP } from 'node:net';
import { CliError } from '../cli/command.js';
import { readAdminTokenFile } from './admin-token.js';
import { readSecret, readSecretLines } from './secret-file.js';

/** Shortest HS256 secret and cluster secret accepted: 256 bits as base64url (RFC 7518 §3.2). */
export const MIN_SECRET_LENGTH = 43;

/** Most HS256 secrets in --auth-secret-file: a bad token is checked against each, so the work per request stays small. */
export const MAX_TOKEN_SECRETS = 4;

/** JWS algorithms a worker may be told to accept; `none` is never one of them. */
export const TOKEN_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

/** How a worker verifies users' bearer tokens. */
export interface TokenVerification {
  /** HS256 secrets, one per line of --auth-secret-file: the first signs (`pinbase token`), every one verifies. */
  readonly secrets: readonly string[];
  /** A JWKS document on disk (public keys), re-read on start only. */
  readonly jwksFile: string | undefined;
  /** A JWKS URL, fetched with a cache. */
  readonly jwksUrl: string | undefined;
  /** The only `alg` values accepted (an explicit allow-list). */
  readonly algorithms: readonly TokenAlgorithm[];
  /** Required `iss`, when set. */
  readonly issuer: string | undefined;
  /** Required `aud`, when set. */
  readonly audience: string | undefined;
  /** The claim that holds the token's scopes (space-separated string or array): `read`, `service`. */
  readonly scopeClaim: string;
  /** Leeway for `exp`/`nbf`/`iat`, in seconds. */
  readonly clockToleranceSeconds: number;
}

export interface AuthOptions {
  /** Undefined: users' requests are not authenticated (loopback or --insecure only). */
  readonly tokens: TokenVerification | undefined;
  /** The admin token; undefined leaves the admin endpoints open (loopback or --insecure only). */
  readonly adminToken: string | undefined;
  /** The HMAC key of the router's hints; undefined: hints are unsigned (loopback or --insecure only). */
  readonly clusterSecret: string | undefined;
}

export const NO_AUTH: AuthOptions = { tokens: undefined, adminToken: undefined, clusterSecret: undefined };

/** The flags of AuthOptions, for parseArgs. The worker takes all of them; the router the cluster ones. */
export const WORKER_AUTH_FLAGS = {
  'auth-secret-file': { type: 'string' },
  'jwks-file': { type: 'string' },
  'jwks-url': { type: 'string' },
  'jwt-algorithms': { type: 'string' },
  'jwt-issuer': { type: 'string' },
  'jwt-audience': { type: 'string' },
  'jwt-scope-claim': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'cluster-secret-file': { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

export const ROUTER_AUTH_FLAGS = {
  'admin-token-file': { type: 'string' },
  'cluster-secret-file': { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

export const WORKER_AUTH_USAGE = `Authentication (see docs/SECURITY.md):
  --auth-secret-file FILE HS256 secrets for users' bearer tokens, one per line (the first signs
                          \`pinbase token\`, every one verifies); at least ${MIN_SECRET_LENGTH} characters each,
                          at most ${MAX_TOKEN_SECRETS} lines
  --jwks-file FILE        public keys (JWKS) for users' tokens
  --jwks-url URL          the same, fetched over HTTP(S) and cached
  --jwt-algorithms LIST   accepted algorithms (default HS256 with a secret file, RS256,ES256,EdDSA with a
                          JWKS); "none" is never accepted
  --jwt-issuer ISS        required "iss" claim
  --jwt-audience AUD      required "aud" claim
  --jwt-scope-claim NAME  the claim with the token's scopes: read (read-only), service (any user)
                          (default scope)
  --admin-token-file FILE the cluster's admin token, required on /_worker/... and sent to other
                          workers in handover requests; every router and worker gets the same file
  --cluster-secret-file FILE
                          the key the router signs its hints with; every router and worker gets the
                          same file
  --insecure              allow a non-loopback --host without authentication`;

export const ROUTER_AUTH_USAGE = `Authentication (see docs/SECURITY.md):
  --admin-token-file FILE         required (Authorization: Bearer) on the admin endpoints; give
                                  workers the same file
  --cluster-secret-file FILE      the key this router signs its hints to the workers with; give
                                  workers the same file
  --insecure                      allow a non-loopback --host without authentication`;

type WorkerAuthValues = { [K in keyof typeof WORKER_AUTH_FLAGS]?: (typeof WORKER_AUTH_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };
type RouterAuthValues = { [K in keyof typeof ROUTER_AUTH_FLAGS]?: (typeof ROUTER_AUTH_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** Whether `host` is a loopback address (or `localhost`): nothing outside this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** Parses a worker's authentication flags; a bad or unsafe combination is a one-line CliError. */
export function parseWorkerAuth(values: WorkerAuthValues, host: string): AuthOptions {
  const secretFile = values['auth-secret-file'];
  const jwksFile = values['jwks-file'];
  const jwksUrl = values['jwks-url'];
  const verifies = secretFile !== undefined || jwksFile !== undefined || jwksUrl !== undefined;
  const onlyWithTokens = (['jwt-algorithms', 'jwt-issuer', 'jwt-audience', 'jwt-scope-claim'] as const).filter((f) => values[f] !== undefined);
  if (!verifies && onlyWithTokens.length > 0) {
    throw new CliError(`--${onlyWithTokens[0]} needs --auth-secret-file, --jwks-file or --jwks-url`);
  }
  if (jwksUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(jwksUrl)) throw new CliError(`--jwks-url must be an http(s) URL, got "${jwksUrl}"`);
  const tokens: TokenVerification | undefined = verifies
    ? {
        secrets: secretFile === undefined ? [] : readTokenSecrets(secretFile),
        jwksFile,
        jwksUrl,
        algorithms: parseAlgorithms(values['jwt-algorithms'], secretFile !== undefined, jwksFile !== undefined || jwksUrl !== undefined),
        issuer: values['jwt-issuer'],
        audience: values['jwt-audience'],
        scopeClaim: values['jwt-scope-claim'] ?? 'scope',
        clockToleranceSeconds: 5,
      }
    : undefined;
  const auth: AuthOptions = {
    tokens,
    adminToken: readAdminTokenFile(values['admin-token-file']),
    clusterSecret: readClusterSecret(values['cluster-secret-file']),
  };
  if (tokens !== undefined && (auth.adminToken === undefined || auth.clusterSecret === undefined)) {
    throw new CliError('a worker that checks users\' tokens also needs --admin-token-file and --cluster-secret-file');
  }
  assertSafeToListen(host, auth.tokens !== undefined && auth.adminToken !== undefined, values.insecure === true);
  return auth;
}

/** Parses a router's authentication flags (the router passes users' tokens through unverified). */
export function parseRouterAuth(values: RouterAuthValues, host: string): AuthOptions {
  const auth: AuthOptions = {
    tokens: undefined,
    adminToken: readAdminTokenFile(values['admin-token-file']),
    clusterSecret: readClusterSecret(values['cluster-secret-file']),
  };
  assertSafeToListen(host, auth.adminToken !== undefined && auth.clusterSecret !== undefined, values.insecure === true);
  return auth;
}

function readTokenSecrets(path: string): string[] {
  const secrets = readSecretLines(path, 'auth secret', MIN_SECRET_LENGTH);
  if (secrets.length > MAX_TOKEN_SECRETS) {
    throw new CliError(`the auth secret file ${path} holds ${secrets.length} secrets; at most ${MAX_TOKEN_SECRETS} (the current one and those being rotated out)`);
  }
  return secrets;
}

function readClusterSecret(path: string | undefined): string | undefined {
  return path === undefined ? undefined : readSecret(path, 'cluster secret', MIN_SECRET_LENGTH);
}

function parseAlgorithms(list: string | undefined, hasSecret: boolean, hasJwks: boolean): TokenAlgorithm[] {
  const names =
    list === undefined
      ? [...(hasSecret ? ['HS256'] : []), ...(hasJwks ? ['RS256', 'ES256', 'EdDSA'] : [])]
      : list.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const algorithms: TokenAlgorithm[] = [];
  for (const name of names) {
    const known = TOKEN_ALGORITHMS.find((alg) => alg === name);
    if (known === undefined) throw new CliError(`--jwt-algorithms: "${name}" is not one of ${TOKEN_ALGORITHMS.join(', ')}`);
    if (known.startsWith('HS') ? !hasSecret : !hasJwks) {
      throw new CliError(`--jwt-algorithms: ${known} needs ${known.startsWith('HS') ? '--auth-secret-file' : '--jwks-file or --jwks-url'}`);
    }
    algorithms.push(known);
  }
  if (algorithms.length === 0) throw new CliError('--jwt-algorithms must name at least one algorithm');
  return algorithms;
}

/**
 * Refuses to serve without authentication on an address other machines can
 * reach, unless the operator said --insecure.
 */
function assertSafeToListen(host: string, authenticated: boolean, insecure: boolean): void {
  if (authenticated || insecure || isLoopbackHost(host)) return;
  throw new CliError(
    `refusing to listen on ${host} without authentication: configure it (see docs/SECURITY.md) or pass --insecure`,
  );
}
