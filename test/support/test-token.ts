/**
 * Users' bearer tokens for tests: HS256 JWTs signed with a worker's auth
 * secret (one line of its --auth-secret-file, used as UTF-8 bytes, as the
 * workers verify it), with the claims docs/SECURITY.md describes.
 */
import { SignJWT } from 'jose';

export interface TestTokenOptions {
  /** `read` (read-only), `service` (any user); none: read and write on `userId` only. */
  scopes?: readonly ('read' | 'service')[];
  /** Lifetime in seconds (default 3600); negative: already expired. */
  ttlSeconds?: number;
}

/** A signed token whose `sub` is `userId`. */
export function signTestToken(secret: string, userId: string, options: TestTokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const scopes = options.scopes ?? [];
  return new SignJWT(scopes.length === 0 ? {} : { scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 3600))
    .sign(new TextEncoder().encode(secret));
}
