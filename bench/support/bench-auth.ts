/**
 * Secrets and tokens for benchmarks that run workers with authentication on
 * (as users run them): an auth secret, an admin token and a cluster secret
 * in files of a temporary directory, the worker flags that name them, and
 * HS256 tokens signed with the auth secret.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecret, writeSecretFile } from '../../services/auth/secret-file.js';
import { signUserToken } from '../../services/auth/token-signer.js';

export interface BenchSecrets {
  auth: string;
  admin: string;
  authFile: string;
  /** --auth-secret-file, --admin-token-file, --cluster-secret-file. */
  workerFlags: string[];
  /** A token for `userId` (scope: read-write) valid for 6 hours. */
  userToken(userId: string): Promise<string>;
  /** One token with scope `service`: any user. */
  serviceToken(): Promise<string>;
}

export function benchSecrets(dir: string): BenchSecrets {
  const secretsDir = join(dir, 'secrets');
  mkdirSync(secretsDir, { mode: 0o700 });
  const auth = generateSecret();
  const admin = generateSecret();
  const files = { auth: join(secretsDir, 'auth'), admin: join(secretsDir, 'admin'), cluster: join(secretsDir, 'cluster') };
  writeSecretFile(files.auth, auth);
  writeSecretFile(files.admin, admin);
  writeSecretFile(files.cluster, generateSecret());
  return {
    auth,
    admin,
    authFile: files.auth,
    workerFlags: ['--auth-secret-file', files.auth, '--admin-token-file', files.admin, '--cluster-secret-file', files.cluster],
    userToken: (userId) => signUserToken(auth, { userId, scopes: [], ttlSeconds: 6 * 3600 }),
    serviceToken: () => signUserToken(auth, { userId: 'bench-service', scopes: ['service'], ttlSeconds: 6 * 3600 }),
  };
}
