/**
 * A real local cluster for integration tests: `pinbase router` and N
 * `pinbase worker` processes from dist/, on loopback, with a topology file
 * and a data directory in a temporary folder. `stop()` ends every process.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerStatus } from '../../../router/status-report.js';
import { Placement } from '../../../services/topology/placement.js';
import { assertBuilt, CliProcess } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { spawnWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

interface RealWorker {
  id: string;
  port: number;
  process: WorkerProcess | undefined;
}

export class RealCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'pinbase-real-cluster-'));
  readonly dataDir = join(this.dir, 'data');
  readonly topologyPath = join(this.dir, 'topology.json');
  readonly workers: RealWorker[] = [];
  router!: CliProcess;
  url = '';
  version = 1;
  /** The router's admin token, when it was given `--admin-token-file` (sent on /_router/status). */
  adminToken: string | undefined;

  /** `workerArgs`: more flags for every worker process. */
  private constructor(private readonly workerArgs: readonly string[]) {}

  /**
   * Starts the workers and the router (with `routerArgs`, and `workerArgs`
   * for every worker); resolves once the router routes to every worker. On
   * failure, stops what it started.
   */
  static async start(workerCount: number, routerArgs: string[] = [], workerArgs: string[] = []): Promise<RealCluster> {
    assertBuilt();
    const cluster = new RealCluster(workerArgs);
    const tokenFile = routerArgs.indexOf('--admin-token-file');
    if (tokenFile >= 0) cluster.adminToken = readFileSync(routerArgs[tokenFile + 1]!, 'utf8').trim();
    try {
      for (let i = 1; i <= workerCount; i++) cluster.workers.push({ id: `w${i}`, port: await freePort(), process: undefined });
      cluster.writeTopology();
      const started = cluster.workers.map((worker) => cluster.startWorker(worker.id));
      await Promise.all(started.map((worker) => worker.waitReady(20_000)));
      const port = await freePort();
      cluster.router = new CliProcess(['router', '--port', String(port), '--topology', cluster.topologyPath, '--log-level', 'warn', ...routerArgs]);
      cluster.url = `http://127.0.0.1:${port}`;
      await cluster.waitRoutable(workerCount);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  workerUrl(id: string): string {
    return `http://127.0.0.1:${this.worker(id).port}`;
  }

  ownerOf(userId: string, down: readonly string[] = []): string {
    return new Placement(this.workers.map((w) => w.id)).owner(userId, (id) => !down.includes(id))!;
  }

  /** `count` user ids owned by `workerId` with every worker up. */
  usersOwnedBy(workerId: string, count: number, salt = 'u'): string[] {
    const users: string[] = [];
    for (let i = 0; users.length < count; i++) if (this.ownerOf(`${salt}${i}`) === workerId) users.push(`${salt}${i}`);
    return users;
  }

  /** Spawns the worker's process (on its port, with the cluster's data and topology); it is not ready yet. */
  startWorker(id: string): WorkerProcess {
    const worker = this.worker(id);
    worker.process = spawnWorkerProcess({ id, port: worker.port, dataDir: this.dataDir, topologyFile: this.topologyPath, args: [...this.workerArgs] });
    return worker.process;
  }

  async killWorker(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const worker = this.worker(id);
    await worker.process?.stop(signal);
    worker.process = undefined;
  }

  /** Starts a new worker process, then publishes a topology with it (version + 1) without waiting for it to be ready. */
  async addWorker(): Promise<string> {
    const id = `w${this.workers.length + 1}`;
    this.workers.push({ id, port: await freePort(), process: undefined });
    this.startWorker(id);
    this.version++;
    this.writeTopology();
    return id;
  }

  writeTopology(): void {
    const doc = { version: this.version, workers: this.workers.map((w) => ({ id: w.id, url: `http://127.0.0.1:${w.port}` })) };
    writeFileSync(`${this.topologyPath}.tmp`, JSON.stringify(doc));
    renameSync(`${this.topologyPath}.tmp`, this.topologyPath);
  }

  /** Waits until the router reports `count` routable workers. */
  async waitRoutable(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const headers: Record<string, string> = this.adminToken === undefined ? {} : { authorization: `Bearer ${this.adminToken}` };
        const status = await send(this.url, '/_router/status', { headers });
        if (status.status === 200 && (status.json().workers as WorkerStatus[]).filter((w) => w.routable).length === count) return;
      } catch {
        // router not listening yet
      }
      if (Date.now() > deadline) throw new Error(`router did not see ${count} routable workers in ${timeoutMs} ms:\n${this.router.output()}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    await this.router?.stop();
    await Promise.all(this.workers.flatMap((w) => (w.process === undefined ? [] : [w.process.stop()])));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private worker(id: string): RealWorker {
    const worker = this.workers.find((w) => w.id === id);
    if (worker === undefined) throw new Error(`no worker ${id}`);
    return worker;
  }
}
