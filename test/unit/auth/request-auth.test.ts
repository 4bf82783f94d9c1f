import { describe, expect, it } from 'vitest';
import { authorize, bearerToken, challengeFor, isWrite } from '../../../services/auth/request-auth.js';
import { PinbaseError } from '../../../services/problem/pinbase-error.js';

describe('the bearer credential of an Authorization header', () => {
  it('takes the token of the Bearer scheme, in any case, with any spacing', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer   abc.def.ghi  ')).toBe('abc.def.ghi');
    expect(bearerToken('BEARER a-b_c~d+e/f==')).toBe('a-b_c~d+e/f==');
  });

  it('finds no token in an empty header, another scheme, or a bare "Bearer"', () => {
    for (const header of ['', '   ', 'Basic YWxpY2U6cHc=', 'Token abc', 'Bearer', 'Bearer   ', 'Bearerabc']) {
      expect(bearerToken(header), JSON.stringify(header)).toBeUndefined();
    }
  });

  it('refuses a credential that is not one token68 word as invalid_token', () => {
    for (const header of ['Bearer a b', 'Bearer a,b', 'Bearer "abc"', 'Bearer abc=def']) {
      expect(() => bearerToken(header), header).toThrow(PinbaseError);
    }
  });

  it('reads a long header of spaces in linear time (an unauthenticated client chooses it)', () => {
    // 32 KiB: twice Node's default header limit. A backtracking pattern took seconds on this one.
    const header = `Bearer x${' '.repeat(32 * 1024)}x`;
    const started = performance.now();
    expect(() => bearerToken(header)).toThrow(PinbaseError);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe('what a verified token may do', () => {
  const token = (subject: string, scopes: { readOnly?: boolean; service?: boolean } = {}) => ({
    subject,
    readOnly: scopes.readOnly ?? false,
    service: scopes.service ?? false,
  });

  it('counts every method but GET, HEAD and OPTIONS as a write', () => {
    expect(['GET', 'HEAD', 'OPTIONS'].map(isWrite)).toEqual([false, false, false]);
    expect(['PUT', 'PATCH', 'DELETE', 'POST', 'PROPFIND'].map(isWrite)).toEqual([true, true, true, true, true]);
  });

  it('lets a token read and write its own user only', () => {
    expect(authorize(token('alice'), 'alice', 'PUT')).toBeUndefined();
    expect(authorize(token('alice'), 'bob', 'GET')?.code).toBe('forbidden');
    expect(authorize(token('alice'), 'Alice', 'GET')?.code).toBe('forbidden');
  });

  it('lets a read-only token read, and refuses its writes with insufficient_scope', () => {
    expect(authorize(token('alice', { readOnly: true }), 'alice', 'GET')).toBeUndefined();
    expect(authorize(token('alice', { readOnly: true }), 'alice', 'DELETE')?.code).toBe('insufficient_scope');
    expect(authorize(token('alice', { readOnly: true }), 'bob', 'DELETE')?.code).toBe('forbidden');
  });

  it('lets a service token act on any user, read-only if it also has the read scope', () => {
    expect(authorize(token('billing', { service: true }), 'bob', 'POST')).toBeUndefined();
    expect(authorize(token('billing', { service: true, readOnly: true }), 'bob', 'GET')).toBeUndefined();
    expect(authorize(token('billing', { service: true, readOnly: true }), 'bob', 'PATCH')?.code).toBe('insufficient_scope');
  });

  it('challenges as RFC 6750 says: realm alone without a token, the error code with a bad token or too little scope', () => {
    expect(challengeFor(new PinbaseError('missing_token'))).toBe('Bearer realm="pinbase"');
    expect(challengeFor(new PinbaseError('invalid_token'))).toBe('Bearer realm="pinbase", error="invalid_token"');
    expect(challengeFor(new PinbaseError('insufficient_scope'))).toBe('Bearer realm="pinbase", error="insufficient_scope"');
    expect(challengeFor(new PinbaseError('forbidden'))).toBeUndefined();
  });
});
