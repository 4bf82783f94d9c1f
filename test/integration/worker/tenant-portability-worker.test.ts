import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

describe('tenant export and import at a real worker process', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let worker: WorkerProcess;
  beforeAll(async () => {
    dir = makeTempDir('pinbase-portability-');
    worker = await startWorkerProcess({ id: 'w1', dataDir: join(dir.path, 'data'), args: ['--max-user-bytes', String(4 * 1024 * 1024)] });
    for (let batch = 0; batch < 3; batch++) {
      const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'put', collection: 'items', id: `i${batch}-${i}`, data: { batch, i, text: 'x'.repeat(100) } }));
      const reply = await request(`${worker.url}/api/users/source/_tx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }) });
      expect(reply.statusCode, await reply.body.text()).toBe(200);
    }
  });
  afterAll(async () => {
    await worker.stop('SIGKILL');
    dir.remove();
  });

  /** Streams the user's export into a file; returns its seq. */
  async function exportTo(user: string, file: string, accept: string): Promise<number> {
    const reply = await request(`${worker.url}/api/users/${user}/_export?history=${accept.includes('ndjson')}`, { headers: { accept } });
    expect(reply.statusCode).toBe(200);
    await pipeline(reply.body, createWriteStream(file));
    return Number(reply.headers['x-pinbase-seq']);
  }

  async function importFrom(user: string, file: string, type: string) {
    const reply = await request(`${worker.url}/api/users/${user}/_import`, { method: 'POST', headers: { 'content-type': type }, body: createReadStream(file) });
    return { status: reply.statusCode, headers: reply.headers, body: (await reply.body.json()) as Record<string, unknown> };
  }

  const withoutTime = (text: string) => text.replace(/"exportedAt":"[^"]*"/, '').replace(/"user":"[^"]*"/, '');

  it('streams both formats out and back in, equal to the source', async () => {
    const ndjson = join(dir.path, 'source.ndjson');
    const sqlite = join(dir.path, 'source.sqlite');
    expect(await exportTo('source', ndjson, 'application/x-ndjson')).toBe(3);
    expect(await exportTo('source', sqlite, 'application/vnd.sqlite3')).toBe(3);
    const fromNdjson = await importFrom('copy-a', ndjson, 'application/x-ndjson');
    const fromSqlite = await importFrom('copy-b', sqlite, 'application/vnd.sqlite3');
    for (const imported of [fromNdjson, fromSqlite]) {
      expect(imported.status).toBe(200);
      expect(imported.body).toEqual({ seq: 3, objects: 3000, versions: 3000, indexes: 0 });
    }
    for (const copy of ['copy-a', 'copy-b']) {
      const again = join(dir.path, `${copy}.ndjson`);
      await exportTo(copy, again, 'application/x-ndjson');
      expect(withoutTime(readFileSync(again, 'utf8'))).toBe(withoutTime(readFileSync(ndjson, 'utf8')));
    }
  }, 60_000);

  it('refuses an import beyond the user quota with 413 while it streams, and creates nothing', async () => {
    const big = join(dir.path, 'big.ndjson');
    const out = createWriteStream(big);
    out.write(`${JSON.stringify({ type: 'header', format: 'pinbase-export', version: 1, user: 'x', seq: 1, history: false })}\n`);
    for (let i = 0; i < 6000; i++) out.write(`${JSON.stringify({ type: 'version', collection: 'c', id: `o${i}`, rev: 1, deleted: false, committedAt: 0, data: { pad: 'y'.repeat(1000) } })}\n`);
    await new Promise((resolve) => out.end(resolve));
    const reply = await importFrom('too-big', big, 'application/x-ndjson').catch((error: unknown) => ({ status: 0, headers: {}, body: { error: String(error) } }));
    expect(reply.body).toMatchObject({ code: 'import_too_large' });
    expect(reply.status).toBe(413);
    const exported = await request(`${worker.url}/api/users/too-big/_export`);
    expect(exported.headers['x-pinbase-seq']).toBe('0');
    await exported.body.dump();
  }, 60_000);
});
