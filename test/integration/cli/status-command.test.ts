import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { CLI } from '../../support/cli-process.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { RealCluster } from '../router/real-cluster.js';

const ADMIN = generateSecret();
const WORKER_LINE = /^w1\s+http:\/\/127\.0\.0\.1:\d+\s+up\s+\d+\s+\d+\s+\d+$/m;

/** `pinbase status` in `cwd` (spawnSync would block the event loop the fake router answers on). */
function status(cwd: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'status', ...args], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pinbase status against a router that requires the admin token', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let cluster: RealCluster;
  let router: string;
  beforeAll(async () => {
    dir = makeTempDir();
    writeFileSync(join(dir.path, 'admin'), `${ADMIN}\n`);
    cluster = await RealCluster.start(1, ['--admin-token-file', join(dir.path, 'admin')]);
    router = cluster.url;
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    dir.remove();
  });

  it('sends the token of --admin-token-file, or of --data DIR/secrets/admin-token', async () => {
    mkdirSync(join(dir.path, 'cluster', 'secrets'), { recursive: true });
    writeFileSync(join(dir.path, 'cluster', 'secrets', 'admin-token'), `${ADMIN}\n`);
    for (const flags of [['--admin-token-file', 'admin'], ['--data', 'cluster']]) {
      const result = await status(dir.path, '--router', router, ...flags);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(WORKER_LINE);
    }
  });

  it('uses ./data/secrets/admin-token by default, for a router on this machine', async () => {
    const local = makeTempDir();
    try {
      mkdirSync(join(local.path, 'data', 'secrets'), { recursive: true });
      writeFileSync(join(local.path, 'data', 'secrets', 'admin-token'), `${ADMIN}\n`);
      const result = await status(local.path, '--router', router, '--json');
      expect(result.code).toBe(0);
      const direct = await send(router, '/_router/status', { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(JSON.parse(result.stdout)).toEqual(direct.json());
    } finally {
      local.remove();
    }
  });

  it('says in one line that the router wants the admin token', async () => {
    const without = await status(dir.path, '--router', router);
    expect(without).toMatchObject({ code: 2, stderr: `pinbase: the router at ${router} needs the cluster's admin token: pass --admin-token-file FILE (or --data DIR of \`pinbase up\`)\n` });
    writeFileSync(join(dir.path, 'wrong'), generateSecret());
    const wrong = await status(dir.path, '--router', router, '--admin-token-file', 'wrong');
    expect(wrong.stderr).toMatch(/refused this admin token/);
  });
});
