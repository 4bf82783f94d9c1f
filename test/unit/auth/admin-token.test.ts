import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, isAuthorized, readAdminTokenFile } from '../../../services/auth/admin-token.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('admin token', () => {
  let dir: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => dir.remove());

  it('reads the token from its file, trimming the trailing newline', () => {
    const file = join(dir.path, 'token');
    writeFileSync(file, 'abcdefghijklmnopqrstuvwxyz\n');
    expect(readAdminTokenFile(file)).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(readAdminTokenFile(undefined)).toBeUndefined();
  });

  it('refuses a missing file, a short token and one with spaces, in one line', () => {
    const short = join(dir.path, 'short');
    writeFileSync(short, 'tiny');
    const spaced = join(dir.path, 'spaced');
    writeFileSync(spaced, 'has spaces in the middle of it');
    expect(() => readAdminTokenFile(join(dir.path, 'missing'))).toThrow(/cannot read the admin token file .*ENOENT/);
    expect(() => readAdminTokenFile(short)).toThrow(/at least 16 characters/);
    expect(() => readAdminTokenFile(spaced)).toThrow(/visible ASCII/);
  });

  it('authorizes only the exact Bearer header, and everything when no token is set', () => {
    const token = 'abcdefghijklmnopqrstuvwxyz';
    expect(isAuthorized(bearer(token), token)).toBe(true);
    expect(isAuthorized(undefined, token)).toBe(false);
    expect(isAuthorized(token, token)).toBe(false);
    expect(isAuthorized(bearer(`${token}x`), token)).toBe(false);
    expect(isAuthorized(undefined, undefined)).toBe(true);
  });
});
