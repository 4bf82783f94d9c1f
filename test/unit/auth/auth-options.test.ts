import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLoopbackHost, MAX_TOKEN_SECRETS, parseRouterAuth, parseWorkerAuth } from '../../../services/auth/auth-options.js';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('authentication flags', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let secret: string;
  let admin: string;
  let cluster: string;
  beforeEach(() => {
    dir = makeTempDir();
    secret = join(dir.path, 'auth-secret');
    admin = join(dir.path, 'admin-token');
    cluster = join(dir.path, 'cluster-secret');
    writeFileSync(secret, `${generateSecret()}\n${generateSecret()}\n`);
    writeFileSync(admin, generateSecret());
    writeFileSync(cluster, generateSecret());
  });
  afterEach(() => dir.remove());

  it('reads every secret of the HS256 file (rotation) and defaults to HS256 only', () => {
    const auth = parseWorkerAuth({ 'auth-secret-file': secret, 'admin-token-file': admin, 'cluster-secret-file': cluster }, '0.0.0.0');
    expect(auth.tokens?.secrets).toHaveLength(2);
    expect(auth.tokens?.algorithms).toEqual(['HS256']);
    expect(auth.tokens?.scopeClaim).toBe('scope');
    expect(auth.adminToken).toHaveLength(43);
    expect(auth.clusterSecret).toHaveLength(43);
  });

  it('refuses more than a few HS256 secrets (each is tried on a bad token)', () => {
    writeFileSync(secret, Array.from({ length: MAX_TOKEN_SECRETS + 1 }, () => generateSecret()).join('\n'));
    const base = { 'auth-secret-file': secret, 'admin-token-file': admin, 'cluster-secret-file': cluster };
    expect(() => parseWorkerAuth(base, '127.0.0.1')).toThrow(`the auth secret file ${secret} holds ${MAX_TOKEN_SECRETS + 1} secrets; at most ${MAX_TOKEN_SECRETS}`);
  });

  it('refuses a worker that checks tokens without the admin token or the cluster secret', () => {
    expect(() => parseWorkerAuth({ 'auth-secret-file': secret, 'admin-token-file': admin }, '127.0.0.1')).toThrow(/--cluster-secret-file/);
    expect(() => parseWorkerAuth({ 'auth-secret-file': secret, 'cluster-secret-file': cluster }, '127.0.0.1')).toThrow(/--admin-token-file/);
  });

  it('refuses algorithms it has no key for, unknown ones and "none"', () => {
    const base = { 'auth-secret-file': secret, 'admin-token-file': admin, 'cluster-secret-file': cluster };
    expect(() => parseWorkerAuth({ ...base, 'jwt-algorithms': 'RS256' }, '127.0.0.1')).toThrow(/RS256 needs --jwks-file/);
    expect(() => parseWorkerAuth({ ...base, 'jwt-algorithms': 'none' }, '127.0.0.1')).toThrow(/"none" is not one of/);
    expect(() => parseWorkerAuth({ ...base, 'jwt-algorithms': 'HS256,XS1' }, '127.0.0.1')).toThrow(/"XS1"/);
  });

  it('refuses token options without a key to check tokens with', () => {
    expect(() => parseWorkerAuth({ 'jwt-issuer': 'me' }, '127.0.0.1')).toThrow(/--jwt-issuer needs --auth-secret-file/);
  });

  it('refuses a short secret in one line naming the file', () => {
    writeFileSync(cluster, 'short-secret-of-thirty-characters');
    expect(() => parseRouterAuth({ 'cluster-secret-file': cluster }, '127.0.0.1')).toThrow(`the cluster secret in ${cluster} must be at least 43 characters`);
  });

  it('serves without authentication on loopback only, unless told --insecure', () => {
    expect(parseWorkerAuth({}, '127.0.0.1').tokens).toBeUndefined();
    expect(() => parseWorkerAuth({}, '10.0.0.5')).toThrow(/refusing to listen on 10.0.0.5 without authentication/);
    expect(() => parseRouterAuth({ 'admin-token-file': admin }, '0.0.0.0')).toThrow(/refusing to listen on 0.0.0.0/);
    expect(parseWorkerAuth({ insecure: true }, '10.0.0.5').tokens).toBeUndefined();
    expect(parseRouterAuth({ 'admin-token-file': admin, 'cluster-secret-file': cluster }, '0.0.0.0').adminToken).toBeDefined();
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(false);
  });
});
