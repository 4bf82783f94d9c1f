import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { Durability } from '../../services/partition/partition-database.js';
import { freePort, stop, waitReady } from '../router/bench-processes.js';

const CLI = fileURLToPath(new URL('../../../bin/pinbase.cjs', import.meta.url));

/** A worker process for benchmarks, on a free loopback port, preloaded with users × objects. */
export async function startBenchWorker(
  dataDir: string,
  durability: Durability,
  users: number,
  objectsPerUser: number,
): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'worker', '--id', 'bench', '--port', String(port), '--data', dataDir, '--durability', durability, '--log-level', 'warn'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, '/readyz', 30_000, child);
  const pool = new Pool(url, { connections: 64 });
  let next = 0;
  const total = users * objectsPerUser;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < total; i = next++) {
        const { statusCode, body } = await pool.request({
          method: 'PUT',
          path: `/api/users/user${i % users}/bench/o${Math.floor(i / users)}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ title: 'benchmark', n: i, tags: ['a', 'b'] }),
        });
        await body.dump();
        if (statusCode >= 300) throw new Error(`preload answered ${statusCode}`);
      }
    }),
  );
  await pool.close();
  return {
    url,
    stop: () => stop(child),
  };
}
