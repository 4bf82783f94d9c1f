/**
 * `pinbase up` (what `npm start` runs): a whole cluster on this machine.
 * Writes <data>/topology.json, creates (first run) or reuses the cluster's
 * secrets in <data>/secrets/, starts N workers and the router as child
 * processes with authentication on, restarts any that crash (with backoff),
 * and on Ctrl-C/SIGTERM stops the router first, then the workers, each
 * gracefully.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureLocalSecrets, type LocalSecrets } from '../auth/local-secrets.js';
import { parseCorsOrigins } from '../http/cors.js';
import { parseTopology, serializeTopology, type Topology } from '../topology/topology.js';
import { CliError, integerOption, parseCommandArgs } from './command.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { formatLogText, isPretty, LOG_FORMATS, parseLogFormat } from './log-output.js';

const COLORS = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;

export const usage = `Usage: pinbase up [-w 2] [-p 8080] [--worker-port 3601] [-d ./data] [--processes 1] [--cors-origin ORIGIN] [--log-format auto] [-q] [--allow-unsafe-storage]

Runs a local cluster: the router on --port and N workers on --worker-port,
--worker-port+1, ..., all on 127.0.0.1, with every user's SQLite file under
--data. Every request needs a bearer token: \`pinbase token <userId>\` prints
one. Ctrl-C stops it gracefully (no acknowledged write is lost).

Options:
  -w, --workers N       number of workers (default 2)
  -p, --port P          router port (default 8080)
  --worker-port P       first worker port (default 3601)
  -d, --data DIR        data directory (default ./data), one cluster at a time (locked: DIR/up.lock, DIR/up.json
                        name the running one); the topology is written to DIR/topology.json,
                        the secrets (created on first run, 0600) to DIR/secrets/: auth-secret (users'
                        tokens), admin-token (admin endpoints), cluster-secret (the router's hints)
  --processes N         router processes (default 1)
  --cors-origin ORIGIN  let browser apps on ORIGIN call the API (repeatable or comma-separated)
  --log-format FORMAT   ${LOG_FORMATS.join(', ')}: the processes' logs as JSON lines (each names its process
                        in \`name\`), or readable ones (auto: readable on a terminal)
  -q, --quiet           no log line per request (by default every worker logs each request at info:
                        method, path, status, ms; not /healthz, /readyz or /metrics unless they fail)
  --allow-unsafe-storage
                        start the workers even on a file system under --data that the storage check
                        refuses (see \`pinbase worker --help\`)`;

export async function run(argv: string[]): Promise<void> {
  const v = parseCommandArgs(argv, {
    workers: { type: 'string', short: 'w' },
    port: { type: 'string', short: 'p' },
    'worker-port': { type: 'string' },
    data: { type: 'string', short: 'd' },
    processes: { type: 'string' },
    'cors-origin': { type: 'string', multiple: true },
    'allow-unsafe-storage': { type: 'boolean' },
    'log-format': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  });
  const workers = integerOption(v.workers, 'workers', 2, 1, 64);
  const port = integerOption(v.port, 'port', 8080, 1, 65535);
  const workerPort = integerOption(v['worker-port'], 'worker-port', 3601, 1, 65535 - workers);
  const processes = integerOption(v.processes, 'processes', 1, 1, 64);
  const corsOrigins = parseCorsOrigins(v['cors-origin'] ?? []);
  const pretty = isPretty(parseLogFormat(v['log-format']));
  const dataDir = resolve(v.data ?? './data');
  const ports = [port, ...Array.from({ length: workers }, (_, i) => workerPort + i)];
  if (new Set(ports).size !== ports.length) throw new CliError(`--port ${port} overlaps the worker ports ${workerPort}-${workerPort + workers - 1}`);
  const routerUrl = `http://127.0.0.1:${port}`;

  mkdirSync(dataDir, { recursive: true });
  // One cluster per data dir: a second one would rewrite topology.json under the first one's router.
  let lost: (error: Error) => void = () => undefined;
  const dataLock = await lockDataDir(dataDir, routerUrl, (error) => lost(error));
  try {
    for (const p of ports) await assertPortFree(p);
  } catch (error) {
    await dataLock.release();
    throw error;
  }
  const secrets = ensureLocalSecrets(dataDir);
  const topologyPath = join(dataDir, 'topology.json');
  const topology = writeTopology(topologyPath, workers, workerPort);

  // Every process gets the admin token and the cluster secret; the workers also check users' tokens.
  const clusterArgs = ['--admin-token-file', secrets.adminTokenFile, '--cluster-secret-file', secrets.clusterSecretFile];
  const corsArgs = corsOrigins.flatMap((o) => ['--cors-origin', o]);
  const workerAuthArgs = [
    '--auth-secret-file',
    secrets.authSecretFile,
    ...clusterArgs,
    ...corsArgs,
    ...(v['allow-unsafe-storage'] === true ? ['--allow-unsafe-storage'] : []),
    ...(v.quiet === true ? [] : ['--log-requests']),
  ];
  const children = topology.workers.map(
    (w, i) =>
      new SupervisedProcess(w.id, ['worker', '--id', w.id, '--port', String(workerPort + i), '--data', dataDir, '--topology', topologyPath, ...workerAuthArgs], pretty),
  );
  const routerArgs = ['router', '--port', String(port), '--topology', topologyPath, ...clusterArgs, ...corsArgs, ...(processes > 1 ? ['--processes', String(processes)] : [])];
  const router = new SupervisedProcess('router', routerArgs, pretty);
  for (const child of children) child.start();
  router.start();
  const stop = handleShutdown(router, children, dataLock);
  lost = (error) => stop(`the lock on ${dataDir} was lost (${error.message})`);

  try {
    await waitUntilReady([routerUrl, ...topology.workers.map((w) => w.url)], 60_000);
  } catch (error) {
    for (const child of [router, ...children]) child.kill();
    await dataLock.release();
    throw new CliError((error as Error).message);
  }
  process.stdout.write(banner(routerUrl, topology, dataDir, secrets, v.data));
}

function banner(url: string, topology: Topology, dataDir: string, secrets: LocalSecrets, dataFlag: string | undefined): string {
  const workers = topology.workers.map((w) => `${w.id} ${w.url}`).join(', ');
  const data = dataFlag === undefined ? '' : ` --data ${/^[\w./-]+$/.test(dataFlag) ? dataFlag : `'${dataFlag.replace(/'/g, "'\\''")}'`}`;
  return [
    '',
    `Pinbase is up: router on ${url}, ${topology.workers.length} worker(s) (${workers}), data in ${dataDir}`,
    `Secrets in ${secrets.dir}${secrets.created.length > 0 ? ' (created now)' : ''}; the admin token is ${secrets.adminTokenFile}`,
    '',
    'Try (every request needs a bearer token; `pinbase token` signs one with the cluster\'s secret):',
    `  TOKEN=$(npx pinbase token alice${data})`,
    `  curl -X PUT ${url}/api/users/alice/notes/first -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"text":"hello"}'`,
    `  curl ${url}/api/users/alice/notes/first -H "authorization: Bearer $TOKEN"`,
    '',
    `Cluster: npx pinbase status --router ${url}${data}   dashboard: ${url}/_router/ (asks for the admin token)   metrics: ${url}/metrics`,
    'Ctrl-C stops everything gracefully.',
    '',
  ].join('\n');
}

/** Writes the topology atomically; the version goes up only when the workers changed. */
function writeTopology(path: string, count: number, firstPort: number): Topology {
  const workers = Array.from({ length: count }, (_, i) => ({ id: `w${i + 1}`, url: `http://127.0.0.1:${firstPort + i}` }));
  let version = 1;
  try {
    const previous = parseTopology(readFileSync(path, 'utf8'));
    const same = JSON.stringify(previous.workers) === JSON.stringify(workers);
    version = same ? previous.version : previous.version + 1;
  } catch {
    // No usable previous topology: start at version 1.
  }
  const topology: Topology = { version, workers };
  writeFileSync(`${path}.tmp`, serializeTopology(topology));
  renameSync(`${path}.tmp`, path);
  return topology;
}

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolvePort, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new CliError(`port ${port} on 127.0.0.1 is not free (${error.code}); is another cluster running?`)),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort()));
  });
}

async function waitUntilReady(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      try {
        const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.ok) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`${url} was not ready within ${timeoutMs / 1000} s`);
      await sleep(200);
    }
  }
}

/** Stops the cluster on SIGINT/SIGTERM; returns the stop, for other reasons to stop. */
function handleShutdown(router: SupervisedProcess, workers: SupervisedProcess[], dataLock: DataDirLock): (reason: string) => void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) {
      process.stderr.write(`${reason} again: killing everything now\n`);
      for (const child of [router, ...workers]) child.kill();
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`\n${reason}: stopping the router, then the workers (press Ctrl-C again to force)\n`);
    void (async () => {
      await router.stop();
      await Promise.all(workers.map((w) => w.stop()));
      await dataLock.release();
      process.stderr.write('pinbase: cluster stopped\n');
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return stop;
}

/**
 * A child `pinbase <command>` whose output is prefixed with its name, and
 * which is started again (after 1 s, doubling up to 30 s; reset after a
 * minute of uptime) whenever it exits without being asked to.
 */
class SupervisedProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs = 1000;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly pretty: boolean,
  ) {}

  /**
   * A line of the child's output as this process prints it: a readable line
   * on a terminal, else a JSON log line (the child's own, or, for a line
   * that is not one, e.g. a crash on stderr, one made for it), which names
   * the process in its `name` field.
   */
  private output(line: string, level: 30 | 50): string {
    if (this.pretty) return formatLogText(line, COLORS, this.name);
    if (line.startsWith('{') && line.endsWith('}')) return line;
    return JSON.stringify({ level, time: Date.now(), name: this.name, msg: line });
  }

  start(): void {
    const startedAt = Date.now();
    // Own process group: Ctrl-C reaches only `pinbase up`, which stops the children in order.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    for (const [stream, level] of [[child.stdout, 30], [child.stderr, 50]] as const) {
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${this.output(line, level)}\n`));
    }
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => {
        this.child = undefined;
        resolveExit();
        if (this.stopping) return;
        if (Date.now() - startedAt > 60_000) this.backoffMs = 1000;
        process.stderr.write(`[${this.name}] exited (${signal ?? `code ${code}`}); restarting in ${this.backoffMs / 1000} s\n`);
        setTimeout(() => this.stopping || this.start(), this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
      }),
    );
  }

  /** SIGTERM, then wait for the exit (SIGKILL after 30 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    this.stopping = true;
    this.child?.kill('SIGKILL');
  }
}
