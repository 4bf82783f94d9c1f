import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI } from '../../support/cli-process.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

function lockDirs(dataDir: string): string[] {
  if (!existsSync(dataDir)) return [];
  return readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.lock'));
}

describe('worker process', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let worker: WorkerProcess | undefined;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    await worker?.stop('SIGKILL');
    dir.remove();
  });

  it('serves the object API over HTTP with X-Pinbase-Worker, ETag and X-Pinbase-Seq', async () => {
    worker = await startWorkerProcess({ id: 'w1', dataDir: join(dir.path, 'data') });
    const put = await send(worker.url, '/api/users/alice/notes/n1', { method: 'PUT', json: { title: 'hello' } });
    expect(put.status).toBe(201);
    const get = await send(worker.url, '/api/users/alice/notes/n1');
    expect(get.header('x-pinbase-worker')).toBe('w1');
    expect(get.header('etag')).toBe('"1"');
    expect(get.header('x-pinbase-seq')).toBe('1');
    expect(get.json()).toEqual({ title: 'hello' });
  });

  it('exposes health, readiness, Prometheus metrics and the OpenAPI docs', async () => {
    worker = await startWorkerProcess({ id: 'w1', dataDir: join(dir.path, 'data') });
    await send(worker.url, '/api/users/alice/notes/n1', { method: 'PUT', json: {} });
    expect((await send(worker.url, '/healthz')).status).toBe(200);
    expect((await send(worker.url, '/readyz')).json()).toMatchObject({ status: 'ready', worker: 'w1' });
    const metrics = (await send(worker.url, '/metrics')).body;
    for (const name of [
      'pinbase_http_requests_total',
      'pinbase_http_request_duration_seconds_bucket',
      'pinbase_open_partitions 1',
      'pinbase_commits_total',
      'pinbase_group_commit_batch_size_bucket',
      'pinbase_lease_events_total{event="acquired"} 1',
      'pinbase_turn_waits_total 0',
    ]) {
      expect(metrics).toContain(name);
    }
    const openapi = (await send(worker.url, '/docs/json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain('/api/users/{userId}/_tx');
    const ui = await send(worker.url, '/docs/');
    expect(ui.status).toBe(200);
    expect(ui.header('content-type')).toMatch(/^text\/html/);
    expect(ui.body).toContain('<title>Pinbase API</title>');
  });

  it('on SIGTERM finishes in-flight writes, releases every lease and exits 0', async () => {
    const dataDir = join(dir.path, 'data');
    worker = await startWorkerProcess({ id: 'w1', dataDir });
    const url = worker.url;
    const writes = Array.from({ length: 40 }, (_, i) =>
      send(url, `/api/users/u${i % 8}/notes/n${i}`, { method: 'PUT', json: { i } }).then((r) => r.status),
    );
    await sleep(5);
    const exit = worker.stop('SIGTERM');
    const statuses = await Promise.all(writes.map((w) => w.catch(() => 'connection closed')));
    expect(await exit).toBe(0);
    expect(lockDirs(dataDir)).toEqual([]);
    // Every write acknowledged before the stop is there after a restart.
    worker = await startWorkerProcess({ id: 'w1', dataDir });
    for (const [i, status] of statuses.entries()) {
      if (status !== 201) continue;
      const get = await send(worker.url, `/api/users/u${i % 8}/notes/n${i}`);
      expect(get.status).toBe(200);
    }
  });

  it('rejects a bad flag with one line on stderr and exit code 2', () => {
    const result = spawnSync(process.execPath, [CLI, 'worker', '--id', 'w1', '--port', 'abc', '--data', dir.path], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('--port must be an integer');
  });

  it('prints usage for --help', () => {
    const result = spawnSync(process.execPath, [CLI, 'worker', '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: pinbase worker');
  });
});
