/**
 * site.yml with `storage_type: glusterfs`, for real: a one-brick GlusterFS
 * volume on this machine (glusterfs-volume.ts: glusterd in a network
 * namespace of its own), the local inventory copied with the volume as its
 * storage and a `pinbase_glusterfs_servers` group naming the server. Checks
 * that the storage role mounts the volume with the FUSE client options the
 * workers need, that the volume options are set from the server, that the
 * workers keep their users' files on the volume and the cluster serves
 * writes, and that a second run changes nothing (with
 * PINBASE_DEPLOY_SCENARIOS=all: ansible-runner.ts). Everything is torn down at
 * the end, also after a failure: the processes the playbook started (by
 * pid), the mount, the volume, glusterd and the namespace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { putWithRetry } from '../../support/write-load.js';
import { ALL_DEPLOY_SCENARIOS, assertInstalled, describeRun, runPlaybook, type AnsibleRun } from './ansible-runner.js';
import { commandLine, readPidfiles, stopAll, waitUntilGone } from './deployed-processes.js';
import { assertGlusterfsInstalled, GlusterVolume } from './glusterfs-volume.js';
import { LocalInventory } from './local-inventory.js';

/** The FUSE client options the workers need (ansible/roles/storage/defaults/main.yml). */
const CLIENT_OPTIONS = ['--attribute-timeout=0', '--entry-timeout=0', '--fopen-keep-cache=false'];
/** The volume options the workers need, as `gluster volume get` reports them. */
const VOLUME_OPTIONS: Record<string, string> = {
  'client.strict-locks': 'on',
  'performance.stat-prefetch': 'off',
  'performance.quick-read': 'off',
  'network.ping-timeout': '5',
  'server.tcp-user-timeout': '5',
  'server.keepalive-time': '2',
  'server.keepalive-interval': '1',
  'server.keepalive-count': '3',
};
const USERS = Array.from({ length: 30 }, (_, i) => `gluster-user-${i}`);
const HOSTS = ['lb1', 'node1', 'node2'];

let temp: ReturnType<typeof makeTempDir> | undefined;
let root: string;
let mountPoint: string;
let volume: GlusterVolume | undefined;
let inventory: LocalInventory;
let ports: { router: number; a: number; b: number };
const seenPids = new Set<number>();

function site(): Promise<AnsibleRun> {
  return runPlaybook('site.yml', inventory.path, root);
}

function expectSuccess(run: AnsibleRun): void {
  expect(run.code, describeRun(run)).toBe(0);
  expect([...run.recap.keys()].sort(), describeRun(run)).toEqual(HOSTS);
  for (const [host, recap] of run.recap) expect(recap.failed + recap.unreachable, `${host}: ${describeRun(run)}`).toBe(0);
}

function pids(): Map<string, number> {
  const current = readPidfiles(root);
  for (const pid of current.values()) seenPids.add(pid);
  return current;
}

/** `findmnt` for the file system that holds `path`: its mount point, type and source. */
function fileSystemOf(path: string): { target: string; fstype: string; source: string } {
  const out = spawnSync('findmnt', ['--noheadings', '--output', 'TARGET,FSTYPE,SOURCE', '--target', path], { encoding: 'utf8' });
  const [target = '', fstype = '', source = ''] = out.stdout.trim().split(/\s+/);
  return { target, fstype, source };
}

function isMounted(path: string): boolean {
  return spawnSync('mountpoint', ['-q', path]).status === 0;
}

/** Pids of the GlusterFS FUSE clients whose command line ends with `mountPoint`. */
function fuseClientsOf(path: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const args = commandLine(pid);
      return args.length > 1 && /(^|\/)glusterfs$/.test(args[0]!) && args.at(-1) === path;
    });
}

/** The value that follows `flag` in a command line (undefined when absent). */
function flagValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index < 0 ? undefined : args[index + 1];
}

describe('ansible: site.yml with storage_type glusterfs mounts the volume with the options the workers need', () => {
  beforeAll(async () => {
    assertInstalled('ansible-playbook');
    assertGlusterfsInstalled();
    temp = makeTempDir('pinbase-deploy-gluster-');
    root = join(temp.path, 'cluster');
    mountPoint = join(temp.path, 'mnt');
    volume = await GlusterVolume.create(join(temp.path, 'gluster'));
    ports = { router: await freePort(), a: await freePort(), b: await freePort() };
    inventory = new LocalInventory(join(temp.path, 'inventory'), ports.router, ports.a, ports.b);
    // As inventories/production-glusterfs sets it, with this machine's volume.
    inventory.setGroupVar('storage_type', 'glusterfs');
    inventory.setGroupVar('pinbase_data_dir', JSON.stringify(join(mountPoint, 'data')));
    inventory.addGroupVars({
      storage_mount_source: volume.source,
      storage_mount_point: mountPoint,
      // This glusterd has its own CLI socket (glusterfs-volume.ts).
      storage_gluster_command: volume.cli,
    });
    inventory.addGroup('pinbase_glusterfs_servers', ['gluster1']);
  }, 120_000);

  afterAll(async () => {
    try {
      if (root) await stopAll([...seenPids, ...readPidfiles(root).values()], root);
      // (A failed run may have stacked mounts: unmount until none is left.)
      for (let attempt = 0; mountPoint && isMounted(mountPoint) && attempt < 5; attempt++) {
        const clients = fuseClientsOf(mountPoint);
        if (spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint]);
        for (const pid of clients) {
          if (!(await waitUntilGone(pid, 10_000))) process.kill(pid, 'SIGKILL');
        }
      }
      if (mountPoint) GlusterVolume.removeClientLog(mountPoint);
    } finally {
      await volume?.destroy();
      // Never remove a directory that still has the volume mounted in it.
      if (!mountPoint || !isMounted(mountPoint)) temp?.remove();
    }
  }, 120_000);

  it('starts from a volume with GlusterFS defaults (none of the required volume options set)', () => {
    for (const [option, value] of Object.entries(VOLUME_OPTIONS)) expect(volume!.option(option), option).not.toBe(value);
    expect(isMounted(mountPoint)).toBe(false);
  });

  it('stops before changing anything on any host when the volume is already mounted without the client options, naming the missing ones', async () => {
    // As a person would have mounted it by hand, with GlusterFS's defaults.
    mkdirSync(mountPoint, { recursive: true });
    const mounted = spawnSync('glusterfs', [`--volfile-server=${volume!.server}`, `--volfile-id=${volume!.name}`, mountPoint], { encoding: 'utf8' });
    expect(mounted.status, mounted.stderr).toBe(0);
    try {
      const run = await site();
      expect(run.code, describeRun(run)).not.toBe(0);
      for (const node of ['node1', 'node2']) expect(run.recap.get(node)?.failed, `${node}: ${describeRun(run)}`).toBe(1);
      // Checked in the first play, before the release, the secrets and the topology: nothing written, on any host.
      for (const host of HOSTS) expect(run.recap.get(host)?.changed, `${host}: ${describeRun(run)}`).toBe(0);
      expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
      expect(run.output).toContain(`mounted without ${CLIENT_OPTIONS.join(' ')}`);
      expect([...pids().keys()]).toEqual([]);
    } finally {
      const clients = fuseClientsOf(mountPoint);
      expect(spawnSync('umount', [mountPoint]).status).toBe(0);
      for (const pid of clients) expect(await waitUntilGone(pid, 10_000)).toBe(true);
    }
  }, 420_000);

  it('mounts the volume through the FUSE client with attribute-timeout=0, entry-timeout=0 and fopen-keep-cache=false, and runs the workers on it', async () => {
    const run = await site();
    expectSuccess(run);
    console.info(`site.yml with GlusterFS, first deploy: ${run.seconds.toFixed(1)} s`);

    expect(fileSystemOf(mountPoint)).toEqual({ target: mountPoint, fstype: 'fuse.glusterfs', source: volume!.source.replace(':/', ':') });
    const clients = fuseClientsOf(mountPoint);
    expect(clients).toHaveLength(1);
    const args = commandLine(clients[0]!);
    for (const option of CLIENT_OPTIONS) expect(args, args.join(' ')).toContain(option);
    expect(args).toContain(`--volfile-server=${volume!.server}`);
    expect(args).toContain(`--volfile-id=${volume!.name}`);

    const running = pids();
    expect([...running.keys()].sort()).toEqual(['lb1/router', `node1/worker-${ports.a}`, `node2/worker-${ports.b}`]);
    for (const [node, port] of [['node1', ports.a], ['node2', ports.b]] as const) {
      const workerArgs = commandLine(running.get(`${node}/worker-${port}`)!);
      const data = flagValue(workerArgs, '--data');
      expect(data, workerArgs.join(' ')).toBe(join(mountPoint, 'data'));
      expect(fileSystemOf(data!).fstype, data).toBe('fuse.glusterfs');
      expect(fileSystemOf(data!).target, data).toBe(mountPoint);
    }
  }, 420_000);

  it('sets the volume options the workers need from the server in pinbase_glusterfs_servers', () => {
    for (const [option, value] of Object.entries(VOLUME_OPTIONS)) expect(volume!.option(option), option).toBe(value);
  });

  it('serves writes through the router and keeps each user\'s SQLite file on the volume (in its brick)', async () => {
    const secret = inventory.groupVar('pinbase_auth_secret') as string;
    const router = `http://127.0.0.1:${ports.router}`;
    const servedBy = new Set<string>();
    for (const user of USERS) {
      const authorization = `Bearer ${await signUserToken(secret, { userId: user, scopes: [], ttlSeconds: 600 })}`;
      const write = { path: `/api/users/${user}/notes/first`, body: JSON.stringify({ user, text: 'on GlusterFS' }) };
      const reply = await putWithRetry(router, write, `gluster-${user}`, () => authorization);
      expect(reply.status, reply.body).toBe(201);
      const read = await send(router, write.path, { headers: { authorization } });
      expect(read.status, read.body).toBe(200);
      expect(JSON.parse(read.body)).toEqual(JSON.parse(write.body));
      servedBy.add(read.header('x-pinbase-worker') ?? '');
    }
    // Both workers (on the two "hosts") served users from the one volume.
    expect(servedBy).toEqual(new Set([`node1-${ports.a}`, `node2-${ports.b}`]));
    const onBrick = (dir: string): string[] =>
      existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.sqlite')) : [];
    const files = onBrick(join(volume!.brick, 'data'));
    for (const user of USERS) expect(files.some((file) => file.endsWith(`/${user}.sqlite`)), user).toBe(true);
    // The same files, through the mount.
    expect(onBrick(join(mountPoint, 'data')).sort()).toEqual(files.sort());
    expect(readFileSync(join(mountPoint, 'data', files[0]!)).subarray(0, 15).toString()).toBe('SQLite format 3');
  }, 120_000);

  it.runIf(ALL_DEPLOY_SCENARIOS)('changes nothing when run again with the same inventory (mount and volume options included)', async () => {
    const run = await site();
    expectSuccess(run);
    console.info(`site.yml with GlusterFS, unchanged inventory: ${run.seconds.toFixed(1)} s`);
    for (const [host, recap] of run.recap) expect(recap.changed, `${host}: ${describeRun(run)}`).toBe(0);
    expect(fuseClientsOf(mountPoint)).toHaveLength(1);
  }, 420_000);
});
