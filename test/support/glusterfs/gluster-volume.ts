/**
 * A GlusterFS volume for tests: its own `glusterd` (working, run and socket
 * files in a temporary folder), one volume whose brick is a folder there,
 * with the volume options Pinbase needs (REQUIRED_VOLUME_OPTIONS), mounted
 * as many times as the test has "hosts" by the `glusterfs` client binary
 * with the mount options Pinbase needs (REQUIRED_MOUNT_FLAGS).
 *
 * A host that a test must cut off lives in a network namespace (NetnsHost):
 * its mount's client and its worker run there, and reach glusterd and the
 * brick through a veth pair (the volume's brick host name resolves to
 * 127.0.0.1, so the namespace forwards its 127.0.0.1 connections to those
 * two ports to the root side of the pair). cut() takes the link down, heal()
 * brings it back.
 *
 * What is shared with the machine: glusterd must listen on port 24007 (the
 * brick process fetches its volfile there, with no way to name another
 * port), so one GlusterVolume runs at a time on a machine; brick sockets go
 * to /var/run/gluster and logs of the brick to /var/log/glusterfs/bricks.
 *
 * teardown() (also run at process exit, and synchronous) unmounts, stops and
 * deletes the volume, kills every process started here by pid, deletes the
 * namespaces and the temporary folder.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Volume options without which a GlusterFS volume breaks the single-writer guarantees (docs/ARCHITECTURE.md "Guarantees"). */
export const REQUIRED_VOLUME_OPTIONS: Readonly<Record<string, string>> = {
  'client.strict-locks': 'on',
  'performance.stat-prefetch': 'off',
  'performance.quick-read': 'off',
  'network.ping-timeout': '5',
  'server.tcp-user-timeout': '5',
  'server.keepalive-time': '2',
  'server.keepalive-interval': '1',
  'server.keepalive-count': '3',
};

/** Flags of the `glusterfs` client for every mount. */
export const REQUIRED_MOUNT_FLAGS: readonly string[] = ['--fopen-keep-cache=false', '--attribute-timeout=0', '--entry-timeout=0'];

const GLUSTERD_PORT = 24007;

/** How long one mount attempt may take by default (it takes ~40 ms here). */
const MOUNT_ATTEMPT_MS = 20_000;

/** Why this machine cannot run the GlusterFS tests, or undefined when it can. */
export function glusterUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'GlusterFS tests need Linux';
  if (process.getuid?.() !== 0) return 'GlusterFS tests need root (glusterd, FUSE mounts, network namespaces)';
  if (!existsSync('/dev/fuse')) return 'GlusterFS tests need /dev/fuse';
  for (const binary of ['glusterd', 'glusterfs', 'gluster']) {
    if (spawnSync('sh', ['-c', `command -v ${binary}`]).status !== 0) {
      return `GlusterFS tests need ${binary}: apt-get install glusterfs-server glusterfs-client (.ci/run installs them)`;
    }
  }
  return undefined;
}

export interface GlusterMount {
  path: string;
  /** The glusterfs client process. */
  pid: number;
  host: NetnsHost | undefined;
}

const live = new Set<GlusterVolume>();
process.on('exit', () => {
  for (const volume of live) volume.teardown();
});

let nextNamespace = 1;

export class GlusterVolume {
  readonly dir: string;
  readonly brick: string;
  readonly name: string;
  /** The machine's host name: glusterd refuses the literal 127.0.0.1 for a brick. */
  readonly server = hostname();
  readonly mounts: GlusterMount[] = [];
  readonly hosts: NetnsHost[] = [];
  brickPort = 0;
  private glusterdPid = 0;
  private mountAttempts = 0;
  private tornDown = false;

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'pinbase-gluster-'));
    this.brick = join(this.dir, 'brick');
    this.name = `pinbase${process.pid}x${Date.now().toString(36)}`;
    live.add(this);
  }

  /** Starts glusterd, creates and starts the volume with the required options. ~2-3 s. */
  static async create(): Promise<GlusterVolume> {
    const reason = glusterUnavailable();
    if (reason !== undefined) throw new Error(reason);
    if (await portAnswers(GLUSTERD_PORT)) {
      throw new Error(`port ${GLUSTERD_PORT} is in use (another glusterd?): the test's glusterd needs it, as bricks fetch their volfile there`);
    }
    const volume = new GlusterVolume();
    try {
      await volume.startGlusterd();
      mkdirSync(volume.brick);
      volume.gluster('volume', 'create', volume.name, `${volume.server}:${volume.brick}`, 'force');
      for (const [key, value] of Object.entries(REQUIRED_VOLUME_OPTIONS)) volume.gluster('volume', 'set', volume.name, key, value);
      volume.gluster('volume', 'start', volume.name);
      volume.brickPort = volume.readBrickPort();
      return volume;
    } catch (error) {
      volume.teardown();
      throw error;
    }
  }

  /** The pid of this volume's glusterd (0 before it started). */
  get glusterdProcess(): number {
    return this.glusterdPid;
  }

  /** Runs the gluster CLI against this test's glusterd; returns its output, throws with it on failure. */
  gluster(...args: string[]): string {
    const cli = ['--mode=script', `--glusterd-sock=${join(this.dir, 'glusterd.sock')}`, `--log-file=${join(this.dir, 'cli.log')}`];
    const result = spawnSync('gluster', [...cli, ...args], { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`gluster ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  /** The volume's value of `key` as glusterd reports it. */
  option(key: string): string {
    const out = this.gluster('volume', 'get', this.name, key);
    return out.trim().split('\n').at(-1)!.trim().split(/\s+/).at(-1)!;
  }

  /** A new network namespace host (a veth pair to the root namespace); mount() with it to put a mount there. */
  addHost(): NetnsHost {
    const host = new NetnsHost(nextNamespace++, [GLUSTERD_PORT, this.brickPort]);
    this.hosts.push(host);
    return host;
  }

  /**
   * Mounts the volume at a new folder (in `host`'s network namespace when
   * given); resolves once it is a mount. The client's first process returns
   * once the client it forked has the volume (~40 ms here); once in many CI
   * runs (2026-12-03) it did not return in 30 s. An attempt that has not
   * mounted in `attemptMs` is ended (its processes killed, its folder
   * unmounted) and one more is made at a new folder; the error names both
   * attempts with the tail of their client logs.
   */
  async mount(host?: NetnsHost, { attemptMs = MOUNT_ATTEMPT_MS }: { attemptMs?: number } = {}): Promise<GlusterMount> {
    const failures: string[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const result = await this.mountOnce(host, attemptMs);
      if (typeof result !== 'string') {
        this.mounts.push(result);
        return result;
      }
      failures.push(`attempt ${attempt}: ${result}`);
    }
    throw new Error(`the volume did not mount${host ? ` in ${host.name}` : ''}:\n${failures.join('\n')}`);
  }

  /** One mount attempt: the mount, or why it failed (after cleaning up after itself). */
  private async mountOnce(host: NetnsHost | undefined, attemptMs: number): Promise<GlusterMount | string> {
    const index = ++this.mountAttempts;
    const path = join(this.dir, `mount${index}`);
    mkdirSync(path);
    const pidFile = join(this.dir, `mount${index}.pid`);
    const logFile = join(this.dir, `mount${index}.log`);
    const args = [`--volfile-server=${this.server}`, `--volfile-id=${this.name}`, ...REQUIRED_MOUNT_FLAGS, `--pid-file=${pidFile}`, `--log-file=${logFile}`, path];
    const started = Date.now();
    const client = spawn(...withHost(host, 'glusterfs', args), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    client.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
    const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      const timer = setTimeout(() => resolve({ code: null }), attemptMs);
      client.once('error', (error) => (clearTimeout(timer), resolve({ code: null, error })));
      client.once('exit', (code) => (clearTimeout(timer), resolve({ code })));
    });
    let why: string | undefined;
    if (exit.error) why = `glusterfs could not start: ${exit.error.message}`;
    else if (exit.code === null) why = `glusterfs had not returned after ${attemptMs} ms`;
    else if (exit.code !== 0) why = `glusterfs exited ${exit.code}: ${stderr.trim()}`;
    while (why === undefined && !isMountPoint(path)) {
      if (Date.now() - started > attemptMs) why = `${path} is not a mount ${attemptMs} ms after glusterfs returned`;
      else await sleep(50);
    }
    client.stderr.destroy();
    const clientPid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (why === undefined && !(clientPid > 0)) why = `${pidFile} names no process`;
    if (why === undefined) return { path, pid: clientPid, host };
    if (client.exitCode === null) client.kill('SIGKILL');
    spawnSync('umount', ['-l', path], { stdio: 'ignore' });
    if (clientPid > 0) killPid(clientPid);
    return `${why}; its log:\n${tail(logFile)}`;
  }

  /** Unmounts, stops and deletes the volume, kills what it started, deletes namespaces and files. Idempotent; synchronous. */
  teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    live.delete(this);
    for (const host of this.hosts) host.heal();
    for (const mount of this.mounts) {
      spawnSync('umount', ['-l', mount.path], { stdio: 'ignore' });
      killPid(mount.pid);
    }
    if (this.glusterdPid) {
      const brickPid = this.readBrickPid();
      spawnSync('gluster', ['--mode=script', `--glusterd-sock=${join(this.dir, 'glusterd.sock')}`, `--log-file=${join(this.dir, 'cli.log')}`, 'volume', 'stop', this.name, 'force'], { stdio: 'ignore', timeout: 30_000 });
      spawnSync('gluster', ['--mode=script', `--glusterd-sock=${join(this.dir, 'glusterd.sock')}`, `--log-file=${join(this.dir, 'cli.log')}`, 'volume', 'delete', this.name], { stdio: 'ignore', timeout: 30_000 });
      if (brickPid) killPid(brickPid);
      killPid(this.glusterdPid);
    }
    for (const host of this.hosts) host.remove();
    rmSync(join('/var/log/glusterfs/bricks', `${this.brick.slice(1).replaceAll('/', '-')}.log`), { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async startGlusterd(): Promise<void> {
    for (const sub of ['wd', 'run']) mkdirSync(join(this.dir, sub));
    const volfile = join(this.dir, 'glusterd.vol');
    writeFileSync(
      volfile,
      [
        'volume management',
        '    type mgmt/glusterd',
        `    option working-directory ${join(this.dir, 'wd')}`,
        `    option run-directory ${join(this.dir, 'run')}`,
        `    option glusterd-sockfile ${join(this.dir, 'glusterd.sock')}`,
        '    option transport-type socket',
        `    option transport.socket.listen-port ${GLUSTERD_PORT}`,
        '    option ping-timeout 0',
        '    option event-threads 1',
        'end-volume',
        '',
      ].join('\n'),
    );
    const pidFile = join(this.dir, 'glusterd.pid');
    execFileSync('glusterd', ['-f', volfile, '-p', pidFile, '-l', join(this.dir, 'glusterd.log'), '--log-level=WARNING'], { stdio: 'pipe', timeout: 30_000 });
    this.glusterdPid = Number(readFileSync(pidFile, 'utf8').trim());
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        this.gluster('volume', 'list');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
  }

  private readBrickPort(): number {
    const status = this.gluster('volume', 'status', this.name, 'detail');
    const port = Number(/TCP Port\s*:\s*(\d+)/.exec(status)?.[1]);
    if (!Number.isSafeInteger(port) || port <= 0) throw new Error(`no brick port in:\n${status}`);
    return port;
  }

  private readBrickPid(): number {
    const dir = join(this.dir, 'run', 'vols', this.name);
    try {
      const file = execFileSync('sh', ['-c', `ls ${dir}/*.pid 2>/dev/null | head -1`], { encoding: 'utf8' }).trim();
      return file ? Number(readFileSync(file, 'utf8').trim()) : 0;
    } catch {
      return 0;
    }
  }
}

/**
 * A "host": a network namespace `pbg<pid>n<i>` with a veth pair to the root
 * namespace, 10.213.<i>.1 on the root side, 10.213.<i>.2 inside. Processes
 * run there with `nsenter --net` (not `ip netns exec`, which would give them
 * a mount namespace of their own, hiding their FUSE mount from the others).
 */
export class NetnsHost {
  readonly name: string;
  readonly rootSide: string;
  readonly inside: string;
  /** The address of this host as the root namespace reaches it. */
  readonly address: string;
  private removed = false;

  constructor(index: number, forwardedPorts: number[]) {
    if (index > 250) throw new Error('too many namespaces');
    const tag = `${process.pid % 100000}n${index}`;
    this.name = `pbg${tag}`;
    this.rootSide = `pbg${tag}r`;
    this.inside = `pbg${tag}i`;
    const subnet = `10.213.${index}`;
    this.address = `${subnet}.2`;
    run('ip', ['netns', 'add', this.name]);
    run('ip', ['link', 'add', this.rootSide, 'type', 'veth', 'peer', 'name', this.inside]);
    run('ip', ['link', 'set', this.inside, 'netns', this.name]);
    run('ip', ['addr', 'add', `${subnet}.1/30`, 'dev', this.rootSide]);
    run('ip', ['link', 'set', this.rootSide, 'up']);
    const inNs = (...args: string[]) => run('nsenter', [`--net=/var/run/netns/${this.name}`, ...args]);
    inNs('ip', 'addr', 'add', `${subnet}.2/30`, 'dev', this.inside);
    inNs('ip', 'link', 'set', this.inside, 'up');
    inNs('ip', 'link', 'set', 'lo', 'up');
    // glusterd and the brick are "vm:port" = 127.0.0.1:port in the volfile: send those to the root side.
    inNs('sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1');
    const ports = forwardedPorts.join(',');
    inNs('iptables', '-t', 'nat', '-A', 'OUTPUT', '-d', '127.0.0.1/32', '-p', 'tcp', '-m', 'multiport', '--dports', ports, '-j', 'DNAT', '--to-destination', `${subnet}.1`);
    inNs('iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', this.inside, '-j', 'MASQUERADE');
  }

  /** `command args` run in this host's network namespace. */
  wrap(command: string, args: string[]): [string, string[]] {
    return ['nsenter', [`--net=/var/run/netns/${this.name}`, command, ...args]];
  }

  /** Network partition: the host reaches nothing and nothing reaches it. */
  cut(): void {
    run('ip', ['link', 'set', this.rootSide, 'down']);
  }

  heal(): void {
    if (!this.removed) spawnSync('ip', ['link', 'set', this.rootSide, 'up'], { stdio: 'ignore' });
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    spawnSync('ip', ['link', 'del', this.rootSide], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
  }
}

function withHost(host: NetnsHost | undefined, command: string, args: string[]): [string, string[]] {
  return host ? host.wrap(command, args) : [command, args];
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Whether `path` is a mount point (a line of /proc/self/mountinfo). */
export function isMountPoint(path: string): boolean {
  return mountInfoLine(path) !== undefined;
}

/** The line of /proc/self/mountinfo for the mount at `path`. */
export function mountInfoLine(path: string): string | undefined {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((line) => line.split(' ')[4] === path);
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '';
  }
}
