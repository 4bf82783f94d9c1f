/**
 * The storage check on a real GlusterFS FUSE mount: a worker refuses to
 * start on a mount whose client caches (GlusterFS's defaults), starts with
 * --allow-unsafe-storage (and says so), and starts on a mount whose client
 * runs with attribute-timeout=0, entry-timeout=0, fopen-keep-cache=false.
 *
 * The volume is this test's own: glusterd, its brick and both clients run in
 * a network namespace the test creates (so its glusterd's port 24007 clashes
 * with no other glusterd on the machine), joined with `nsenter --net` only,
 * so the mounts are in this machine's mount namespace where the worker sees
 * them. Needs root and Debian's glusterfs-server/glusterfs-client; skipped
 * without them. Everything is torn down after, also when a test fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, CliProcess } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { spawnWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

const available = process.getuid?.() === 0 && existsSync('/usr/sbin/glusterd') && existsSync('/usr/sbin/glusterfs');
const name = `pbedges${process.pid}`;
const netns = `/run/netns/${name}`;
const dir = available ? mkdtempSync('/tmp/pinbase-storage-check-') : '';
const mounts = { cached: join(dir, 'cached'), uncached: join(dir, 'uncached') };
const workers: WorkerProcess[] = [];

function inNetns(command: string, args: string[]): string {
  return execFileSync('nsenter', [`--net=${netns}`, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

function gluster(...args: string[]): string {
  return inNetns('gluster', [`--glusterd-sock=${join(dir, 'glusterd.sock')}`, '--mode=script', ...args]);
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

const mounted = (path: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${path} `);

/** glusterd, a one-brick volume and two FUSE mounts of it: one with GlusterFS's default caching, one without caching. */
async function setUpVolume(): Promise<void> {
  for (const sub of ['wd', 'run', 'brick', 'log', 'cached', 'uncached']) mkdirSync(join(dir, sub));
  writeFileSync(
    join(dir, 'glusterd.vol'),
    [
      'volume management',
      '    type mgmt/glusterd',
      `    option working-directory ${dir}/wd`,
      `    option run-directory ${dir}/run`,
      `    option glusterd-sockfile ${dir}/glusterd.sock`,
      '    option transport-type socket',
      '    option ping-timeout 0',
      '    option event-threads 1',
      'end-volume',
      '',
    ].join('\n'),
  );
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  inNetns('glusterd', ['-f', join(dir, 'glusterd.vol'), '-p', join(dir, 'glusterd.pid'), '-l', join(dir, 'log/glusterd.log'), '--log-level=WARNING']);
  await waitUntil('glusterd listened', () => existsSync(join(dir, 'glusterd.sock')));
  // `volume create` refuses 127.0.0.1 but takes the machine's name, which resolves to a loopback address.
  const host = execFileSync('hostname', { encoding: 'utf8' }).trim();
  gluster('volume', 'create', name, `${host}:${join(dir, 'brick')}`, 'force');
  gluster('volume', 'start', name);
  // The glusterfs binary itself: mount.glusterfs mangles fopen-keep-cache=false.
  const client = (mountPoint: string, flags: string[]) =>
    inNetns('glusterfs', [`--volfile-server=${host}`, `--volfile-id=${name}`, ...flags, `--pid-file=${mountPoint}.pid`, `--log-file=${mountPoint}.log`, mountPoint]);
  client(mounts.cached, []);
  client(mounts.uncached, ['--attribute-timeout=0', '--entry-timeout=0', '--fopen-keep-cache=false']);
  await waitUntil('both mounts appeared', () => mounted(mounts.cached) && mounted(mounts.uncached));
}

function tearDownVolume(): void {
  const attempt = (step: () => unknown) => {
    try {
      step();
    } catch {
      // keep tearing down what is left
    }
  };
  for (const mountPoint of [mounts.cached, mounts.uncached]) {
    if (mounted(mountPoint) && spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint]);
  }
  if (existsSync(join(dir, 'glusterd.sock'))) {
    attempt(() => gluster('volume', 'stop', name, 'force'));
    attempt(() => gluster('volume', 'delete', name));
  }
  attempt(() => process.kill(Number(readFileSync(join(dir, 'glusterd.pid'), 'utf8')), 'SIGTERM'));
  if (existsSync(netns)) spawnSync('ip', ['netns', 'del', name]);
  rmSync(`/var/log/glusterfs/bricks/${join(dir, 'brick').slice(1).replaceAll('/', '-')}.log`, { force: true });
  rmSync(dir, { recursive: true, force: true });
}

beforeAll(async () => {
  if (!available) return;
  assertBuilt();
  try {
    await setUpVolume();
  } catch (error) {
    tearDownVolume();
    throw error;
  }
}, 90_000);

afterAll(async () => {
  if (!available) return;
  await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
  tearDownVolume();
}, 90_000);

async function startWorker(data: string, args: string[] = []): Promise<WorkerProcess> {
  const worker = spawnWorkerProcess({ id: 'w1', port: await freePort(), dataDir: data, args });
  workers.push(worker);
  await worker.waitReady(30_000);
  return worker;
}

describe.skipIf(!available)('storage check on a GlusterFS FUSE mount', () => {
  it('refuses to start on a mount whose client caches attributes, entries and file contents, naming the missing options', async () => {
    const data = join(mounts.cached, 'refused');
    const worker = new CliProcess(['worker', '--id', 'w1', '--port', String(await freePort()), '--data', data]);
    const exit = await Promise.race([worker.exited, sleep(15_000).then(() => worker.stop('SIGKILL'))]);
    expect(exit.code).toBe(2);
    const lines = worker.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `pinbase: unsafe storage for --data ${data} (fuse.glusterfs ${execFileSync('hostname', { encoding: 'utf8' }).trim()}:${name} on ${mounts.cached}): ` +
        'attribute-timeout=0 missing, entry-timeout=0 missing, fopen-keep-cache=false missing; the GlusterFS client caches attributes, entries or file contents across hosts. ' +
        'Mount it with the options above, or start with --allow-unsafe-storage to run anyway',
    );
  }, 30_000);

  it('starts on that mount with --allow-unsafe-storage, warns, and reports the verdict in /_worker/status', async () => {
    const worker = await startWorker(join(mounts.cached, 'overridden'), ['--allow-unsafe-storage']);
    expect(worker.output()).toMatch(/unsafe storage for --data .*; starting anyway \(--allow-unsafe-storage\)/);
    const status = await send(worker.url, '/_worker/status');
    expect(status.json().storage).toMatchObject({ kind: 'glusterfs', safe: false, mountPoint: mounts.cached });
  }, 40_000);

  it('starts on a mount whose client runs with attribute-timeout=0, entry-timeout=0, fopen-keep-cache=false, and serves', async () => {
    const worker = await startWorker(join(mounts.uncached, 'data'));
    const status = await send(worker.url, '/_worker/status');
    expect(status.json().storage).toMatchObject({ kind: 'glusterfs', safe: true, problems: [], mountPoint: mounts.uncached });
    const put = await send(worker.url, '/api/users/alice/notes/n1', { method: 'PUT', json: { on: 'glusterfs' } });
    expect(put.status).toBe(201);
    expect((await send(worker.url, '/api/users/alice/notes/n1')).json()).toMatchObject({ on: 'glusterfs' });
    expect(readOwnerFileCount(join(mounts.uncached, 'data'))).toBeGreaterThan(0);
  }, 40_000);
});

/** The user files the worker wrote through the mount. */
function readOwnerFileCount(data: string): number {
  return execFileSync('find', [data, '-name', '*.sqlite'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
}
