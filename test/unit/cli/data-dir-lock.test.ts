import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataDirLockPath, lockDataDir } from '../../../services/cli/data-dir-lock.js';
import { CliError } from '../../../services/cli/command.js';
import { makeTempDir } from '../../support/temp-dir.js';

const never = () => {
  throw new Error('lock lost');
};

describe('the data dir lock of pinbase up', () => {
  let dir: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => dir.remove());

  it('refuses a second holder with a message naming the running cluster, and is free again once released', async () => {
    const held = await lockDataDir(dir.path, 'http://127.0.0.1:8080', never);
    const refusal = await lockDataDir(dir.path, 'http://127.0.0.1:9090', never).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(CliError);
    expect((refusal as Error).message).toMatch(
      new RegExp(`^${dir.path} is in use by the cluster of \`pinbase up\` pid ${process.pid} \\(router http://127\\.0\\.0\\.1:8080, started \\d{4}-`),
    );
    await held.release();
    expect(existsSync(dataDirLockPath(dir.path))).toBe(false);
    const again = await lockDataDir(dir.path, 'http://127.0.0.1:9090', never);
    await again.release();
  });

  it('takes over at once a lock left by a process that no longer exists', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    mkdirSync(dataDirLockPath(dir.path));
    writeFileSync(join(dir.path, 'up.json'), JSON.stringify({ pid: deadPid, routerUrl: 'http://127.0.0.1:8080', startedAt: '2026-01-01T00:00:00Z' }));
    const started = Date.now();
    const lock = await lockDataDir(dir.path, 'http://127.0.0.1:9090', never);
    expect(Date.now() - started).toBeLessThan(1000);
    await lock.release();
  });
});
