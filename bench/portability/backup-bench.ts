/**
 * `pinbase backup --all` and `pinbase restore --all` of many small tenants
 * through a local router + 2 workers (`pinbase up` in a temporary
 * directory): tenants/s and MB/s of each.
 *   npm run bench:backup -- [--tenants 10000] [--objects 2] [--concurrency 4] [--format ndjson|sqlite]
 *   npm run bench:backup -- --quick      # CI smoke: 20 tenants (unless --tenants says otherwise)
 * The backup is taken from one cluster and restored into a fresh one.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { readSecretLines } from '../../services/auth/secret-file.js';
import { signUserToken } from '../../services/auth/token-signer.js';
import { MAIN, pinbase, stop, waitReady } from '../router/bench-processes.js';
import { freePort, freePortRange } from '../support/free-port.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    tenants: { type: 'string' },
    objects: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '4' },
    format: { type: 'string', default: 'ndjson' },
  },
});
const tenants = Number(values.tenants ?? (values.quick === true ? '20' : '10000'));
const objects = Number(values.objects);
const concurrency = values.concurrency;
const format = values.format;

const root = mkdtempSync(join(tmpdir(), 'pinbase-backup-bench-'));

/**
 * `pinbase up` (router + 2 workers) on free ports; if it exits before it is
 * ready (a port taken meanwhile by another process), once more on others.
 */
async function startCluster(name: string): Promise<{ url: string; data: string; stop: () => Promise<void> }> {
  const data = join(root, name, 'data');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const workerPort = await freePortRange(2);
    const child = pinbase(['up', '--port', String(port), '--worker-port', String(workerPort), '--data', data]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(url, '/readyz', 30_000, child);
      return { url, data, stop: () => stop(child) };
    } catch (error) {
      // Not ready in time: give up. Exited (a port taken meanwhile): once more, on other ports.
      const exited = child.exitCode !== null || child.signalCode !== null;
      await stop(child);
      if (!exited || attempt === 3) throw error;
    }
  }
}

/** Runs `pinbase <args>`, resolves with its wall time and stderr (the summary line). */
function timed(args: string[]): Promise<{ seconds: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`pinbase ${args[0]} exited ${code}: ${stderr}`));
      else resolve({ seconds: (performance.now() - start) / 1000, stderr: stderr.trim() });
    });
  });
}

async function seed(url: string, data: string): Promise<void> {
  const secret = readSecretLines(join(data, 'secrets', 'auth-secret'), 'auth secret', 32)[0]!;
  const token = await signUserToken(secret, { userId: 'bench', scopes: ['service'], ttlSeconds: 3600 });
  const pool = new Pool(url, { connections: 32 });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tenants) {
      const user = `tenant-${next++}`;
      let retries = 0;
      for (let n = 0; n < objects; n++) {
        const res = await pool.request({
          path: `/api/users/${user}/items/i${n}`,
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: `item ${n} of ${user}`, qty: n, tags: ['bench', 'small'] }),
        });
        const text = await res.body.text();
        // 503 (a partition opening under load, overload): wait and send it again (a PUT is idempotent).
        if (res.statusCode === 503 && retries++ < 50) {
          n--;
          await sleep(100);
        } else if (res.statusCode >= 300) throw new Error(`PUT ${user}: ${res.statusCode} ${text}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
  await pool.close();
}

function report(what: string, seconds: number, bytes: number, summary: string): void {
  const mb = bytes / 1e6;
  console.log(`${what}: ${tenants} tenants, ${mb.toFixed(2)} MB in ${seconds.toFixed(1)} s = ${(tenants / seconds).toFixed(0)} tenants/s, ${(mb / seconds).toFixed(2)} MB/s  [${summary}]`);
}

const clusters: { stop: () => Promise<void> }[] = [];
try {
  const source = await startCluster('source');
  clusters.push(source);
  let start = performance.now();
  await seed(source.url, source.data);
  console.log(`seeded ${tenants} tenants x ${objects} objects in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  const backupDir = join(root, 'backup');
  const backup = await timed(['backup', '--all', backupDir, '--router', source.url, '--data', source.data, '--concurrency', concurrency, '--format', format]);
  // The tenants' export files (the manifest not counted).
  const bytes = readdirSync(backupDir)
    .filter((name) => name !== 'manifest.json')
    .reduce((sum, name) => sum + statSync(join(backupDir, name)).size, 0);
  report(`backup --all (${format}, concurrency ${concurrency})`, backup.seconds, bytes, backup.stderr);
  await source.stop();

  const target = await startCluster('target');
  clusters.push(target);
  start = performance.now();
  const restore = await timed(['restore', '--all', backupDir, '--router', target.url, '--data', target.data, '--concurrency', concurrency]);
  report(`restore --all (${format}, concurrency ${concurrency})`, restore.seconds, bytes, restore.stderr);
  await target.stop();
} finally {
  await Promise.all(clusters.map((c) => c.stop()));
  rmSync(root, { recursive: true, force: true });
}
