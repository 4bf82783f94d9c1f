/**
 * The processes a local deployment started under start-stop-daemon, found
 * through their pidfiles (<root>/<host>/run/*.pid), and stopped by pid.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** pidfile name (e.g. "node1/worker-3601") → pid, for every pidfile under `root`. */
export function readPidfiles(root: string): Map<string, number> {
  const pids = new Map<string, number>();
  if (!existsSync(root)) return pids;
  for (const host of readdirSync(root)) {
    const runDir = join(root, host, 'run');
    if (!existsSync(runDir)) continue;
    for (const file of readdirSync(runDir)) {
      if (!file.endsWith('.pid')) continue;
      const pid = Number(readFileSync(join(runDir, file), 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 1) pids.set(`${host}/${file.slice(0, -'.pid'.length)}`, pid);
    }
  }
  return pids;
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The arguments `pid` was started with (empty when it is gone). */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/** Whether `pid` runs a command that mentions `marker` (guards against a recycled pid). */
function runsUnder(pid: number, marker: string): boolean {
  return commandLine(pid).some((arg) => arg.includes(marker));
}

export async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Stops every given process whose command line mentions `marker` (the
 * deployment's root directory): SIGTERM (graceful), SIGKILL after 15 s.
 */
export async function stopAll(pids: Iterable<number>, marker: string): Promise<void> {
  const mine = [...new Set(pids)].filter((pid) => isRunning(pid) && runsUnder(pid, marker));
  for (const pid of mine) process.kill(pid, 'SIGTERM');
  await Promise.all(
    mine.map(async (pid) => {
      if (!(await waitUntilGone(pid, 15_000)) && isRunning(pid)) process.kill(pid, 'SIGKILL');
    }),
  );
}
