/**
 * How concurrent fdatasyncs of different files scale with libuv's thread
 * pool: 1000 files, 64 loops each appending 4 KiB to a random file and
 * fdatasync'ing it, for 4 s, with UV_THREADPOOL_SIZE 4 (libuv's default),
 * 16, 32 (what bin/pinbase.cjs sets) and 64. No SQLite, no HTTP: the ceiling
 * of one-fsync-per-write to many files on this machine's storage.
 *
 *   npm run build && node dist/bench/worker/fsync-scaling.js [DIR]
 *
 * DIR (default: a temporary directory under the working directory) should
 * be on the file system the data directory would use.
 */
import { spawnSync } from 'node:child_process';
import { fdatasync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES = 1000;
const LOOPS = 64;
const SECONDS = 4;

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
  const dir = mkdtempSync(join(process.argv[2]!, 'fsync-'));
  try {
    process.stdout.write(`${Math.round(await measure(dir))}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else {
  const base = resolve(process.argv[2] ?? '.');
  console.log(`fdatasync of ${FILES} files, ${LOOPS} concurrent appenders, ${SECONDS} s per row, in ${base}`);
  console.log('| UV_THREADPOOL_SIZE | fdatasyncs/s |');
  console.log('| ---: | ---: |');
  for (const size of [4, 16, 32, 64]) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), base], {
      env: { ...process.env, FSYNC_SCALING_CHILD: '1', UV_THREADPOOL_SIZE: String(size) },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`measurement failed: ${child.stderr}`);
    console.log(`| ${size} | ${Number(child.stdout.trim()).toLocaleString('en-US')} |`);
  }
}
