/**
 * A real local cluster with authentication on (router + workers from dist/,
 * as in real-cluster.ts) and a way to sign users' tokens for it: what the
 * client tests run against.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { signUserToken, type TokenScope } from '../../../services/auth/token-signer.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { RealCluster } from '../router/real-cluster.js';

export interface AuthCluster {
  cluster: RealCluster;
  /** A token for `userId` (read and write unless `scopes` says otherwise), valid 10 minutes. */
  tokenFor(userId: string, scopes?: TokenScope[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startAuthCluster(workers: number, extraWorkerArgs: string[] = []): Promise<AuthCluster> {
  const dir = makeTempDir('pinbase-client-');
  const secret = generateSecret();
  const authFile = join(dir.path, 'auth-secret');
  const clusterFile = join(dir.path, 'cluster-secret');
  writeFileSync(authFile, `${secret}\n`, { mode: 0o600 });
  const adminFile = join(dir.path, 'admin-token');
  writeFileSync(clusterFile, `${generateSecret()}\n`, { mode: 0o600 });
  writeFileSync(adminFile, `${generateSecret()}\n`, { mode: 0o600 });
  const cluster = await RealCluster.start(
    workers,
    ['--cluster-secret-file', clusterFile, '--admin-token-file', adminFile],
    ['--auth-secret-file', authFile, '--cluster-secret-file', clusterFile, '--admin-token-file', adminFile, ...extraWorkerArgs],
  );
  return {
    cluster,
    tokenFor: (userId, scopes = []) => signUserToken(secret, { userId, scopes, ttlSeconds: 600 }),
    async stop() {
      await cluster.stop();
      dir.remove();
    },
  };
}
