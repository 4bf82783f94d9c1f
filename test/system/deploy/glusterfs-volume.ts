/**
 * A one-brick GlusterFS volume for the deployment test, self-contained:
 *
 * - glusterd runs in a network namespace this test creates (its own port
 *   24007, its own brick ports), joined to this machine by a veth pair with
 *   a /30 of its own. Other GlusterFS tests on this machine (another
 *   glusterd on the default port 24007, whose bricks fetch their volume
 *   files from <host>:24007) never see it, and it never sees them.
 * - Its working, run and log directories, its CLI socket (`gluster
 *   --glusterd-sock=...`) and its brick live in the test's temporary
 *   directory; nothing under /var/lib/glusterd or /etc/glusterfs is used.
 * - The brick's host is the namespace's veth address (glusterd refuses
 *   127.0.0.1; the machine's host name resolves to loopback, which inside
 *   the namespace is the namespace's own). FUSE clients in the host's
 *   namespace reach glusterd and the brick through the veth pair.
 *
 * `destroy()` stops the volume, glusterd and any brick by pid, deletes the
 * namespace (and with it the veth pair), and removes the log files the brick
 * and a client wrote under /var/log/glusterfs. Unmounting is the caller's
 * (the mount belongs to the playbook under test).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandLine, isRunning, waitUntilGone } from './deployed-processes.js';

const TOOLS = ['glusterd', 'gluster', 'glusterfs', 'ip'] as const;

/** Throws one clear line when GlusterFS is not installed: the test must fail, never skip. */
export function assertGlusterfsInstalled(): void {
  for (const tool of TOOLS) {
    const probe = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (probe.status !== 0) {
      throw new Error(`${tool} is not installed: apt-get install -y glusterfs-server glusterfs-client iproute2 (.ci/run does this)`);
    }
  }
}

function run(command: string, args: string[], allowFailure = false): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  if (!allowFailure && (result.error || result.status !== 0)) {
    throw new Error(`${command} ${args.join(' ')}: exit ${result.status} ${result.error?.message ?? ''}\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

/** The log file name GlusterFS derives from a path (/a/b → a-b.log). */
function glusterLogName(path: string): string {
  return `${path.replace(/^\/+/, '').replace(/\//g, '-')}.log`;
}

export class GlusterVolume {
  /** The server's address (the namespace's end of the veth pair). */
  readonly server: string;
  /** `host:/volume`, as an inventory's storage_mount_source names it. */
  readonly source: string;
  /** The gluster command that reaches this glusterd. */
  readonly cli: string[];
  readonly brick: string;
  private readonly glusterdPidfile: string;
  private readonly runDir: string;
  private glusterdPid = 0;
  private namespaceCreated = false;

  private constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly namespace: string,
    private readonly hostVeth: string,
    private readonly hostAddress: string,
  ) {
    this.server = hostAddress.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) + 1}`);
    this.source = `${this.server}:/${name}`;
    this.cli = ['gluster', `--glusterd-sock=${join(dir, 'glusterd.sock')}`];
    this.brick = join(dir, 'brick');
    this.glusterdPidfile = join(dir, 'glusterd.pid');
    this.runDir = join(dir, 'run');
  }

  /** Creates, starts and returns a volume named `pinbase-deploy-<random>`, with everything under `dir`. */
  static async create(dir: string): Promise<GlusterVolume> {
    const id = randomBytes(3).toString('hex');
    // A /30 in 10.214.0.0/16 in a /24 no address or route on this machine uses yet.
    const used = run('ip', ['-o', '-4', 'addr', 'show']) + run('ip', ['-4', 'route', 'show']);
    let hostAddress = '';
    for (let attempt = 0; attempt < 50 && hostAddress === ''; attempt++) {
      const [b, c] = randomBytes(2);
      const candidate = `10.214.${b}.${(c! & 0xfc) + 1}`;
      if (!used.includes(candidate.replace(/\.\d+$/, '.'))) hostAddress = candidate;
    }
    if (hostAddress === '') throw new Error('no free 10.214.x.y/30 for the GlusterFS namespace');
    const volume = new GlusterVolume(`pinbase-deploy-${id}`, dir, `pinbase-gl-${id}`, `pbgl${id}a`, hostAddress);
    try {
      await volume.start(id);
    } catch (error) {
      await volume.destroy();
      throw error;
    }
    return volume;
  }

  private async start(id: string): Promise<void> {
    const ns = this.namespace;
    const peerVeth = `pbgl${id}b`;
    for (const sub of ['wd', 'run', 'log', 'brick']) mkdirSync(join(this.dir, sub), { recursive: true });
    run('ip', ['netns', 'add', ns]);
    this.namespaceCreated = true;
    run('ip', ['link', 'add', this.hostVeth, 'type', 'veth', 'peer', 'name', peerVeth]);
    run('ip', ['link', 'set', peerVeth, 'netns', ns]);
    run('ip', ['addr', 'add', `${this.hostAddress}/30`, 'dev', this.hostVeth]);
    run('ip', ['link', 'set', this.hostVeth, 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${this.server}/30`, 'dev', peerVeth]);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', peerVeth, 'up']);
    run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);

    const volfile = join(this.dir, 'glusterd.vol');
    writeFileSync(
      volfile,
      [
        'volume management',
        '    type mgmt/glusterd',
        `    option working-directory ${join(this.dir, 'wd')}`,
        `    option run-directory ${this.runDir}`,
        `    option glusterd-sockfile ${join(this.dir, 'glusterd.sock')}`,
        '    option transport-type socket',
        '    option ping-timeout 0',
        '    option event-threads 1',
        'end-volume',
        '',
      ].join('\n'),
    );
    // glusterd daemonizes; its pid is in the pidfile.
    run('ip', ['netns', 'exec', ns, 'glusterd', '-f', volfile, '-p', this.glusterdPidfile, '-l', join(this.dir, 'log', 'glusterd.log'), '--log-level=WARNING']);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (existsSync(this.glusterdPidfile)) this.glusterdPid = Number(readFileSync(this.glusterdPidfile, 'utf8').trim()) || 0;
      const probe = spawnSync(this.cli[0]!, [...this.cli.slice(1), '--mode=script', 'volume', 'list'], { encoding: 'utf8' });
      if (this.glusterdPid > 0 && probe.status === 0) break;
      if (Date.now() > deadline) throw new Error(`glusterd did not answer: ${probe.stdout}${probe.stderr}`);
      await sleep(200);
    }
    this.gluster(['volume', 'create', this.name, `${this.server}:${this.brick}`, 'force']);
    this.gluster(['volume', 'start', this.name]);
  }

  /** `gluster --mode=script ARGS` against this glusterd; throws on failure. */
  gluster(args: string[]): string {
    return run(this.cli[0]!, [...this.cli.slice(1), '--mode=script', ...args]);
  }

  /** The value `gluster volume get` reports for `option` ("on (DEFAULT)" → "on"). */
  option(option: string): string {
    const line = this.gluster(['volume', 'get', this.name, option])
      .split('\n')
      .find((l) => l.startsWith(`${option} `));
    if (line === undefined) throw new Error(`gluster volume get ${this.name} ${option}: no such option`);
    return line.trim().split(/\s+/)[1]!;
  }

  /** Pids of the brick processes glusterd started (their pidfiles in the run directory). */
  private brickPids(): number[] {
    const vols = join(this.runDir, 'vols');
    if (!existsSync(vols)) return [];
    const pids: number[] = [];
    for (const vol of readdirSync(vols)) {
      for (const file of readdirSync(join(vols, vol))) {
        if (!file.endsWith('.pid')) continue;
        const pid = Number(readFileSync(join(vols, vol, file), 'utf8').trim());
        if (Number.isSafeInteger(pid) && pid > 1) pids.push(pid);
      }
    }
    return pids;
  }

  /** Stops and deletes the volume, stops glusterd and the brick (by pid), deletes the namespace. Never throws. */
  async destroy(): Promise<void> {
    if (this.glusterdPid === 0 && existsSync(this.glusterdPidfile)) {
      const pid = Number(readFileSync(this.glusterdPidfile, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 1 && commandLine(pid).some((arg) => arg.includes(this.dir))) this.glusterdPid = pid;
    }
    const bricks = this.brickPids();
    if (this.glusterdPid > 0 && isRunning(this.glusterdPid)) {
      run(this.cli[0]!, [...this.cli.slice(1), '--mode=script', 'volume', 'stop', this.name, 'force'], true);
      run(this.cli[0]!, [...this.cli.slice(1), '--mode=script', 'volume', 'delete', this.name], true);
    }
    for (const pid of [this.glusterdPid, ...bricks]) {
      if (pid > 0 && isRunning(pid)) {
        process.kill(pid, 'SIGTERM');
        if (!(await waitUntilGone(pid, 10_000)) && isRunning(pid)) process.kill(pid, 'SIGKILL');
      }
    }
    if (this.namespaceCreated) run('ip', ['netns', 'del', this.namespace], true);
    rmSync(join('/var/log/glusterfs/bricks', glusterLogName(this.brick)), { force: true });
  }

  /** Removes the client log a mount at `mountPoint` wrote under /var/log/glusterfs. */
  static removeClientLog(mountPoint: string): void {
    rmSync(join('/var/log/glusterfs', glusterLogName(mountPoint)), { force: true });
  }
}
