/**
 * How concurrent fdatasyncs of different files scale with libuv's thread
 * pool: 1000 files, 64 loops each appending 4 KiB to a random file and
 * fdatasync'ing it, for 4 s, with UV_THREADPOOL_SIZE 4 (libuv's default),
 * 16, 32 (what bin/pinbase.cjs sets) and 64. No SQLite, no HTTP: the ceiling
 * of one-fsync-per-write to many files on this machine's storage.
 *
 *   npm run build && node dist/bench/worker/fsync-scaling.js [DIR]
 *   node dist/bench/worker/fsync-scaling.js --quick [DIR]   # CI smoke: the same four pool sizes, 100 files, 16 appenders, 0.5 s each
 *
 * DIR (default: a temporary directory under the working directory) should
 * be on the file system the data directory would use.
 */
import { spawnSync } from 'node:child_process';
import { fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const QUICK = process.argv.includes('--quick');
const DIR = process.argv.slice(2).find((arg) => arg !== '--quick');
const FILES = QUICK ? 100 : 1000;
const LOOPS = QUICK ? 16 : 64;
const SECONDS = QUICK ? 0.5 : 4;

async function measure(dir: string): Promise<number> {
  const files = Array.from({ length: FILES }, (_, i) => ({ fd: openSync(join(dir, `f${i}`), 'w+'), offset: 0 }));
  const page = Buffer.alloc(4096, 7);
  const end = Date.now() + SECONDS * 1000;
  let syncs = 0;
  const loop = async () => {
    while (Date.now() < end) {
      const file = files[Math.floor(Math.random() * FILES)]!;
      writeSync(file.fd, page, 0, page.length, file.offset);
      file.offset += page.length;
      await new Promise<void>((done, fail) => fdatasync(file.fd, (error) => (error ? fail(error) : done())));
      syncs++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: LOOPS }, loop));
  return syncs / ((performance.now() - started) / 1000);
}

if (process.env.FSYNC_SCALING_CHILD === '1') {
  const dir = mkdtempSync(join(DIR!, 'fsync-'));
  try {
    process.stdout.write(`${Math.round(await measure(dir))}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  const base = resolve(DIR ?? '.');
  console.log(`fdatasync of ${FILES} files, ${LOOPS} concurrent appenders, ${SECONDS} s per row, in ${base}`);
  console.log('| UV_THREADPOOL_SIZE | fdatasyncs/s |');
  console.log('| ---: | ---: |');
  for (const size of [4, 16, 32, 64]) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...(QUICK ? ['--quick'] : []), base], {
      env: { ...process.env, FSYNC_SCALING_CHILD: '1', UV_THREADPOOL_SIZE: String(size) },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`measurement failed: ${child.stderr}`);
    console.log(`| ${size} | ${Number(child.stdout.trim()).toLocaleString('en-US')} |`);
  }
}
