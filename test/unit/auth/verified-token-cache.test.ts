import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { RAW_KEY_MAX_LENGTH, VerifiedTokenCache } from '../../../services/auth/verified-token-cache.js';

describe('the verified-token cache', () => {
  it('keeps an entry until its expiry or its maximum age, whichever comes first', () => {
    let now = 1000;
    const cache = new VerifiedTokenCache<string>(10, 60_000, () => now);
    cache.set('long', 'L', 1_000_000);
    cache.set('short', 'S', 5000);
    now = 4999;
    expect([cache.get('long'), cache.get('short')]).toEqual(['L', 'S']);
    now = 5000;
    expect(cache.get('short')).toBeUndefined();
    now = 60_999;
    expect(cache.get('long')).toBe('L');
    now = 61_000;
    expect(cache.get('long')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new VerifiedTokenCache<number>(3, 60_000, () => 0);
    for (const [i, token] of ['a', 'b', 'c'].entries()) cache.set(token, i, 1e12);
    expect(cache.get('a')).toBe(0); // a is now the most recently used
    cache.set('d', 3, 1e12);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([0, 2, 3]);
  });

  it('tells tokens apart by their whole text', () => {
    const cache = new VerifiedTokenCache<string>(10, 60_000, () => 0);
    cache.set('header.payload.signature', 'ok', 1e12);
    expect(cache.get('header.payload.signaturf')).toBeUndefined();
    expect(cache.get('header.payload.signature ')).toBeUndefined();
  });

  it('tells long tokens (kept by their SHA-256) apart, and never takes a short token for a long one\'s digest', () => {
    const cache = new VerifiedTokenCache<string>(10, 60_000, () => 0);
    const long = 'a'.repeat(RAW_KEY_MAX_LENGTH + 10);
    cache.set(long, 'long', 1e12);
    expect(cache.get(long)).toBe('long');
    expect(cache.get(`${long.slice(0, -1)}b`)).toBeUndefined();
    // A token spelling the long token's digest key is a token of its own.
    expect(cache.get(`#${createHash('sha256').update(long).digest('base64url')}`)).toBeUndefined();
    cache.set('#short', 'hash-like', 1e12);
    expect(cache.get('#short')).toBe('hash-like');
    expect(cache.size).toBe(2);
  });
});
