/**
 * The secrets of a local cluster (`pinbase up`), kept in `<data>/secrets/`
 * (0700): `auth-secret` (signs and checks users' tokens), `admin-token`
 * (the admin endpoints) and `cluster-secret` (the router's signed hints),
 * each 0600, created with a random value on first use and reused after, so
 * that tokens from `pinbase token` keep working across restarts.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../cli/command.js';
import { MIN_SECRET_LENGTH } from './auth-options.js';
import { readAdminTokenFile } from './admin-token.js';
import { generateSecret, readSecret, readSecretLines, writeSecretFile } from './secret-file.js';

export interface LocalSecrets {
  readonly dir: string;
  readonly authSecretFile: string;
  readonly adminTokenFile: string;
  readonly clusterSecretFile: string;
  /** The files this call created (empty when every one existed). */
  readonly created: readonly string[];
}

/** `<dataDir>/secrets`. */
export function localSecretsDir(dataDir: string): string {
  return join(dataDir, 'secrets');
}

/**
 * Creates what is missing of `<dataDir>/secrets/` and checks what exists,
 * as the workers and the router will read it: a file that cannot be read or
 * holds no valid secret is a one-line CliError (a secret is never silently
 * replaced); permissions wider than 0700/0600 are narrowed. Idempotent.
 */
export function ensureLocalSecrets(dataDir: string): LocalSecrets {
  const dir = localSecretsDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  restrictTo(dir, 0o700);
  const created: string[] = [];
  const ensure = (name: string, check: (path: string) => unknown): string => {
    const path = join(dir, name);
    if (createSecretFile(path)) created.push(path);
    restrictTo(path, 0o600);
    check(path);
    return path;
  };
  return {
    dir,
    authSecretFile: ensure('auth-secret', (path) => readSecretLines(path, 'auth secret', MIN_SECRET_LENGTH)),
    adminTokenFile: ensure('admin-token', readAdminTokenFile),
    clusterSecretFile: ensure('cluster-secret', (path) => readSecret(path, 'cluster secret', MIN_SECRET_LENGTH)),
    created,
  };
}

/** Creates `path` with a new secret unless it exists; returns whether it created it. */
function createSecretFile(path: string): boolean {
  try {
    writeSecretFile(path, generateSecret());
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new CliError(`cannot create ${path}: ${code ?? String(error)}`);
  }
}

/** Narrows `path`'s permissions to `mode` if group or others have any (mkdir and an existing file keep theirs). */
function restrictTo(path: string, mode: number): void {
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, mode);
}
