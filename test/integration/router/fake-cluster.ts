/**
 * A router started in-process in front of FakeWorkers, with its topology
 * file in a temporary directory. Everything is stopped by `stop()`.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { routerOptions, type RouterOptions } from '../../../router/router-options.js';
import { startRouter, type SingleRouter } from '../../../router/router-server.js';
import { HintVerifier } from '../../../services/auth/hint-signature.js';
import { Placement } from '../../../services/topology/placement.js';
import { FakeWorker } from './fake-worker.js';

export class FakeCluster {
  readonly workers: FakeWorker[] = [];
  router!: SingleRouter;
  readonly dir = mkdtempSync(join(tmpdir(), 'pinbase-router-test-'));
  readonly topologyPath = join(this.dir, 'topology.json');
  version = 1;

  static async start(workerCount: number, overrides: Partial<RouterOptions> = {}): Promise<FakeCluster> {
    const cluster = new FakeCluster();
    for (let i = 1; i <= workerCount; i++) cluster.workers.push(await new FakeWorker(`w${i}`).start());
    const secret = overrides.auth?.clusterSecret;
    if (secret !== undefined) for (const worker of cluster.workers) worker.hints = new HintVerifier(secret);
    cluster.writeTopology();
    const options = routerOptions({ topologyPath: cluster.topologyPath, port: 0, probeIntervalMs: 100, topologyPollMs: 50, ...overrides });
    cluster.router = await startRouter(options, pino({ level: 'silent' }));
    return cluster;
  }

  get url(): string {
    return this.router.url;
  }

  worker(id: string): FakeWorker {
    const worker = this.workers.find((w) => w.id === id);
    if (worker === undefined) throw new Error(`no worker ${id}`);
    return worker;
  }

  /** The worker that owns `userId` when the `down` workers are excluded. */
  ownerOf(userId: string, down: readonly string[] = []): string {
    return new Placement(this.workers.map((w) => w.id)).owner(userId, (id) => !down.includes(id))!;
  }

  /** A user id whose owner is `workerId` (with every worker up). */
  userOwnedBy(workerId: string, salt = ''): string {
    for (let i = 0; ; i++) if (this.ownerOf(`user${salt}${i}`) === workerId) return `user${salt}${i}`;
  }

  /** Writes the topology file (atomically) and tells every fake worker the ids. */
  writeTopology(): void {
    const ids = this.workers.map((w) => w.id);
    for (const worker of this.workers) {
      worker.topologyIds = ids;
      worker.topologyVersion = this.version;
    }
    const doc = { version: this.version, workers: this.workers.map((w) => ({ id: w.id, url: w.url })) };
    writeFileSync(`${this.topologyPath}.tmp`, JSON.stringify(doc));
    renameSync(`${this.topologyPath}.tmp`, this.topologyPath);
  }

  async addWorker(): Promise<FakeWorker> {
    const worker = await new FakeWorker(`w${this.workers.length + 1}`).start();
    this.workers.push(worker);
    this.version++;
    this.writeTopology();
    return worker;
  }

  async stop(): Promise<void> {
    await this.router?.close(200);
    await Promise.all(this.workers.map((w) => w.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
