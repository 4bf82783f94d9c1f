import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliProcess } from '../../support/cli-process.js';
import { freePort, freePortRange } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';

const dir = mkdtempSync(join(tmpdir(), 'pinbase-up-'));
const running: CliProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Nothing answers on `port` (a connection is refused). */
async function isFree(port: number): Promise<boolean> {
  try {
    await send(`http://127.0.0.1:${port}`, '/');
    return false;
  } catch {
    return true;
  }
}

function up(port: number, workerPort: number): CliProcess {
  const p = new CliProcess(['up', '--workers', '2', '--port', String(port), '--worker-port', String(workerPort), '--data', dir, '--cors-origin', 'http://app.test']);
  running.push(p);
  return p;
}

describe('pinbase up', () => {
  it('runs a cluster, restarts a crashed worker, stops on Ctrl-C and keeps every acknowledged write', async () => {
    const port = await freePort();
    const workerPort = await freePortRange(2);
    const first = up(port, workerPort);
    await first.waitFor(/Pinbase is up: router on http:\/\/127\.0\.0\.1:\d+/);
    expect(first.stdout).toContain(`TOKEN=$(npx pinbase token alice --data ${dir})`);
    expect(first.stdout).toContain(`curl -X PUT http://127.0.0.1:${port}/api/users/alice/notes/first -H "authorization: Bearer $TOKEN"`);
    expect(first.stdout).toContain(`Secrets in ${join(dir, 'secrets')} (created now)`);
    const secretFiles = ['auth-secret', 'admin-token', 'cluster-secret'].map((name) => join(dir, 'secrets', name));
    expect(statSync(join(dir, 'secrets')).mode & 0o777).toBe(0o700);
    for (const file of secretFiles) expect(statSync(file).mode & 0o777, file).toBe(0o600);
    const secrets = secretFiles.map((file) => readFileSync(file, 'utf8'));
    expect(JSON.parse(readFileSync(join(dir, 'topology.json'), 'utf8'))).toEqual({
      version: 1,
      workers: [
        { id: 'w1', url: `http://127.0.0.1:${workerPort}` },
        { id: 'w2', url: `http://127.0.0.1:${workerPort + 1}` },
      ],
    });
    const url = `http://127.0.0.1:${port}`;
    // Authentication is on: without a token nothing is served; a service token from `pinbase token` serves every user.
    const anonymous = await send(url, '/api/users/user0/notes/first', { method: 'PUT', json: { i: 0 } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.header('www-authenticate')).toBe('Bearer realm="pinbase"');
    // --cors-origin reaches the workers: a browser app's preflight is answered through the router, without a token.
    const preflight = await send(url, '/api/users/user0/notes/first', {
      method: 'OPTIONS',
      headers: { origin: 'http://app.test', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.header('access-control-allow-origin')).toBe('http://app.test');
    const auth = { authorization: `Bearer ${await pinbaseToken('writer', '--service')}` };
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await send(url, `/api/users/user${i}/notes/first`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: `{"i":${i}}` });
      expect(reply.status).toBe(201);
      acked.push(`user${i}`);
    }

    // A second cluster on the same data dir is refused at once, naming the running one, and changes nothing.
    const topologyBefore = readFileSync(join(dir, 'topology.json'), 'utf8');
    const otherPort = await freePort();
    const rival = new CliProcess(['up', '--workers', '1', '--port', String(otherPort), '--worker-port', String(await freePortRange(1)), '--data', dir]);
    running.push(rival);
    expect(await rival.exited).toEqual({ code: 2, signal: null });
    expect(rival.stderr).toContain(`${dir} is in use by the cluster of \`pinbase up\` pid ${first.child.pid} (router ${url},`);
    expect(readFileSync(join(dir, 'topology.json'), 'utf8')).toBe(topologyBefore);
    expect(await isFree(otherPort)).toBe(true);
    expect((await send(url, '/api/users/user0/notes/first', { headers: auth })).status).toBe(200);

    const pid = workerPid(workerPort);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    await first.waitFor(/\[w1\] exited \(SIGKILL\); restarting in 1 s/);
    const restartDeadline = Date.now() + 15_000;
    while (workerPid(workerPort) === undefined || workerPid(workerPort) === pid || !(await isServing(`http://127.0.0.1:${workerPort}`))) {
      expect(Date.now()).toBeLessThan(restartDeadline);
      await sleep(100);
    }

    const status = new CliProcess(['status', '--router', url, '--data', dir]);
    expect(await status.exited).toEqual({ code: 0, signal: null });
    expect(status.stdout).toMatch(/^w1\s+http:\/\/127\.0\.0\.1:\d+\s+(up|down)/m);
    expect(status.stdout).toMatch(/^w2\s+http:\/\/127\.0\.0\.1:\d+\s+up/m);

    first.child.kill('SIGINT');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.stderr).toContain('cluster stopped');
    expect(await isFree(port)).toBe(true);
    expect(await isFree(workerPort)).toBe(true);
    expect(await isFree(workerPort + 1)).toBe(true);

    const second = up(port, workerPort);
    await second.waitFor(/Pinbase is up/);
    // The same secrets, so the tokens signed before the restart still work.
    expect(second.stdout).not.toContain('(created now)');
    expect(secretFiles.map((file) => readFileSync(file, 'utf8'))).toEqual(secrets);
    for (const [i, user] of acked.entries()) {
      const reply = await send(url, `/api/users/${user}/notes/first`, { headers: auth });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ i });
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });

  it('pinbase status says in one line when the router cannot be reached', async () => {
    const port = await freePort();
    const p = new CliProcess(['status', '--router', `http://127.0.0.1:${port}`]);
    expect(await p.exited).toEqual({ code: 2, signal: null });
    expect(p.stderr).toBe(
      `pinbase: cannot reach the router at http://127.0.0.1:${port}: ECONNREFUSED; is \`pinbase up\` (or the router) running? (--router URL)\n`,
    );
  });

  it('refuses a bad flag with one line and exit code 2', async () => {
    const p = new CliProcess(['up', '--workers', 'many']);
    expect(await p.exited).toEqual({ code: 2, signal: null });
    expect(p.stderr).toBe('pinbase: --workers must be an integer, got "many"\n');
  });
});

/** `pinbase token <args>` for the cluster in `dir`, as a user would get it. */
async function pinbaseToken(...args: string[]): Promise<string> {
  const p = new CliProcess(['token', ...args, '--data', dir]);
  expect(await p.exited, p.stderr).toEqual({ code: 0, signal: null });
  return p.stdout.trim();
}

/** The pid of the `pinbase worker` process started with `--port port`, from /proc. */
function workerPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('--port');
    if (args.includes('worker') && at >= 0 && args[at + 1] === String(port)) return Number(entry);
  }
  return undefined;
}

async function isServing(url: string): Promise<boolean> {
  try {
    return (await send(url, '/readyz')).status === 200;
  } catch {
    return false;
  }
}
