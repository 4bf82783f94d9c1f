/**
 * Storage on a GlusterFS mount beside the local disk, same code, same run
 * (docs/BENCHMARKS.md "GlusterFS"): creates a volume (test/support/glusterfs:
 * its own glusterd, the required volume and mount options), mounts it, then
 * for the local temporary folder and for the mount:
 *   cold     cost of opening a closed partition (lease + SQLite open + first read)
 *   http     one worker over HTTP (wrk, 16 connections, 100 users): GET and durable PUT
 * Usage: npm run bench:glusterfs -- [--seconds 10] [--connections 16]
 *        npm run bench:glusterfs -- --quick   # CI smoke: the same volume and runs, 1 s per wrk run, 5 cold-open
 *                                             # users, 10 users x 2 objects over HTTP (--seconds still applies)
 * Needs root, FUSE, glusterfs-server, glusterfs-client and wrk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GlusterVolume, glusterUnavailable, REQUIRED_MOUNT_FLAGS, REQUIRED_VOLUME_OPTIONS } from '../../test/support/glusterfs/gluster-volume.js';
import { assertWrkInstalled, runWrk, spreadOverUsersLua, type WrkResult } from '../support/wrk.js';
import { startBenchWorker } from '../worker/bench-worker.js';
import { coldOpen } from '../worker/storage-bench.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, connections: { type: 'string' }, quick: { type: 'boolean' } } });
const QUICK = values.quick === true;
const seconds = Number(values.seconds ?? (QUICK ? 1 : 10));
const connections = Number(values.connections ?? 16);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const unavailable = glusterUnavailable();
if (unavailable !== undefined) {
  console.error(unavailable);
  process.exit(2);
}
assertWrkInstalled();

const USERS = QUICK ? 10 : 100;
const OBJECTS = QUICK ? 2 : 10;
const COLD_USERS = QUICK ? 5 : 100;
// Ctrl-C or SIGTERM: exit through process.exit, whose 'exit' handler tears the volume down.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const local = mkdtempSync(join(tmpdir(), 'pinbase-bench-local-'));
const volume = await GlusterVolume.create();
try {
  const mount = await volume.mount();
  const places = [
    { name: 'local disk', dir: local },
    { name: 'GlusterFS mount', dir: mount.path },
  ];
  console.log(`Pinbase storage benchmark, local disk vs GlusterFS — ${new Date().toISOString()} — ${cpus().length} CPUs, Node ${process.version}`);
  console.log(`GlusterFS: one brick on this machine's disk, mounted with ${REQUIRED_MOUNT_FLAGS.join(' ')};`);
  console.log(`volume options ${Object.entries(REQUIRED_VOLUME_OPTIONS).map(([k, v]) => `${k}=${v}`).join(', ')}`);

  console.log(`\n## Cold open of a partition (lease + SQLite open + first read), ${COLD_USERS} users, one at a time`);
  console.log('| storage | mean ms | p50 ms | p99 ms |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const place of places) {
    const result = await coldOpen(mkdtempSync(join(place.dir, 'cold-')), COLD_USERS, 1000);
    console.log(`| ${place.name} | ${fmt(result.filling.meanMs, 2)} | ${fmt(result.filling.p50Ms, 2)} | ${fmt(result.filling.p99Ms, 2)} |`);
  }

  console.log(`\n## One worker over HTTP (--durability pipelined): wrk -t2 -c${connections} -d${seconds}s, ${USERS} users x ${OBJECTS} objects`);
  console.log('| storage | GET req/s | GET p50 / p99 ms | durable PUT req/s | PUT p50 / p99 ms |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const place of places) {
    const worker = await startBenchWorker(mkdtempSync(join(place.dir, 'http-')), 'pipelined', USERS, OBJECTS);
    let get: WrkResult;
    let put: WrkResult;
    try {
      get = await runWrk({ baseUrl: worker.url, connections, seconds, requestLua: spreadOverUsersLua('GET', USERS, OBJECTS) });
      put = await runWrk({ baseUrl: worker.url, connections, seconds, requestLua: spreadOverUsersLua('PUT', USERS, OBJECTS) });
    } finally {
      await worker.stop();
    }
    const errors = get.errors + put.errors;
    console.log(
      `| ${place.name} | ${fmt(get.rps)} | ${fmt(get.p50ms, 2)} / ${fmt(get.p99ms, 2)} | ${fmt(put.rps)} | ${fmt(put.p50ms, 2)} / ${fmt(put.p99ms, 2)}${errors > 0 ? ` (${errors} errors)` : ''} |`,
    );
  }
} finally {
  volume.teardown();
  rmSync(local, { recursive: true, force: true });
}
