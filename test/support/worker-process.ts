/**
 * A `pinbase worker` process from the build output, on 127.0.0.1: spawned,
 * waited for until /readyz answers 200, stopped by its pid. Every test that
 * runs real workers (alone, behind a router, under chaos) starts them here.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliProcess } from './cli-process.js';
import { freePort } from './free-port.js';
import { send } from './http-client.js';

export interface WorkerProcessOptions {
  id: string;
  dataDir: string;
  /** A free port when absent. */
  port?: number;
  topologyFile?: string;
  /** More flags, after the usual ones (a repeated flag overrides). */
  args?: string[];
  /** Characters of output kept (default: CliProcess's). */
  outputLimit?: number;
  /** Also called with everything the process prints. */
  onOutput?: (chunk: string) => void;
}

export class WorkerProcess {
  readonly url: string;

  constructor(
    readonly id: string,
    readonly port: number,
    readonly process: CliProcess,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  get child(): ChildProcess {
    return this.process.child;
  }

  /** Everything the process printed, for failure messages. */
  output(): string {
    return this.process.output();
  }

  /** Resolves once /readyz answers 200; throws if the process exits first, or (after a SIGKILL) past `timeoutMs`. */
  async waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.process.running) throw new Error(`worker ${this.id} exited: ${this.output()}`);
      if (await answersReady(this.url)) return;
      await sleep(50);
    }
    await this.stop('SIGKILL');
    throw new Error(`worker ${this.id} not ready within ${timeoutMs} ms: ${this.output()}`);
  }

  /** Sends `signal` (SIGKILL after `timeoutMs`) and waits for the exit; resolves with the exit code (null if ended by a signal). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs?: number): Promise<number | null> {
    return (await this.process.stop(signal, timeoutMs)).code;
  }
}

/** Spawns the worker and returns at once (it is not ready yet: see waitReady). */
export function spawnWorkerProcess(options: WorkerProcessOptions & { port: number }): WorkerProcess {
  const args = ['worker', '--id', options.id, '--port', String(options.port), '--data', options.dataDir, '--log-level', 'warn'];
  if (options.topologyFile !== undefined) args.push('--topology', options.topologyFile);
  const child = new CliProcess([...args, ...(options.args ?? [])], { outputLimit: options.outputLimit, onOutput: options.onOutput });
  return new WorkerProcess(options.id, options.port, child);
}

/** Spawns the worker and resolves once it is ready. */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const worker = spawnWorkerProcess({ ...options, port: options.port ?? (await freePort()) });
  await worker.waitReady();
  return worker;
}

/** Whether `url`/readyz answers 200 within `timeoutMs`. */
export async function answersReady(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    return (await send(url, '/readyz', { timeoutMs })).status === 200;
  } catch {
    return false;
  }
}
