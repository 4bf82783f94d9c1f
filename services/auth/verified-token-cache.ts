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
 * keeps working). Keyed by the SHA-256 of the token, so a full cache holds
 * `maxEntries` × ~150 bytes whatever the tokens' sizes (≤ 8 KiB each);
 * least recently used entries go first.
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

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
