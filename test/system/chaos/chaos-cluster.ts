/**
 * The cluster under test: `pinbase router` and `pinbase worker` processes
 * from dist/ on 127.0.0.1, sharing one data directory and one topology file
 * in a temporary folder, with a small supervisor that restarts a worker
 * that dies (same id, port and data) unless it was retired.
 *
 * Every process this module starts is stopped by pid: `stop()` gracefully,
 * `destroy()` (also run at process exit) with SIGCONT + SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/free-port.js';
import { CLI } from '../../support/worker-process.js';

/** The last bytes a process printed, for failure reports. */
class OutputTail {
  private text = '';
  constructor(private readonly limit = 64 * 1024) {}
  add(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text;
  }
}

export interface WorkerSlot {
  id: string;
  port: number;
  url: string;
  child: ChildProcess | undefined;
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
  readonly dataDir = join(this.dir, 'data');
  readonly topologyPath = join(this.dir, 'topology.json');
  readonly slots = new Map<string, WorkerSlot>();
  /** Worker ids in the current topology, in order. */
  members: string[] = [];
  version = 0;
  routerUrl = '';
  private router: ChildProcess | undefined;
  private readonly routerOutput = new OutputTail();
  private nextWorker = 1;
  private destroyed = false;

  private constructor() {
    mkdirSync(this.dataDir);
    liveClusters.add(this);
  }

  /** Starts `workers` workers and the router; resolves once the router routes to all of them. */
  static async start(workers: number): Promise<ChaosCluster> {
    if (!existsSync(join(CLI, '..', '..', 'dist', 'services', 'cli', 'main.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first');
    }
    const cluster = new ChaosCluster();
    try {
      const ids: string[] = [];
      for (let i = 0; i < workers; i++) ids.push(await cluster.spawnNewWorker());
      cluster.publish(ids);
      await Promise.all(ids.map((id) => cluster.waitReady(id)));
      const port = await freePort();
      cluster.routerUrl = `http://127.0.0.1:${port}`;
      const args = ['router', '--port', String(port), '--topology', cluster.topologyPath, '--log-level', 'warn'];
      cluster.router = cluster.spawnCli(args, cluster.routerOutput);
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

  /** kill -9; the supervisor restarts the worker. Resolves once the process is gone. */
  async kill(id: string): Promise<void> {
    const child = this.slot(id).child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  pause(id: string): void {
    const slot = this.slot(id);
    if (!slot.child?.pid) return;
    slot.paused = true;
    slot.child.kill('SIGSTOP');
  }

  resume(id: string): void {
    const slot = this.slot(id);
    slot.paused = false;
    slot.child?.kill('SIGCONT');
  }

  /** Members whose process is up, ready and not paused. */
  healthyMembers(): string[] {
    return this.members.filter((id) => {
      const slot = this.slot(id);
      return slot.ready && !slot.paused && slot.child !== undefined;
    });
  }

  /** The pid of every worker process alive now, with its worker id. */
  livePids(): Map<number, string> {
    const pids = new Map<number, string>();
    for (const slot of this.slots.values()) {
      const child = slot.child;
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) pids.set(child.pid, slot.id);
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
      const exit = await stopProcess(this.router, timeoutMs);
      if (exit !== 'exit 0') problems.push(`router: ${exit}`);
      this.router = undefined;
    }
    const slots = [...this.slots.values()].filter((slot) => slot.child !== undefined);
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
    const children = [this.router, ...[...this.slots.values()].map((slot) => slot.child)];
    for (const slot of this.slots.values()) slot.supervised = false;
    for (const child of children) {
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }

  /** Deletes the temporary folder (after destroy() or stop()). */
  removeFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Everything the processes printed recently, for a failure report. */
  output(): string {
    const parts = [`--- router\n${this.routerOutput.toString()}`];
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
      child: undefined,
      ready: false,
      paused: false,
      supervised: true,
      pids: [],
      exits: [],
      output: new OutputTail(),
    };
    this.slots.set(id, slot);
    this.runWorker(slot);
    return id;
  }

  /** Starts the worker's process; when it dies while supervised, starts it again. */
  private runWorker(slot: WorkerSlot): void {
    const args = ['worker', '--id', slot.id, '--port', String(slot.port), '--data', this.dataDir];
    const child = this.spawnCli([...args, '--topology', this.topologyPath, '--log-level', 'warn'], slot.output);
    slot.child = child;
    slot.ready = false;
    slot.paused = false;
    if (child.pid !== undefined) slot.pids.push(child.pid);
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      slot.exits.push(signal ?? `exit ${code}`);
      if (slot.child === child) {
        slot.child = undefined;
        slot.ready = false;
      }
      if (!slot.supervised || this.destroyed) return;
      // A process that dies at once (port not yet free, say) is restarted after a pause.
      const delay = Date.now() - startedAt < 1000 ? 500 : 50;
      setTimeout(() => {
        if (slot.supervised && !this.destroyed && slot.child === undefined) this.runWorker(slot);
      }, delay);
    });
    void this.watchReady(slot, child);
  }

  private async watchReady(slot: WorkerSlot, child: ChildProcess): Promise<void> {
    while (slot.child === child && !slot.ready) {
      if (await answersReady(slot.url)) {
        if (slot.child === child) slot.ready = true;
        return;
      }
      await sleep(50);
    }
  }

  private async retire(slot: WorkerSlot, timeoutMs: number): Promise<string> {
    slot.supervised = false;
    const child = slot.child;
    if (!child) return slot.exits.at(-1) ?? 'not running';
    child.kill('SIGCONT');
    slot.paused = false;
    return stopProcess(child, timeoutMs);
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
      const status = await routerStatus(this.routerUrl);
      const routable = status?.workers.filter((w) => w.routable).map((w) => w.id).sort() ?? [];
      if (status?.topologyVersion === this.version && routable.join() === [...this.members].sort().join()) return;
      if (Date.now() > deadline) {
        throw new Error(
          `router did not route to ${this.members.join(', ')} (topology ${this.version}) in ${timeoutMs} ms; ` +
            `status: ${JSON.stringify(status)}\n${this.routerOutput.toString()}`,
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

  private spawnCli(args: string[], output: OutputTail): ChildProcess {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => output.add(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.add(chunk.toString()));
    return child;
  }
}

interface RouterStatus {
  topologyVersion: number;
  workers: { id: string; routable: boolean }[];
}

async function routerStatus(url: string): Promise<RouterStatus | undefined> {
  try {
    const response = await fetch(`${url}/_router/status`, { signal: AbortSignal.timeout(2000) });
    return response.status === 200 ? ((await response.json()) as RouterStatus) : undefined;
  } catch {
    return undefined;
  }
}

async function answersReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to `timeoutMs`, then SIGKILL; resolves with how it ended ("exit 0", "SIGKILL"). */
async function stopProcess(child: ChildProcess, timeoutMs: number): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return child.signalCode ?? `exit ${child.exitCode}`;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await exited;
  clearTimeout(timer);
  return signal ?? `exit ${code}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
