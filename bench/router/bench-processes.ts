/**
 * The processes of the router benchmark: real workers, the Pinbase router
 * (1 or N processes), HAProxy, and wrk, with CPU accounting from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export { freePort } from '../support/free-port.js';

export const MAIN = fileURLToPath(new URL('../../../bin/pinbase.cjs', import.meta.url));

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Starts `pinbase <args>` (from dist/; or the `bin` of another built checkout) quietly. */
export function pinbase(args: string[], bin = MAIN): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Polls `url` + `path` until it answers 2xx. With `child`, fails as soon as
 * that process has exited: another process could answer on its port.
 */
export async function waitReady(url: string, path = '/readyz', timeoutMs = 30_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${url}: the process exited (${child.signalCode ?? child.exitCode}) before it was ready`);
    }
    try {
      const response = await fetch(`${url}${path}`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}${path} not ready within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * PUTs each user's benchmark object (`/api/users/<user>/bench/obj`, the one
 * the wrk scripts ask for) at `baseUrl(user)`, 16 at a time; fails on a
 * non-2xx answer.
 */
export async function seedBenchObjects(users: readonly string[], baseUrl: (user: string) => string): Promise<void> {
  const seed = async (user: string) => {
    const response = await fetch(`${baseUrl(user)}/api/users/${user}/bench/obj`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"n":0,"text":"benchmark"}',
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`seeding ${user}: ${response.status}`);
  };
  for (let i = 0; i < users.length; i += 16) await Promise.all(users.slice(i, i + 16).map(seed));
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) used so far by `pid` and its child processes. */
export function cpuSeconds(pid: number): number {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    if (Number(entry) !== pid && ppid !== pid) continue;
    total += Number(fields[11]) + Number(fields[12]);
  }
  return total / ticks;
}

/**
 * HAProxy as the issue asks (`balance hash path,word(3,/)`, `hash-type
 * consistent`), plus `use-server` rules from a map of the benchmark's users
 * to their owners: HAProxy's hash does not place users where Pinbase's
 * rendezvous hashing does, and a worker answers 421 to a user it does not own.
 */
export function startHaproxy(dir: string, port: number, workers: { id: string; port: number }[], owners: Map<string, string>): ChildProcess {
  const map = join(dir, 'owners.map');
  writeFileSync(map, [...owners].map(([user, worker]) => `${user} ${worker}`).join('\n') + '\n');
  const config = [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend pinbase',
    `  bind 127.0.0.1:${port}`,
    '  default_backend workers',
    'backend workers',
    '  balance hash path,word(3,/)',
    '  hash-type consistent',
    '  http-reuse always',
    ...workers.map((w) => `  use-server ${w.id} if { path,word(3,/),map(${map}) -m str ${w.id} }`),
    ...workers.map((w) => `  server ${w.id} 127.0.0.1:${w.port}`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  return spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface WrkResult {
  requests: number;
  rps: number;
  p50: string;
  p99: string;
  errors: number;
}

/** Runs wrk with a Lua script; `errors` counts socket errors and non-2xx answers. */
export function runWrk(url: string, script: string, seconds: number, connections: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      const num = (pattern: RegExp) => Number(pattern.exec(out)?.[1] ?? 0);
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        requests: num(/(\d+) requests in/),
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        p50: /\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? '?',
        p99: /\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '?',
        errors: num(/Non-2xx or 3xx responses: (\d+)/) + (socketErrors ? socketErrors.slice(1).reduce((s, n) => s + Number(n), 0) : 0),
      });
    });
  });
}

/** A wrk script that spreads GETs (or PUTs) over `users`, one object each. */
export function wrkScript(dir: string, name: string, method: 'GET' | 'PUT', users: readonly string[]): string {
  const file = join(dir, `${name}.lua`);
  const list = users.map((u) => `"${u}"`).join(',');
  const body = method === 'PUT' ? '\'{"n":1,"text":"benchmark"}\'' : 'nil';
  const headers = method === 'PUT' ? '{ ["Content-Type"] = "application/json" }' : '{}';
  writeFileSync(
    file,
    [
      `local users = { ${list} }`,
      'local n = #users',
      'request = function()',
      `  return wrk.format("${method}", "/api/users/" .. users[math.random(1, n)] .. "/bench/obj", ${headers}, ${body})`,
      'end',
      '',
    ].join('\n'),
  );
  return file;
}
