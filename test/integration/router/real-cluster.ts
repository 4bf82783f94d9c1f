/**
 * A real local cluster for integration tests: `pinbase router` and N
 * `pinbase worker` processes from dist/, on loopback, with a topology file
 * and a data directory in a temporary folder. `stop()` ends every process.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../support/free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Placement } from '../../../services/topology/placement.js';
import { assertBuilt, CliProcess } from './cli-process.js';
import { send } from './http-client.js';
import type { WorkerStatus } from '../../../router/status-report.js';

interface RealWorker {
  id: string;
  port: number;
  process: CliProcess | undefined;
}

export { freePort };

export class RealCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'pinbase-real-cluster-'));
  readonly dataDir = join(this.dir, 'data');
  readonly topologyPath = join(this.dir, 'topology.json');
  readonly workers: RealWorker[] = [];
  router!: CliProcess;
  url = '';
  version = 1;

  static async start(workerCount: number, routerArgs: string[] = []): Promise<RealCluster> {
    assertBuilt();
    const cluster = new RealCluster();
    for (let i = 1; i <= workerCount; i++) cluster.workers.push({ id: `w${i}`, port: await freePort(), process: undefined });
    cluster.writeTopology();
    for (const worker of cluster.workers) cluster.startWorker(worker.id);
    await Promise.all(cluster.workers.map((w) => cluster.waitReady(`http://127.0.0.1:${w.port}`)));
    const port = await freePort();
    cluster.router = new CliProcess(['router', '--port', String(port), '--topology', cluster.topologyPath, '--log-level', 'warn', ...routerArgs], { built: true });
    cluster.url = `http://127.0.0.1:${port}`;
    await cluster.waitRoutable(workerCount);
    return cluster;
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

  startWorker(id: string): void {
    const worker = this.worker(id);
    worker.process = new CliProcess(
      ['worker', '--id', id, '--port', String(worker.port), '--data', this.dataDir, '--topology', this.topologyPath, '--log-level', 'warn'],
      { built: true },
    );
  }

  async killWorker(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const worker = this.worker(id);
    await worker.process?.stop(signal);
    worker.process = undefined;
  }

  /** Starts a new worker process, then publishes a topology with it (version + 1). */
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

  async waitReady(url: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await send(url, '/readyz')).status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${url} not ready in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Waits until the router reports `count` routable workers. */
  async waitRoutable(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const status = await send(this.url, '/_router/status');
        if (status.status === 200 && (status.json().workers as WorkerStatus[]).filter((w) => w.routable).length === count) return;
      } catch {
        // router not listening yet
      }
      if (Date.now() > deadline) throw new Error(`router did not see ${count} routable workers in ${timeoutMs} ms:\n${this.router.stdout}${this.router.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
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
