import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  /** Of `errors`: non-2xx/3xx responses. */
  statusErrors: number;
  /** Of `errors`: requests without an answer within wrk's timeout (2 s). */
  timeouts: number;
}

export function assertWrkInstalled(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is fatal.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error('wrk is not installed: apt-get install -y wrk');
      process.exit(2);
    }
  }
}

/**
 * Each wrk thread runs the script in a Lua state of its own: seeded at load
 * (or not at all), every thread would draw the same users in the same order,
 * so that each user was asked twice in quick succession (warm caches; two
 * writes to one user in one group commit; two updates of one PostgreSQL row).
 * setup() numbers the threads and init() seeds each with its own number.
 */
const THREAD_SEEDS = `local bench_threads = 0
function setup(thread)
  bench_threads = bench_threads + 1
  thread:set("bench_thread", bench_threads)
end
function init(args)
  math.randomseed(os.time() + 1000003 * bench_thread)
end`;

/**
 * Runs wrk against `baseUrl` with a Lua `request()` body that builds each
 * request (spread over users); returns throughput and latency percentiles.
 */
export async function runWrk(options: {
  baseUrl: string;
  connections: number;
  threads?: number;
  seconds: number;
  requestLua: string;
}): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-wrk-'));
  const script = join(dir, 'bench.lua');
  writeFileSync(
    script,
    `${THREAD_SEEDS}
${options.requestLua}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_JSON {\\"requests\\":%d,\\"duration\\":%d,\\"p50\\":%d,\\"p99\\":%d,\\"errors\\":%d,\\"status\\":%d,\\"timeout\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout, e.status, e.timeout))
end
`,
  );
  const args = ['-t', String(options.threads ?? 2), '-c', String(options.connections), '-d', `${options.seconds}s`, '-s', script, options.baseUrl];
  // The script's directory is removed once wrk has exited (one per run: benchmarks run hundreds).
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`))));
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
  const line = output.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`no result from wrk: ${output}`);
  const raw = JSON.parse(line.slice('WRK_JSON '.length)) as {
    requests: number;
    duration: number;
    p50: number;
    p99: number;
    errors: number;
    status: number;
    timeout: number;
  };
  const seconds = raw.duration / 1e6;
  return { requests: raw.requests, seconds, rps: raw.requests / seconds, p50ms: raw.p50 / 1000, p99ms: raw.p99 / 1000, errors: raw.errors, statusErrors: raw.status, timeouts: raw.timeout };
}

/** Lua for wrk: requests spread uniformly over `users` user ids. */
export function spreadOverUsersLua(method: 'GET' | 'PUT', users: number, objectsPerUser: number): string {
  const body = method === 'PUT' ? `wrk.format("PUT", path, {["content-type"]="application/json"}, '{"title":"benchmark","n":' .. n .. ',"tags":["a","b"]}')` : 'wrk.format("GET", path)';
  return `request = function()
  local n = math.random(0, ${objectsPerUser - 1})
  local path = "/api/users/user" .. math.random(0, ${users - 1}) .. "/bench/o" .. n
  return ${body}
end`;
}
