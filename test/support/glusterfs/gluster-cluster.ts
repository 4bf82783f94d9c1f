/**
 * Pinbase on a GlusterFS volume, as several hosts: each worker is a real
 * `pinbase worker` from dist/ with `--data` on its own mount of the volume
 * (hosts[i] in a network namespace when `isolated` lists it), authentication
 * on, and a real `pinbase router` in the root namespace routing to them by a
 * topology file. Every process is stopped by pid; teardown() (also at process
 * exit) kills what is left and tears the volume down.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { partitionPath } from '../../../services/partition/user-id.js';
import { Placement } from '../../../services/topology/placement.js';
import { assertBuilt, CLI, CliProcess, OutputTail, type ProcessExit } from '../cli-process.js';
import { freePort } from '../free-port.js';
import { send, type Reply } from '../http-client.js';
import { GlusterVolume, type GlusterMount, type NetnsHost } from './gluster-volume.js';

const OUTPUT_LIMIT = 256 * 1024;

/** A worker process, possibly inside a network namespace (spawned through nsenter, which execs node: same pid). */
export class HostWorker {
  readonly output = new OutputTail(OUTPUT_LIMIT);
  readonly exited: Promise<ProcessExit>;
  readonly pid: number;
  private exit: ProcessExit | undefined;

  constructor(
    readonly id: string,
    readonly url: string,
    command: [string, string[]],
  ) {
    const child = spawn(command[0], command[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = child.pid ?? 0;
    const collect = (chunk: Buffer) => this.output.add(chunk.toString());
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // gone
    }
  }

  /** `signal`, SIGKILL after `timeoutMs`; resolves with how it ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<ProcessExit> {
    this.signal('SIGCONT');
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

export interface GlusterClusterOptions {
  workers: number;
  /** Indexes (0-based) of workers whose host is a network namespace (cut()/heal()). */
  isolated?: number[];
  /** More flags for every worker. */
  workerArgs?: string[];
  /** No router (the test talks to the workers). */
  noRouter?: boolean;
}

export interface HostSlot {
  id: string;
  mount: GlusterMount;
  host: NetnsHost | undefined;
  port: number;
  /** How the root namespace (router, test) reaches it. */
  url: string;
  worker: HostWorker | undefined;
}

const liveClusters = new Set<GlusterCluster>();
process.on('exit', () => {
  for (const cluster of liveClusters) cluster.teardown();
});

export class GlusterCluster {
  readonly slots: HostSlot[] = [];
  readonly secrets = { auth: generateSecret(), admin: generateSecret(), cluster: generateSecret() };
  readonly secretFiles = { auth: '', admin: '', cluster: '' };
  topologyPath = '';
  version = 0;
  members: string[] = [];
  router: CliProcess | undefined;
  routerUrl = '';
  private readonly tokens = new Map<string, string>();

  private constructor(
    readonly volume: GlusterVolume,
    private readonly workerArgs: string[],
  ) {
    const secretsDir = join(volume.dir, 'secrets');
    mkdirSync(secretsDir, { mode: 0o700 });
    for (const name of ['auth', 'admin', 'cluster'] as const) {
      this.secretFiles[name] = join(secretsDir, name);
      writeFileSync(this.secretFiles[name], `${this.secrets[name]}\n`, { mode: 0o600 });
    }
    this.topologyPath = join(volume.dir, 'topology.json');
    liveClusters.add(this);
  }

  static async start(options: GlusterClusterOptions): Promise<GlusterCluster> {
    assertBuilt();
    const volume = await GlusterVolume.create();
    const cluster = new GlusterCluster(volume, options.workerArgs ?? []);
    try {
      for (let i = 0; i < options.workers; i++) {
        const host = options.isolated?.includes(i) ? volume.addHost() : undefined;
        const mount = await volume.mount(host);
        const port = await freePort();
        const address = host?.address ?? '127.0.0.1';
        cluster.slots.push({ id: `w${i + 1}`, mount, host, port, url: `http://${address}:${port}`, worker: undefined });
      }
      cluster.publish(cluster.slots.map((slot) => slot.id));
      for (const slot of cluster.slots) cluster.startWorker(slot.id);
      await Promise.all(cluster.slots.map((slot) => cluster.waitReady(slot.id)));
      if (!options.noRouter) {
        const port = await freePort();
        cluster.routerUrl = `http://127.0.0.1:${port}`;
        const args = ['router', '--port', String(port), '--topology', cluster.topologyPath, '--log-level', 'warn'];
        cluster.router = new CliProcess([...args, ...cluster.sharedSecretArgs()], { outputLimit: OUTPUT_LIMIT });
        await cluster.waitRoutable(cluster.members);
      }
      return cluster;
    } catch (error) {
      cluster.teardown();
      throw error;
    }
  }

  slot(id: string): HostSlot {
    const slot = this.slots.find((s) => s.id === id);
    if (!slot) throw new Error(`no worker ${id}`);
    return slot;
  }

  /** Spawns the worker of `id` (on its mount, in its host's namespace); not ready yet. */
  startWorker(id: string): HostWorker {
    const slot = this.slot(id);
    const host = slot.host?.address ?? '127.0.0.1';
    const args = [
      CLI,
      'worker',
      '--id', slot.id,
      '--host', host,
      '--port', String(slot.port),
      '--data', slot.mount.path,
      '--topology', this.topologyPath,
      '--log-level', 'info',
      '--auth-secret-file', this.secretFiles.auth,
      ...this.sharedSecretArgs(),
      ...this.workerArgs,
    ];
    const command: [string, string[]] = slot.host ? slot.host.wrap(process.execPath, args) : [process.execPath, args];
    slot.worker = new HostWorker(slot.id, slot.url, command);
    return slot.worker;
  }

  async waitReady(id: string, timeoutMs = 30_000): Promise<void> {
    const slot = this.slot(id);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!slot.worker?.running) throw new Error(`worker ${id} exited:\n${slot.worker?.output.toString()}`);
      try {
        if ((await send(slot.url, '/readyz', { timeoutMs: 1000 })).status === 200) return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`worker ${id} not ready in ${timeoutMs} ms:\n${slot.worker.output.toString()}`);
      await sleep(50);
    }
  }

  /** A bearer token for `userId`, cached. */
  async tokenFor(userId: string): Promise<string> {
    let token = this.tokens.get(userId);
    if (token === undefined) {
      token = await signUserToken(this.secrets.auth, { userId, scopes: [], ttlSeconds: 3600 });
      this.tokens.set(userId, token);
    }
    return token;
  }

  /** Sends a user's request with the user's token (to the router unless `base` is given). */
  async userRequest(userId: string, path: string, options: { method?: string; json?: unknown; headers?: Record<string, string>; base?: string; timeoutMs?: number } = {}): Promise<Reply> {
    const headers = { authorization: `Bearer ${await this.tokenFor(userId)}`, ...options.headers };
    return send(options.base ?? this.routerUrl, `/api/users/${userId}${path}`, {
      method: options.method,
      json: options.json,
      headers,
      timeoutMs: options.timeoutMs ?? 15_000,
    });
  }

  /** The worker's /_worker/status (admin token). */
  async workerStatus(id: string): Promise<Record<string, unknown>> {
    const reply = await send(this.slot(id).url, '/_worker/status', { headers: { authorization: `Bearer ${this.secrets.admin}` }, timeoutMs: 2000 });
    if (reply.status !== 200) throw new Error(`/_worker/status of ${id}: ${reply.status} ${reply.body}`);
    return reply.json() as Record<string, unknown>;
  }

  /** Owner of `userId` among the members, with `down` treated as down. */
  ownerOf(userId: string, down: readonly string[] = []): string {
    return new Placement(this.members).owner(userId, (id) => !down.includes(id))!;
  }

  usersOwnedBy(workerId: string, count: number, salt = 'u'): string[] {
    const users: string[] = [];
    for (let i = 0; users.length < count; i++) if (this.ownerOf(`${salt}${i}`) === workerId) users.push(`${salt}${i}`);
    return users;
  }

  /** The owner record (`<file>.owner`) of a user's partition, read through `mount` (the first by default). */
  ownerRecord(userId: string, mount = this.slots[0]!.mount): { epoch: number; worker: string } | undefined {
    const file = partitionPath(mount.path, userId);
    try {
      return JSON.parse(readFileSync(`${file}.owner`, 'utf8')) as { epoch: number; worker: string };
    } catch {
      return undefined;
    }
  }

  /** Writes the topology file (by rename) with `members`, at the next version. */
  publish(members: string[]): void {
    this.members = members;
    this.version++;
    const workers = members.map((id) => ({ id, url: this.slot(id).url }));
    writeFileSync(`${this.topologyPath}.tmp`, JSON.stringify({ version: this.version, workers }));
    renameSync(`${this.topologyPath}.tmp`, this.topologyPath);
  }

  /** Router status (admin token). */
  async routerStatus(): Promise<{ topologyVersion: number; workers: { id: string; routable: boolean; health?: string; drained?: boolean }[] } | undefined> {
    try {
      const reply = await send(this.routerUrl, '/_router/status', { timeoutMs: 2000, headers: { authorization: `Bearer ${this.secrets.admin}` } });
      return reply.status === 200 ? (reply.json() as never) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits until the router routes to exactly `routable`. */
  async waitRoutable(routable: string[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.routerStatus();
      const now = status?.workers.filter((w) => w.routable).map((w) => w.id).sort() ?? [];
      if (status?.topologyVersion === this.version && now.join() === [...routable].sort().join()) return;
      if (Date.now() > deadline) throw new Error(`router did not route to ${routable.join(', ')} in ${timeoutMs} ms: ${JSON.stringify(status)}\n${this.router?.output() ?? ''}`);
      await sleep(50);
    }
  }

  /** Drains or undrains a worker through the router's admin API. */
  async setDrained(id: string, drained: boolean): Promise<void> {
    const reply = await send(this.routerUrl, `/_router/workers/${id}/${drained ? 'drain' : 'undrain'}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.secrets.admin}` },
      timeoutMs: 5000,
    });
    if (reply.status >= 300) throw new Error(`${drained ? 'drain' : 'undrain'} ${id}: ${reply.status} ${reply.body}`);
  }

  /** Stops the router and the workers gracefully; returns the exits that were not clean. */
  async stop(): Promise<string[]> {
    const problems: string[] = [];
    if (this.router) {
      const exit = await this.router.stop('SIGTERM', 10_000);
      if (exit.code !== 0) problems.push(`router: ${JSON.stringify(exit)}`);
      this.router = undefined;
    }
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot.worker?.running) return;
        const exit = await slot.worker.stop('SIGTERM', 15_000);
        if (exit.code !== 0) problems.push(`worker ${slot.id}: ${JSON.stringify(exit)}`);
      }),
    );
    return problems;
  }

  /** Kills every process left (by pid) and tears the volume down. Idempotent; synchronous. */
  teardown(): void {
    if (!liveClusters.delete(this)) return;
    this.router?.kill();
    for (const slot of this.slots) {
      slot.worker?.signal('SIGCONT');
      slot.worker?.signal('SIGKILL');
    }
    this.volume.teardown();
  }

  /** Everything the processes printed recently. */
  output(): string {
    return [`--- router\n${this.router?.output() ?? ''}`, ...this.slots.map((s) => `--- ${s.id}\n${s.worker?.output.toString() ?? ''}`)].join('\n');
  }

  private sharedSecretArgs(): string[] {
    return ['--admin-token-file', this.secretFiles.admin, '--cluster-secret-file', this.secretFiles.cluster];
  }
}

