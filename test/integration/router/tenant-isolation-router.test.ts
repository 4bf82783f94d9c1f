/**
 * The tenant-isolation matrix (test/support/tenant-isolation-matrix.ts)
 * through the router: a router and two worker processes with
 * authentication on; every route × credential answered as the matrix says,
 * and a refusal leaves every file under the data directory and the
 * victim's latest commit as they were. (The same matrix runs directly at a
 * worker in test/integration/worker/tenant-isolation.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';
import { checkTenantIsolation, createMatrixKeys, MATRIX_CREDENTIALS, MATRIX_ROUTES, type MatrixKeys } from '../../support/tenant-isolation-matrix.js';
import { RealCluster } from './real-cluster.js';

describe('tenant isolation through the router', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let keys: MatrixKeys;
  let cluster: RealCluster;
  beforeAll(async () => {
    dir = makeTempDir('pinbase-matrix-router-');
    keys = await createMatrixKeys(dir.path);
    const flag = (name: string) => keys.workerArgs[keys.workerArgs.indexOf(name) + 1]!;
    cluster = await RealCluster.start(
      2,
      ['--admin-token-file', flag('--admin-token-file'), '--cluster-secret-file', flag('--cluster-secret-file')],
      // A short auth window: the WebSocket rows without a token wait for it to close the socket.
      [...keys.workerArgs, '--socket-auth-timeout', '300ms'],
    );
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    dir.remove();
  });

  it('answers every route × credential as the matrix says, and a refusal writes and creates nothing', async () => {
    const rows = await checkTenantIsolation({ url: cluster.url, dataDir: cluster.dataDir }, keys);
    expect(rows.length).toBeGreaterThanOrEqual(MATRIX_ROUTES.length * MATRIX_CREDENTIALS.length);
  }, 180_000);
});
