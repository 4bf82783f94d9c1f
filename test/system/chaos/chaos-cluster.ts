/**
 * The cluster under test: `pinbase router` and `pinbase worker` processes
 * from dist/ on 127.0.0.1, sharing one data directory and one topology file
 * in a temporary folder, with a small supervisor that restarts a worker
 * that dies (same id, port and data) unless it was retired.
 *
 * Authentication is on, as in production: the workers check every user's
 * bearer token (HS256, from a secret made for the run), the router and the
 * workers share an admin token and a cluster secret (signed hints).
 *
 * With `dataDirs` (several mounts of one shared volume, as several hosts
 * see it: test/support/glusterfs), each worker's --data is one of them in
 * turn (w1 the first, w2 the second, ...), and the checks read the files
 * through the first.
 *
 * Every process this module starts is stopped by pid: `stop()` gracefully,
 * `destroy()` (also run at process exit) with SIGCONT + SIGKILL.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { assertBuilt, CliProcess, describeExit, OutputTail } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { answersReady, spawnWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

/** Output kept per process, for failure reports. */
const OUTPUT_LIMIT = 64 * 1024;

export interface WorkerSlot {
  id: string;
  port: number;
  url: string;
  worker: WorkerProcess | undefined;
  /** Answered /readyz since its current process started. */
  ready: boolean;
  paused: boolean;
  /** The supervisor restarts it when it dies. False once retired. */
  supervised: boolean;
  /** Every pid it ran as. */
  pids: number[];
  /** How each process ended: "SIGKILL", "exit 0", ... */
  exits: string[];
  output: OutputTail;
}

const liveClusters = new Set<ChaosCluster>();
process.on('exit', () => {
  for (const cluster of liveClusters) cluster.destroy();
});

export class ChaosCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'pinbase-chaos-'));
  /** Where the checks read the users' files. */
  readonly dataDir: string;
  /** Each worker's --data, in turn by worker number. */
  readonly workerDataDirs: readonly string[];
  readonly topologyPath = join(this.dir, 'topology.json');
  readonly slots = new Map<string, WorkerSlot>();
  /** Worker ids in the current topology, in order. */
  members: string[] = [];
  version = 0;
  routerUrl = '';
  /** The run's secrets (files under dir/secrets, mode 0600). */
  readonly secrets = { auth: generateSecret(), admin: generateSecret(), cluster: generateSecret() };
  private readonly secretFiles = { auth: '', admin: '', cluster: '' };
  private router: CliProcess | undefined;
  private nextWorker = 1;
  private destroyed = false;

  private constructor(dataDirs: readonly string[] | undefined) {
    if (dataDirs !== undefined && dataDirs.length > 0) {
      this.workerDataDirs = dataDirs;
    } else {
      this.workerDataDirs = [join(this.dir, 'data')];
      mkdirSync(this.workerDataDirs[0]!);
    }
    this.dataDir = this.workerDataDirs[0]!;
    const secretsDir = join(this.dir, 'secrets');
    mkdirSync(secretsDir, { mode: 0o700 });
    for (const name of ['auth', 'admin', 'cluster'] as const) {
      this.secretFiles[name] = join(secretsDir, name);
      writeFileSync(this.secretFiles[name], `${this.secrets[name]}\n`, { mode: 0o600 });
    }
    liveClusters.add(this);
  }

  /** A bearer token for `userId` (read and write on that user only), valid for an hour. */
  tokenFor(userId: string): Promise<string> {
    return signUserToken(this.secrets.auth, { userId, scopes: [], ttlSeconds: 3600 });
  }

  /**
   * Starts `workers` workers and the router; resolves once the router routes
   * to all of them. `dataDirs`: the workers' data directories, in turn
   * (default: one folder in the run's temporary folder).
   */
  static async start(workers: number, dataDirs?: readonly string[]): Promise<ChaosCluster> {
    assertBuilt();
    const cluster = new ChaosCluster(dataDirs);
    try {
      const ids: string[] = [];
      for (let i = 0; i < workers; i++) ids.push(await cluster.spawnNewWorker());
      cluster.publish(ids);
      await Promise.all(ids.map((id) => cluster.waitReady(id)));
      const port = await freePort();
      cluster.routerUrl = `http://127.0.0.1:${port}`;
      const args = ['router', '--port', String(port), '--topology', cluster.topologyPath, '--log-level', 'warn', ...cluster.sharedSecretArgs()];
      cluster.router = new CliProcess(args, { outputLimit: OUTPUT_LIMIT });
      await cluster.waitRoutable(20_000);
      return cluster;
    } catch (error) {
      cluster.destroy();
      throw error;
    }
  }

  /** Starts a new worker, waits until it is ready, then publishes a topology that includes it. */
  async addWorker(): Promise<string> {
    const id = await this.spawnNewWorker();
    await this.waitReady(id);
    this.publish([...this.members, id]);
    return id;
  }

  /**
   * Publishes a topology without `id` (its users move to the others, which
   * ask it to hand their partitions over), waits `handoverMs`, then stops it
   * with SIGTERM (SIGKILL after 10 s) and no longer restarts it.
   */
  async removeWorker(id: string, handoverMs: number): Promise<void> {
    this.publish(this.members.filter((member) => member !== id));
    await sleep(handoverMs);
    await this.retire(this.slot(id), 10_000);
  }

  /**
   * kill -9; the supervisor restarts the worker. Resolves once the process is
   * gone. The worker stops counting as healthy at once, not when its exit is
   * seen: otherwise the other timeline of the nemesis could pick it in
   * between, and a remove would then SIGTERM its next process while that one
   * is still starting (before it handles the signal).
   */
  async kill(id: string): Promise<void> {
    const slot = this.slot(id);
    slot.ready = false;
    await slot.worker?.stop('SIGKILL');
  }

  pause(id: string): void {
    const slot = this.slot(id);
    if (!slot.worker?.process.pid) return;
    slot.paused = true;
    slot.worker.process.signal('SIGSTOP');
  }

  resume(id: string): void {
    const slot = this.slot(id);
    slot.paused = false;
    slot.worker?.process.signal('SIGCONT');
  }

  /** Members whose process is up, ready and not paused. */
  healthyMembers(): string[] {
    return this.members.filter((id) => {
      const slot = this.slot(id);
      return slot.ready && !slot.paused && slot.worker !== undefined;
    });
  }

  /** The pid of every worker process alive now, with its worker id. */
  livePids(): Map<number, string> {
    const pids = new Map<number, string>();
    for (const slot of this.slots.values()) {
      const child = slot.worker?.process;
      if (child?.pid !== undefined && child.running) pids.set(child.pid, slot.id);
    }
    return pids;
  }

  /** Waits until every member is ready and not paused and the router routes to exactly the members. */
  async waitCalm(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const id of this.members) if (this.slot(id).paused) this.resume(id);
    for (const id of this.members) await this.waitReady(id, Math.max(1, deadline - Date.now()));
    await this.waitRoutable(Math.max(1, deadline - Date.now()));
  }

  /**
   * Graceful stop: SIGTERM to the router, then to every worker (each
   * finishes its in-flight requests and releases its leases). Returns one
   * line per process that did not exit 0 within `timeoutMs` (it is killed).
   */
  async stop(timeoutMs = 15_000): Promise<string[]> {
    const problems: string[] = [];
    if (this.router) {
      const exit = describeExit(await this.router.stop('SIGTERM', timeoutMs));
      if (exit !== 'exit 0') problems.push(`router: ${exit}`);
      this.router = undefined;
    }
    const slots = [...this.slots.values()].filter((slot) => slot.worker !== undefined);
    const exits = await Promise.all(slots.map((slot) => this.retire(slot, timeoutMs)));
    exits.forEach((exit, i) => {
      if (exit !== 'exit 0') problems.push(`worker ${slots[i]!.id}: ${exit}`);
    });
    return problems;
  }

  /** Kills every process still running (SIGCONT first, then SIGKILL). Idempotent; synchronous. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveClusters.delete(this);
    for (const slot of this.slots.values()) slot.supervised = false;
    for (const child of [this.router, ...[...this.slots.values()].map((slot) => slot.worker?.process)]) child?.kill();
  }

  /** Deletes the temporary folder (after destroy() or stop()). */
  removeFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Everything the processes printed recently, for a failure report. */
  output(): string {
    const parts = [`--- router\n${this.router?.output() ?? ''}`];
    for (const slot of this.slots.values()) {
      parts.push(`--- worker ${slot.id} (pids ${slot.pids.join(', ')}; exits ${slot.exits.join(', ') || 'none'})\n${slot.output.toString()}`);
    }
    return parts.join('\n');
  }

  slot(id: string): WorkerSlot {
    const slot = this.slots.get(id);
    if (!slot) throw new Error(`no worker ${id}`);
    return slot;
  }

  private async spawnNewWorker(): Promise<string> {
    const id = `w${this.nextWorker++}`;
    const port = await freePort();
    const slot: WorkerSlot = {
      id,
      port,
      url: `http://127.0.0.1:${port}`,
      worker: undefined,
      ready: false,
      paused: false,
      supervised: true,
      pids: [],
      exits: [],
      output: new OutputTail(OUTPUT_LIMIT),
    };
    this.slots.set(id, slot);
    this.runWorker(slot);
    return id;
  }

  /** w<n>'s data directory: the (n-1)th of workerDataDirs, in turn. */
  private dataDirOf(id: string): string {
    const n = Number(id.slice(1));
    return this.workerDataDirs[(n - 1) % this.workerDataDirs.length]!;
  }

  /** The flags giving a process the admin token and the cluster secret. */
  private sharedSecretArgs(): string[] {
    return ['--admin-token-file', this.secretFiles.admin, '--cluster-secret-file', this.secretFiles.cluster];
  }

  /** Starts the worker's process; when it dies while supervised, starts it again. */
  private runWorker(slot: WorkerSlot): void {
    const worker = spawnWorkerProcess({
      id: slot.id,
      port: slot.port,
      dataDir: this.dataDirOf(slot.id),
      topologyFile: this.topologyPath,
      outputLimit: OUTPUT_LIMIT,
      onOutput: (chunk) => slot.output.add(chunk),
      args: ['--auth-secret-file', this.secretFiles.auth, ...this.sharedSecretArgs()],
    });
    slot.worker = worker;
    slot.ready = false;
    slot.paused = false;
    if (worker.process.pid !== undefined) slot.pids.push(worker.process.pid);
    const startedAt = Date.now();
    void worker.process.exited.then((exit) => {
      slot.exits.push(describeExit(exit));
      if (slot.worker === worker) {
        slot.worker = undefined;
        slot.ready = false;
      }
      if (!slot.supervised || this.destroyed) return;
      // A process that dies at once (port not yet free, say) is restarted after a pause.
      const delay = Date.now() - startedAt < 1000 ? 500 : 50;
      setTimeout(() => {
        if (slot.supervised && !this.destroyed && slot.worker === undefined) this.runWorker(slot);
      }, delay);
    });
    void this.watchReady(slot, worker);
  }

  private async watchReady(slot: WorkerSlot, worker: WorkerProcess): Promise<void> {
    while (slot.worker === worker && !slot.ready) {
      if (await answersReady(slot.url)) {
        if (slot.worker === worker) slot.ready = true;
        return;
      }
      await sleep(50);
    }
  }

  /** Stops supervising the worker and stops its process gracefully (SIGKILL after `timeoutMs`). */
  private async retire(slot: WorkerSlot, timeoutMs: number): Promise<string> {
    slot.supervised = false;
    const worker = slot.worker;
    if (!worker) return slot.exits.at(-1) ?? 'not running';
    slot.paused = false;
    return describeExit(await worker.process.stop('SIGTERM', timeoutMs));
  }

  private async waitReady(id: string, timeoutMs = 20_000): Promise<void> {
    const slot = this.slot(id);
    const deadline = Date.now() + timeoutMs;
    while (!slot.ready) {
      if (Date.now() > deadline) throw new Error(`worker ${id} not ready in ${timeoutMs} ms:\n${slot.output.toString()}`);
      await sleep(50);
    }
  }

  /** Waits until the router knows the current topology and every member is routable. */
  private async waitRoutable(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await routerStatus(this.routerUrl, this.secrets.admin);
      const routable = status?.workers.filter((w) => w.routable).map((w) => w.id).sort() ?? [];
      if (status?.topologyVersion === this.version && routable.join() === [...this.members].sort().join()) return;
      if (Date.now() > deadline) {
        throw new Error(
          `router did not route to ${this.members.join(', ')} (topology ${this.version}) in ${timeoutMs} ms; ` +
            `status: ${JSON.stringify(status)}\n${this.router?.output() ?? ''}`,
        );
      }
      await sleep(100);
    }
  }

  /** Writes the topology file (by rename) with `members`, at the next version. */
  private publish(members: string[]): void {
    this.members = members;
    this.version++;
    const workers = members.map((id) => ({ id, url: this.slot(id).url }));
    writeFileSync(`${this.topologyPath}.tmp`, JSON.stringify({ version: this.version, workers }));
    renameSync(`${this.topologyPath}.tmp`, this.topologyPath);
  }
}

interface RouterStatus {
  topologyVersion: number;
  workers: { id: string; routable: boolean }[];
}

async function routerStatus(url: string, adminToken: string): Promise<RouterStatus | undefined> {
  try {
    const reply = await send(url, '/_router/status', { timeoutMs: 2000, headers: { authorization: `Bearer ${adminToken}` } });
    return reply.status === 200 ? (reply.json() as RouterStatus) : undefined;
  } catch {
    return undefined;
  }
}
