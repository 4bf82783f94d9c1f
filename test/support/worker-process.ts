import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

export const CLI = fileURLToPath(new URL('../../bin/pinbase.cjs', import.meta.url));

export interface WorkerProcess {
  id: string;
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process printed, for failure messages. */
  output(): string;
  /** Sends `signal` and waits for the exit; resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `pinbase worker` from the build output as a real process on
 * 127.0.0.1 and waits until /readyz answers 200.
 */
export async function startWorkerProcess(options: {
  id: string;
  dataDir: string;
  port?: number;
  topologyFile?: string;
  args?: string[];
}): Promise<WorkerProcess> {
  const port = options.port ?? (await freePort());
  const args = [CLI, 'worker', '--id', options.id, '--port', String(port), '--data', options.dataDir, '--log-level', 'warn'];
  if (options.topologyFile) args.push('--topology', options.topologyFile);
  const child = spawn(process.execPath, [...args, ...(options.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const worker: WorkerProcess = {
    id: options.id,
    url,
    port,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
  await waitUntilReady(worker);
  return worker;
}

async function waitUntilReady(worker: WorkerProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (worker.child.exitCode !== null) throw new Error(`worker ${worker.id} exited: ${worker.output()}`);
    try {
      const response = await fetch(`${worker.url}/readyz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await worker.stop('SIGKILL');
  throw new Error(`worker ${worker.id} not ready within ${timeoutMs} ms: ${worker.output()}`);
}
