/**
 * Tenant export and import throughput, in objects per second, for one
 * tenant of N small objects (default 100,000), against a real worker
 * process on loopback: NDJSON and SQLite side by side.
 *
 *   npm run bench:portability [-- --objects 100000]
 *   npm run bench:portability -- --quick     # CI smoke: 1500 objects (unless --objects says otherwise)
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { freePort, stop, waitReady } from '../router/bench-processes.js';

const CLI = fileURLToPath(new URL('../../../bin/pinbase.cjs', import.meta.url));
const { values } = parseArgs({ options: { quick: { type: 'boolean' }, objects: { type: 'string' } } });
const objects = Number(values.objects ?? (values.quick === true ? '1500' : '100000'));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-portability-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [CLI, 'worker', '--id', 'bench', '--port', String(port), '--data', join(dir, 'data'), '--log-level', 'warn'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitReady(url, '/readyz', 30_000, child);
    for (let start = 0; start < objects; start += 1000) {
      const ops = Array.from({ length: Math.min(1000, objects - start) }, (_, i) => ({
        op: 'put',
        collection: 'items',
        id: `o${start + i}`,
        data: { title: 'benchmark', n: start + i, tags: ['a', 'b'] },
      }));
      const reply = await request(`${url}/api/users/source/_tx`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }) });
      if (reply.statusCode !== 200) throw new Error(`preload answered ${reply.statusCode}: ${await reply.body.text()}`);
      await reply.body.dump();
    }
    const rows: { format: string; exportMs: number; importMs: number; bytes: number; stallMs: number }[] = [];
    for (const [format, type] of [['ndjson', 'application/x-ndjson'], ['sqlite', 'application/vnd.sqlite3']] as const) {
      const file = join(dir, `export.${format}`);
      let started = performance.now();
      const exported = await request(`${url}/api/users/source/_export`, { headers: { accept: type } });
      if (exported.statusCode !== 200) throw new Error(`export answered ${exported.statusCode}`);
      await pipeline(exported.body, createWriteStream(file));
      const exportMs = performance.now() - started;
      started = performance.now();
      const probe = probeLatency(url);
      const imported = await request(`${url}/api/users/copy-${format}/_import`, { method: 'POST', headers: { 'content-type': type }, body: createReadStream(file) });
      const result = (await imported.body.json()) as { objects?: number };
      if (imported.statusCode !== 200 || result.objects !== objects) throw new Error(`import answered ${imported.statusCode}: ${JSON.stringify(result)}`);
      const importMs = performance.now() - started;
      rows.push({ format, exportMs, importMs, bytes: statSync(file).size, stallMs: await probe.stop() });
    }
    console.log(`tenant of ${objects} objects (~60 bytes of JSON each), one worker process on loopback`);
    console.log('| format | file size | export (objects/s) | import (objects/s) | slowest GET of another user during the import |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const row of rows) {
      const rate = (ms: number) => Math.round(objects / (ms / 1000)).toLocaleString('en-US');
      console.log(`| ${row.format} | ${(row.bytes / 1024 / 1024).toFixed(1)} MiB | ${rate(row.exportMs)} (${row.exportMs.toFixed(0)} ms) | ${rate(row.importMs)} (${row.importMs.toFixed(0)} ms) | ${row.stallMs.toFixed(0)} ms |`);
    }
  } finally {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** GETs of another user's object, one after another, during an import: the slowest shows how long the worker's event loop stalled. */
function probeLatency(url: string): { stop(): Promise<number> } {
  let running = true;
  let slowest = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const reply = await request(`${url}/api/users/bystander/items/x`);
      await reply.body.dump();
      slowest = Math.max(slowest, performance.now() - started);
      await sleep(5);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return slowest;
    },
  };
}

await main();
