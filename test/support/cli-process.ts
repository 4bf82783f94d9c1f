/**
 * `pinbase <args>` as a child process, for tests: from dist/ through
 * bin/pinbase.cjs (as `npm start` and the deployment run it) or, with
 * `source`, from the TypeScript sources through tsx. Its output is kept
 * (the last `outputLimit` characters of each stream), and it is stopped by
 * its pid: `stop()` sends a signal and SIGKILLs it after a timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/pinbase.cjs', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../dist/services/cli/main.js', import.meta.url));
const SOURCE_MAIN = fileURLToPath(new URL('../../services/cli/main.ts', import.meta.url));

/** Throws a clear error when dist/ is missing (`npm test` builds it first). */
export function assertBuilt(): void {
  if (!existsSync(BUILT_MAIN)) throw new Error(`${BUILT_MAIN} is missing: run \`npm run build\` first`);
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** "exit 0", "exit 1", "SIGKILL": how a process ended, in one word or two. */
export function describeExit(exit: ProcessExit): string {
  return exit.signal ?? `exit ${exit.code}`;
}

/** The last `limit` characters of a stream of text. */
export class OutputTail {
  private text = '';
  constructor(private readonly limit = 1024 * 1024) {}
  add(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text;
  }
}

export interface CliProcessOptions {
  /** Run services/cli/main.ts through tsx instead of the build output. */
  source?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Characters kept of stdout, of stderr and of both interleaved (default 1 MiB each). */
  outputLimit?: number;
  /** Also called with every chunk either stream printed. */
  onOutput?: (chunk: string) => void;
}

export class CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessExit>;
  private readonly out: OutputTail;
  private readonly err: OutputTail;
  private readonly both: OutputTail;

  constructor(args: string[], options: CliProcessOptions = {}) {
    const entry = options.source === true ? ['--import', 'tsx', SOURCE_MAIN] : [CLI];
    this.out = new OutputTail(options.outputLimit);
    this.err = new OutputTail(options.outputLimit);
    this.both = new OutputTail(options.outputLimit);
    this.child = spawn(process.execPath, [...entry, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (tail: OutputTail) => (chunk: Buffer) => {
      const text = chunk.toString();
      tail.add(text);
      this.both.add(text);
      options.onOutput?.(text);
    };
    this.child.stdout!.on('data', collect(this.out));
    this.child.stderr!.on('data', collect(this.err));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get stdout(): string {
    return this.out.toString();
  }

  get stderr(): string {
    return this.err.toString();
  }

  /** Both streams, interleaved as they arrived. */
  output(): string {
    return this.both.toString();
  }

  /** Resolves with the first match of `pattern` in stdout+stderr, or rejects after `timeoutMs` or once the process exited. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = (this.stdout + this.stderr).match(pattern);
      if (match) return match;
      if (Date.now() > deadline || !this.running) throw new Error(`no ${pattern} in output:\n${this.stdout}\n${this.stderr}`);
      await sleep(50);
    }
  }

  /** Sends `signal` to the process if it still runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /**
   * Sends `signal` (SIGCONT first, so that a paused process can act on it),
   * SIGKILL after `timeoutMs`; resolves with how it ended. Idempotent.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<ProcessExit> {
    if (this.running) {
      if (signal !== 'SIGKILL') this.child.kill('SIGCONT');
      this.child.kill(signal);
    }
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** SIGCONT and SIGKILL at once, synchronously (for exit handlers). */
  kill(): void {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
  }
}
