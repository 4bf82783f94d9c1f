import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';

/** The scopes a token may carry (see auth-options.ts): `read` = read-only, `service` = any user. */
export type TokenScope = 'read' | 'service';

export interface TokenClaims {
  /** The user the token acts as (`sub`). */
  readonly userId: string;
  readonly scopes: readonly TokenScope[];
  /** Lifetime: `exp` = now + ttl. */
  readonly ttlSeconds: number;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  /** The claim that holds the scopes (default `scope`), as the workers' --jwt-scope-claim. */
  readonly scopeClaim?: string | undefined;
}

/**
 * An HS256 JWT for `claims`, signed with `secret` (the UTF-8 bytes of one
 * line of the auth secret file, as the workers verify it). Scopes are a
 * space-separated string; no scope means read and write on `userId` only.
 */
export async function signUserToken(secret: string, claims: TokenClaims, nowMs: number = Date.now()): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  const payload = claims.scopes.length === 0 ? {} : { [claims.scopeClaim ?? 'scope']: claims.scopes.join(' ') };
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds);
  if (claims.issuer !== undefined) jwt.setIssuer(claims.issuer);
  if (claims.audience !== undefined) jwt.setAudience(claims.audience);
  return jwt.sign(createSecretKey(Buffer.from(secret, 'utf8')));
}
