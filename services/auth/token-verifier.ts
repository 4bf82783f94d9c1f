/**
 * Verifies users' bearer tokens (JWS-signed JWTs) with jose: HS256 secrets
 * and/or public keys from a JWKS (a file read at start-up, or a URL fetched
 * with a cache). What a token grants is decided elsewhere
 * (request-auth.ts); this module only says who it is and which scopes it has.
 */
import { createSecretKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { CliError } from '../cli/command.js';
import { PinbaseError } from '../problem/pinbase-error.js';
import type { TokenVerification } from './auth-options.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** Longest token accepted, in characters; anything longer is refused unread (RFC 8725 §3.1: bound the work). */
export const MAX_TOKEN_LENGTH = 8192;

/** Verified tokens kept (see VerifiedTokenCache: ~150 bytes each). */
const CACHE_ENTRIES = 10_000;
/** How long a verified token is trusted without a new signature check (at most until its `exp`). */
const CACHE_MAX_AGE_MS = 60_000;

/** A JWKS URL's keys are kept this long, re-fetched at most once per cooldown for an unknown `kid`, and each fetch is given this long. */
export const REMOTE_JWKS_TIMING = { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000, timeoutDuration: 3000 };

/** Who a verified token speaks for, and what its scopes allow. */
export interface VerifiedToken {
  /** The `sub` claim: the user id the token acts as. */
  readonly subject: string;
  /** Scope `read`: reads only. */
  readonly readOnly: boolean;
  /** Scope `service`: any user, not only `subject`. */
  readonly service: boolean;
}

/**
 * Checks tokens against the configured keys and claims. `verify` resolves
 * with what a valid token grants, or rejects with a PinbaseError:
 * `invalid_token` (401: malformed, too long, wrong or missing algorithm,
 * bad signature, expired, wrong issuer or audience, missing `sub`/`exp`, a
 * malformed scope claim) or `token_keys_unavailable` (503: the JWKS URL
 * could not be fetched, so the token could not be checked).
 */
export class TokenVerifier {
  private readonly cache: VerifiedTokenCache<VerifiedToken>;
  private readonly secretKeys: JWTVerifyGetKey[];
  private readonly jwks: JWTVerifyGetKey[];
  private readonly algorithms: readonly string[];

  constructor(
    private readonly options: TokenVerification,
    keys: { jwks: JSONWebKeySet | undefined },
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new VerifiedTokenCache(CACHE_ENTRIES, CACHE_MAX_AGE_MS, now);
    this.secretKeys = options.secrets.map((secret) => {
      const key = createSecretKey(Buffer.from(secret, 'utf8'));
      return () => key;
    });
    this.jwks = [];
    if (keys.jwks !== undefined) this.jwks.push(createLocalJWKSet(keys.jwks));
    if (options.jwksUrl !== undefined) this.jwks.push(remoteKeys(new URL(options.jwksUrl)));
    this.algorithms = options.algorithms;
  }

  /** Reads the JWKS file, if any (a missing, malformed or private one is a one-line CliError), and builds the verifier. */
  static fromOptions(options: TokenVerification): TokenVerifier {
    return new TokenVerifier(options, { jwks: options.jwksFile === undefined ? undefined : readJwksFile(options.jwksFile) });
  }

  /** What `token` was verified to, if it was within the cache's bounds (no signature check, no promise); else undefined. */
  cached(token: string): VerifiedToken | undefined {
    return token.length > MAX_TOKEN_LENGTH ? undefined : this.cache.get(token);
  }

  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_LENGTH) throw invalid(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    const alg = algorithmOf(token);
    if (!this.algorithms.includes(alg)) {
      throw invalid(`tokens signed with ${/^[A-Za-z0-9]{1,16}$/.test(alg) ? alg : 'this algorithm'} are not accepted here`);
    }
    const options: JWTVerifyOptions = {
      algorithms: [alg],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: this.options.clockToleranceSeconds,
      currentDate: new Date(this.now()),
      ...(this.options.issuer === undefined ? {} : { issuer: this.options.issuer }),
      ...(this.options.audience === undefined ? {} : { audience: this.options.audience }),
    };
    const payload = alg.startsWith('HS') ? await this.verifyWithSecrets(token, options) : await this.verifyWithJwks(token, options);
    const verified = grantOf(payload, this.options.scopeClaim);
    this.cache.set(token, verified, (payload.exp as number) * 1000);
    return verified;
  }

  /** Rotation: every secret is tried (at most a few, see auth-options.ts); only a bad signature moves on to the next. */
  private async verifyWithSecrets(token: string, options: JWTVerifyOptions): Promise<JWTPayload> {
    return this.firstThatVerifies(token, options, this.secretKeys, errors.JWSSignatureVerificationFailed);
  }

  /** The JWKS file first, then the URL: a `kid` the file does not know moves on to the URL. */
  private async verifyWithJwks(token: string, options: JWTVerifyOptions): Promise<JWTPayload> {
    return this.firstThatVerifies(token, options, this.jwks, errors.JWKSNoMatchingKey);
  }

  private async firstThatVerifies(
    token: string,
    options: JWTVerifyOptions,
    keys: readonly JWTVerifyGetKey[],
    tryNextOn: new (...args: never[]) => Error,
  ): Promise<JWTPayload> {
    if (keys.length === 0) throw invalid('no key is configured for this algorithm');
    for (let i = 0; ; i++) {
      try {
        return (await jwtVerify(token, keys[i]!, options)).payload;
      } catch (error) {
        if (error instanceof tryNextOn && i + 1 < keys.length) continue;
        throw rejection(error);
      }
    }
  }
}

/** The `alg` of a token's protected header; anything that is not a compact JWS is invalid_token. */
function algorithmOf(token: string): string {
  if (token.split('.').length !== 3) throw invalid('the token is not a signed JWT (three base64url parts)');
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw invalid('the token\'s header is not base64url-encoded JSON');
  }
  if (typeof alg !== 'string') throw invalid('the token\'s header has no "alg"');
  return alg;
}

/** What a verified payload grants: its subject and its scopes (a space-separated string or an array of strings). */
function grantOf(payload: JWTPayload, scopeClaim: string): VerifiedToken {
  if (typeof payload.sub !== 'string' || payload.sub === '') throw invalid('the token\'s "sub" claim must be a non-empty string');
  const claim = payload[scopeClaim];
  let scopes: string[];
  if (claim === undefined) scopes = [];
  else if (typeof claim === 'string') scopes = claim.split(' ');
  else if (Array.isArray(claim) && claim.every((s) => typeof s === 'string')) scopes = claim;
  else throw invalid(`the token's "${scopeClaim}" claim must be a string or an array of strings`);
  return { subject: payload.sub, readOnly: scopes.includes('read'), service: scopes.includes('service') };
}

function invalid(detail: string): PinbaseError {
  return new PinbaseError('invalid_token', detail);
}

/** A jose failure as the client should see it; the token itself is never part of a detail. */
function rejection(error: unknown): PinbaseError {
  if (error instanceof PinbaseError) return error;
  if (error instanceof KeysUnavailable) return new PinbaseError('token_keys_unavailable', error.message, { cause: error.cause });
  if (error instanceof errors.JWTExpired) return invalid(error.claim === 'exp' ? 'the token has expired' : error.message);
  if (error instanceof errors.JWTClaimValidationFailed) {
    return invalid(error.reason === 'missing' ? `the token has no "${error.claim}" claim` : `the token's "${error.claim}" claim is not accepted here`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return invalid('the token\'s signature does not verify');
  if (error instanceof errors.JWKSNoMatchingKey) return invalid('no configured key matches the token\'s "kid" and "alg"');
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid('the token\'s algorithm is not accepted here');
  if (error instanceof errors.JOSEError) return invalid(`the token is malformed (${error.code})`);
  return invalid('the token could not be verified');
}

/** The JWKS URL could not give its keys: the token is not known to be bad, the worker cannot check it now. */
class KeysUnavailable extends Error {}

/**
 * A JWKS URL's keys, cached (REMOTE_JWKS_TIMING). A key the set does not
 * have is `JWKSNoMatchingKey` (the token is bad); a fetch that fails or
 * returns no usable set is KeysUnavailable (the worker cannot tell).
 */
function remoteKeys(url: URL): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(url, REMOTE_JWKS_TIMING);
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      if (error instanceof errors.JOSENotSupported || error instanceof errors.JWKInvalid) throw error;
      throw new KeysUnavailable(`the token keys at ${url.origin} could not be fetched`, { cause: error });
    }
  };
}

/** Reads a JWKS file of public keys; anything else stops the worker at start-up with one line. */
export function readJwksFile(path: string): JSONWebKeySet {
  let jwks: unknown;
  try {
    jwks = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'not JSON';
    throw new CliError(`cannot read the JWKS file ${path}: ${reason}`);
  }
  const keys = (jwks as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'object' && k !== null)) {
    throw new CliError(`the JWKS file ${path} must be {"keys": [...]} with at least one key`);
  }
  if (keys.some((k: Record<string, unknown>) => 'd' in k || 'k' in k || k.kty === 'oct')) {
    throw new CliError(`the JWKS file ${path} must hold public keys only (no "d", no symmetric keys)`);
  }
  try {
    createLocalJWKSet(jwks as JSONWebKeySet);
  } catch (error) {
    throw new CliError(`the JWKS file ${path} is not a valid key set: ${(error as Error).message}`);
  }
  return jwks as JSONWebKeySet;
}
