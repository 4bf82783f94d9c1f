import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureLocalSecrets } from '../../../services/auth/local-secrets.js';
import { makeTempDir } from '../../support/temp-dir.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the local cluster\'s secrets', () => {
  let dir: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => dir.remove());

  it('are created on first use in <data>/secrets (0700), one random secret per file (0600)', () => {
    const secrets = ensureLocalSecrets(join(dir.path, 'data'));
    expect(secrets.dir).toBe(join(dir.path, 'data', 'secrets'));
    expect(mode(secrets.dir)).toBe(0o700);
    const files = [secrets.authSecretFile, secrets.adminTokenFile, secrets.clusterSecretFile];
    expect(secrets.created).toEqual(files);
    const values = files.map((file) => readFileSync(file, 'utf8'));
    for (const [i, file] of files.entries()) {
      expect(mode(file), file).toBe(0o600);
      expect(values[i]).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    }
    expect(new Set(values).size).toBe(3);
  });

  it('are reused as they are on the next run, and narrowed to 0700/0600 if someone widened them', () => {
    const first = ensureLocalSecrets(dir.path);
    const before = readFileSync(first.authSecretFile, 'utf8');
    writeFileSync(first.authSecretFile, `${before}${'n'.repeat(43)}\n`); // a rotation: two lines
    chmodSync(first.adminTokenFile, 0o644);
    chmodSync(first.dir, 0o755);
    const second = ensureLocalSecrets(dir.path);
    expect(second.created).toEqual([]);
    expect(readFileSync(second.authSecretFile, 'utf8')).toBe(`${before}${'n'.repeat(43)}\n`);
    expect(mode(second.adminTokenFile)).toBe(0o600);
    expect(mode(second.dir)).toBe(0o700);
  });

  it('refuse to start over a secret file that is not valid, instead of replacing it', () => {
    const first = ensureLocalSecrets(dir.path);
    writeFileSync(first.clusterSecretFile, 'too-short\n');
    expect(() => ensureLocalSecrets(dir.path)).toThrow(`the cluster secret in ${first.clusterSecretFile} must be at least 43 characters`);
    expect(readFileSync(first.clusterSecretFile, 'utf8')).toBe('too-short\n');
  });
});
