/**
 * A throw-away PostgreSQL 15 for benchmarks: initdb into a temporary
 * directory, started by pg_ctl on a unix socket in that directory (no TCP
 * port), with the durability a benchmark must compare against
 * (fsync=on, synchronous_commit=on: a commit answers after its WAL flush),
 * stopped by `pg_ctl stop` (and, should that fail, SIGTERM to the
 * postmaster's PID from postmaster.pid), the directory removed.
 *
 * PostgreSQL refuses to run as root: as root, the directory is handed to the
 * `postgres` user (Debian's package creates it) or else `nobody`, and every
 * PostgreSQL command runs through `runuser -u <user>`.
 *
 * Bounded: initdb and start have a timeout each (PG_TIMEOUT_MS); one server, at most
 * `max_connections` 100 backends.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PG_TIMEOUT_MS = 60_000;

/** The directory of Debian's postgresql-15 binaries (or $PG_BIN), if initdb, pg_ctl and postgres are there. */
export function postgresBinDir(): string | undefined {
  const dir = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
  return ['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(join(dir, name))) ? dir : undefined;
}

export interface BenchPostgres {
  /** The unix socket directory: pg's `host`. */
  socketDir: string;
  user: string;
  database: string;
  /** The postmaster's PID (its backends are its children). */
  postmasterPid(): number;
  stop(): void;
}

function osUserIds(name: string): { uid: number; gid: number } | undefined {
  const result = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  return { uid: Number(result.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export function startPostgres(binDir: string): BenchPostgres {
  const dir = mkdtempSync(join(tmpdir(), 'pinbase-pg-'));
  const dataDir = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  let prefix: string[] = [];
  if (asRoot) {
    const owner = osUserIds('postgres') !== undefined ? 'postgres' : 'nobody';
    const ids = osUserIds(owner)!;
    chownSync(dir, ids.uid, ids.gid);
    prefix = ['runuser', '-u', owner, '--'];
  }
  const run = (command: string, args: string[]) => {
    const [file, ...rest] = [...prefix, join(binDir, command), ...args];
    return execFileSync(file!, rest, { cwd: dir, timeout: PG_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  };
  const postmasterPid = () => Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const stop = () => {
    try {
      run('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30']);
    } catch {
      try {
        const pid = postmasterPid();
        if (pid > 0) process.kill(pid, 'SIGTERM');
      } catch {
        // not running
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('initdb', ['-D', dataDir, '-U', 'bench', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const options = [
      `-c listen_addresses=''`,
      `-c unix_socket_directories='${dir}'`,
      '-c fsync=on',
      '-c synchronous_commit=on',
      '-c full_page_writes=on',
      '-c shared_buffers=256MB',
      '-c max_connections=100',
    ].join(' ');
    run('pg_ctl', ['start', '-D', dataDir, '-w', '-t', '60', '-l', join(dir, 'postgres.log'), '-o', options]);
  } catch (error) {
    const log = existsSync(join(dir, 'postgres.log')) ? readFileSync(join(dir, 'postgres.log'), 'utf8') : '';
    stop();
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${stderr}\n${log}`);
  }
  return { socketDir: dir, user: 'bench', database: 'postgres', postmasterPid, stop };
}
