import { createHash } from 'node:crypto';

/**
 * Tokens whose signature and claims were verified, so that a client sending
 * the same token on every request pays one signature check per `maxAgeMs`,
 * not one per request.
 *
 * Only successes are kept: a token that failed is checked again in full
 * next time, so nothing here can make a bad token pass. An entry is valid
 * until the token's `exp` or `maxAgeMs` after it was verified, whichever
 * comes first (the short bound limits how long a key removed from a JWKS
 * keeps working). Keyed by the token itself up to RAW_KEY_MAX_LENGTH
 * characters (a typical JWT is 150–400), beyond that by its SHA-256, so a
 * full cache holds at most `maxEntries` × ~1.2 KB whatever the tokens' sizes
 * (≤ 8 KiB each), and a hot client's request costs one map lookup, not a
 * hash of its token; least recently used entries go first.
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; validUntilMs: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The verified value of `token`, or undefined when absent or no longer valid. */
  get(token: string): T | undefined {
    const key = digest(token);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (this.now() >= entry.validUntilMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Remembers that `token` verified to `value`; `expiresAtMs` is its `exp` in ms. */
  set(token: string, value: T, expiresAtMs: number): void {
    const validUntilMs = Math.min(expiresAtMs, this.now() + this.maxAgeMs);
    const key = digest(token);
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, validUntilMs });
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Longest token used as its own cache key; a longer one is keyed by "#" and its SHA-256. */
export const RAW_KEY_MAX_LENGTH = 1024;

function digest(token: string): string {
  // A token that starts with "#" is hashed too, so that no token's own key can be another's digest key.
  if (token.length <= RAW_KEY_MAX_LENGTH && !token.startsWith('#')) return token;
  return `#${createHash('sha256').update(token).digest('base64url')}`;
}
