import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouterStatus } from '../../../router/status-report.js';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { assertBuilt, CLI } from '../../support/cli-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const ADMIN = generateSecret();
const STATUS: RouterStatus = {
  topologyVersion: 3,
  processes: 1,
  workers: [{ id: 'w1', url: 'http://127.0.0.1:3601', health: 'up', drained: false, routable: true, since: '', inFlight: 0, requests: 7, users: 2 }],
  totals: { inFlight: 0, requests: 7, users: 2 },
};

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
  let server: Server;
  let router: string;
  let seen: (string | undefined)[];
  beforeAll(async () => {
    assertBuilt();
    dir = makeTempDir();
    seen = [];
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== `Bearer ${ADMIN}`) res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"code":"unauthorized"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(STATUS));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    router = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    dir.remove();
  });

  it('sends the token of --admin-token-file, or of --data DIR/secrets/admin-token', async () => {
    writeFileSync(join(dir.path, 'admin'), `${ADMIN}\n`);
    mkdirSync(join(dir.path, 'cluster', 'secrets'), { recursive: true });
    writeFileSync(join(dir.path, 'cluster', 'secrets', 'admin-token'), `${ADMIN}\n`);
    for (const flags of [['--admin-token-file', 'admin'], ['--data', 'cluster']]) {
      const result = await status(dir.path, '--router', router, ...flags);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^w1\s+http:\/\/127\.0\.0\.1:3601\s+up\s+2\s+0\s+7$/m);
    }
  });

  it('uses ./data/secrets/admin-token by default, for a router on this machine', async () => {
    const local = makeTempDir();
    try {
      mkdirSync(join(local.path, 'data', 'secrets'), { recursive: true });
      writeFileSync(join(local.path, 'data', 'secrets', 'admin-token'), `${ADMIN}\n`);
      const result = await status(local.path, '--router', router, '--json');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual(STATUS);
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
