import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

/** Mounts a tmpfs of `size` at `path` (the tests run as root, as CI does). */
function mountTmpfs(path: string, size: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`the disk-full test mounts a small tmpfs and needs root: ${(error as { stderr?: Buffer }).stderr?.toString().trim()}`);
  }
}

async function put(url: string, userId: string, id: string, bytes: number) {
  const response = await send(url, `/api/users/${userId}/blobs/${id}`, { method: 'PUT', json: { id, pad: 'x'.repeat(bytes) } });
  return { status: response.status, contentType: response.header('content-type'), body: response.json() as Record<string, unknown> };
}

describe('a full data volume', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let mountPoint: string;
  let mounted = false;
  let worker: WorkerProcess | undefined;
  beforeEach(() => {
    dir = makeTempDir();
    mountPoint = join(dir.path, 'volume');
    mkdirSync(mountPoint);
    mountTmpfs(mountPoint, '4m');
    mounted = true;
  });
  afterEach(async () => {
    await worker?.stop('SIGKILL');
    if (mounted) execFileSync('umount', [mountPoint]);
    dir.remove();
  });

  it('answers writes with 507 problem+json, keeps serving reads, corrupts nothing, and writes again once space is freed', async () => {
    const dataDir = join(mountPoint, 'data');
    worker = await startWorkerProcess({ id: 'w1', dataDir });
    const written: string[] = [];
    let full: Awaited<ReturnType<typeof put>> | undefined;
    for (let i = 0; i < 400 && !full; i++) {
      const user = `u${i % 4}`;
      const outcome = await put(worker.url, user, `b${i}`, 32 * 1024);
      if (outcome.status === 201) written.push(`${user}/b${i}`);
      else full = { ...outcome, body: { ...outcome.body, failed: `${user}/b${i}` } };
    }
    expect(full, 'the volume never filled up').toBeDefined();
    expect(full!.status).toBe(507);
    expect(full!.contentType).toMatch(/^application\/problem\+json/);
    expect(full!.body).toMatchObject({ code: 'insufficient_storage', status: 507, retryable: true });
    expect(written.length).toBeGreaterThan(10);

    // A new user cannot be created either, and that too is a clean 507.
    const newUser = await put(worker.url, 'newcomer', 'x', 10);
    expect(newUser.status).toBe(507);

    // Reads keep working; the failed write is not there.
    for (const path of written.filter((_, i) => i % 5 === 0)) {
      expect((await send(worker.url, `/api/users/${path.replace('/', '/blobs/')}`)).status).toBe(200);
    }
    const failed = full!.body.failed as string;
    expect((await send(worker.url, `/api/users/${failed.replace('/', '/blobs/')}`)).status).toBe(404);

    // Space comes back: writes succeed again.
    execFileSync('mount', ['-o', 'remount,size=32m', mountPoint]);
    expect((await put(worker.url, 'u0', 'after', 32 * 1024)).status).toBe(201);
    expect((await put(worker.url, 'newcomer', 'x', 10)).status).toBe(201);

    expect(await worker.stop('SIGTERM')).toBe(0);
    worker = undefined;
    const files = readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.sqlite'));
    expect(files.length).toBe(5);
    for (const file of files) {
      const db = new Database(join(dataDir, file), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true }), file).toBe('ok');
      db.close();
    }
  }, 60_000);
});
