import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { TokenVerifier } from '../../../services/auth/token-verifier.js';
import { assertBuilt, CLI } from '../../support/cli-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

function pinbase(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });
}

function verifier(secrets: string[], claims: { issuer?: string; audience?: string } = {}): TokenVerifier {
  return TokenVerifier.fromOptions({
    secrets,
    jwksFile: undefined,
    jwksUrl: undefined,
    algorithms: ['HS256'],
    issuer: claims.issuer,
    audience: claims.audience,
    scopeClaim: 'scope',
    clockToleranceSeconds: 5,
  });
}

describe('pinbase token', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let secret: string;
  beforeEach(() => {
    assertBuilt();
    dir = makeTempDir();
    secret = generateSecret();
    mkdirSync(join(dir.path, 'data', 'secrets'), { recursive: true });
    // A file in rotation: the first secret signs, the second only verifies.
    writeFileSync(join(dir.path, 'data', 'secrets', 'auth-secret'), `${secret}\n${generateSecret()}\n`);
  });
  afterEach(() => dir.remove());

  it('prints an HS256 token for the user from ./data/secrets/auth-secret that a worker with that secret accepts', async () => {
    const result = pinbase(dir.path, 'token', 'alice');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = result.stdout.trim();
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims.sub).toBe('alice');
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(30);
    expect(await verifier([secret]).verify(token)).toEqual({ subject: 'alice', readOnly: false, service: false });
    await expect(verifier([generateSecret()]).verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('grants the scopes, lifetime, issuer and audience asked for, from --secret-file or --data', async () => {
    const file = join(dir.path, 'other-secret');
    const other = generateSecret();
    writeFileSync(file, other);
    const result = pinbase(dir.path, 'token', 'billing', '--service', '--read-only', '--ttl', '15m', '--secret-file', file, '--issuer', 'iss1', '--audience', 'aud1');
    expect(result.status, result.stderr).toBe(0);
    const token = result.stdout.trim();
    expect(decodeJwt(token)).toMatchObject({ sub: 'billing', scope: 'read service', iss: 'iss1', aud: 'aud1' });
    expect(decodeJwt(token).exp! - decodeJwt(token).iat!).toBe(900);
    expect(await verifier([other], { issuer: 'iss1', audience: 'aud1' }).verify(token)).toEqual({ subject: 'billing', readOnly: true, service: true });

    mkdirSync(join(dir.path, 'elsewhere', 'secrets'), { recursive: true });
    writeFileSync(join(dir.path, 'elsewhere', 'secrets', 'auth-secret'), other);
    const fromData = pinbase(dir.path, 'token', 'bob', '--data', 'elsewhere', '--scope-claim', 'roles', '--read-only');
    expect(decodeJwt(fromData.stdout.trim())).toMatchObject({ sub: 'bob', roles: 'read' });
  });

  it('says in one line what is wrong', () => {
    const cases: [string[], string][] = [
      [['token'], 'pinbase: give exactly one user id: pinbase token <userId>\n'],
      [['token', 'a', 'b'], 'pinbase: give exactly one user id: pinbase token <userId>\n'],
      [['token', 'al/ice'], 'pinbase: the user id must match ^[A-Za-z0-9_-]{1,64}$, got "al/ice"\n'],
      [['token', 'alice', '--ttl', '31d'], 'pinbase: --ttl must be a duration from 1s to 30d, like 15m, 1h or 7d, got "31d"\n'],
      [['token', 'alice', '--ttl', 'soon'], 'pinbase: --ttl must be a duration from 1s to 30d, like 15m, 1h or 7d, got "soon"\n'],
      [['token', 'alice', '--data', 'x', '--secret-file', 'y'], 'pinbase: give --data or --secret-file, not both\n'],
    ];
    for (const [args, stderr] of cases) {
      const result = pinbase(dir.path, ...args);
      expect({ args, status: result.status, stderr: result.stderr }).toEqual({ args, status: 2, stderr });
    }
    const fresh = makeTempDir();
    try {
      const result = pinbase(fresh.path, 'token', 'alice');
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/cannot read the auth secret file .*ENOENT: start the local cluster once with `pinbase up`/);
    } finally {
      fresh.remove();
    }
  });
});
