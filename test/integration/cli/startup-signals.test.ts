/**
 * A reload or stop signal that reaches `pinbase worker` or `pinbase router`
 * while it starts is held, not fatal (services/cli/startup-signals.ts): a
 * SIGHUP sent to every pidfile just after a restart used to kill a starting
 * worker (exit 129). Each case waits until the process holds signals
 * (SIGHUP in its SigCgt in /proc), sends one, and checks that the port was
 * not yet listening then, so that the signal did arrive during start-up.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, CliProcess, describeExit } from '../../support/cli-process.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { spawnWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

const dir = mkdtempSync(join(tmpdir(), 'pinbase-startup-signals-'));
const started: CliProcess[] = [];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop('SIGKILL')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether process `pid` has a handler for `signal` (bit signum-1 of SigCgt in /proc/PID/status). */
function catches(pid: number, signal: NodeJS.Signals): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false;
  }
  const mask = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)$/m.exec(status)![1]!}`);
  return ((mask >> BigInt(constants.signals[signal] - 1)) & 1n) === 1n;
}

/**
 * Waits until the process catches SIGHUP (the hold is in place); fails if it
 * exits first. Not SIGINT or SIGTERM: Node catches those from its first
 * instant, to restore the terminal before it dies of them.
 */
async function untilHolding(process: CliProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!catches(process.pid!, 'SIGHUP')) {
    if (!process.running || Date.now() > deadline) throw new Error(`SIGHUP never caught (${process.running ? 'timeout' : 'exited'}):\n${process.output()}`);
    await sleep(2);
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startingWorker(name: string): Promise<WorkerProcess> {
  const worker = spawnWorkerProcess({ id: 'w1', port: await freePort(), dataDir: join(dir, name), args: ['--log-level', 'info'] });
  started.push(worker.process);
  return worker;
}

describe('signals while a service starts', () => {
  it('a worker sent SIGHUP while it starts comes up and serves, and says it reloaded', async () => {
    const worker = await startingWorker('hup');
    await untilHolding(worker.process);
    worker.process.signal('SIGHUP');
    expect(await listening(worker.port), 'the signal came after start-up: the test proves nothing').toBe(false);
    await worker.waitReady(20_000);
    await worker.process.waitFor(/SIGHUP received while starting: topology reloaded/);
    expect(worker.process.running).toBe(true);
    expect((await send(worker.url, '/readyz')).status).toBe(200);
  }, 40_000);

  it('a worker sent SIGTERM while it starts stops gracefully once it has started (exit 0)', async () => {
    const worker = await startingWorker('term');
    await untilHolding(worker.process);
    worker.process.signal('SIGTERM');
    expect(await listening(worker.port), 'the signal came after start-up: the test proves nothing').toBe(false);
    const exit = await Promise.race([worker.process.exited, sleep(20_000).then(() => undefined)]);
    expect(exit && describeExit(exit), worker.output()).toBe('exit 0');
    expect(worker.output()).toMatch(/"signal":"SIGTERM".*signal received/);
    expect(worker.output()).toMatch(/stopped: partitions closed, leases released/);
  }, 40_000);

  it('a second stop signal while a worker starts exits at once, with 128 + its number', async () => {
    const worker = await startingWorker('twice');
    await untilHolding(worker.process);
    worker.process.signal('SIGTERM');
    await sleep(20);
    worker.process.signal('SIGINT');
    const exit = await Promise.race([worker.process.exited, sleep(20_000).then(() => undefined)]);
    expect(exit && describeExit(exit), worker.output()).toBe(`exit ${128 + constants.signals.SIGINT}`);
    expect(worker.output()).not.toMatch(/listening at/);
  }, 40_000);

  it('a router sent SIGHUP while it starts comes up and routes, and says it reloaded', async () => {
    const workerPort = await freePort();
    const topologyFile = join(dir, 'topology.json');
    writeFileSync(topologyFile, JSON.stringify({ version: 1, workers: [{ id: 'w1', url: `http://127.0.0.1:${workerPort}` }] }));
    const worker = spawnWorkerProcess({ id: 'w1', port: workerPort, dataDir: join(dir, 'routed'), topologyFile });
    started.push(worker.process);
    await worker.waitReady(20_000);
    const port = await freePort();
    const router = new CliProcess(['router', '--port', String(port), '--topology', topologyFile]);
    started.push(router);
    await untilHolding(router);
    router.signal('SIGHUP');
    expect(await listening(port), 'the signal came after start-up: the test proves nothing').toBe(false);
    await router.waitFor(/SIGHUP received while starting: topology reloaded/);
    const reply = await send(`http://127.0.0.1:${port}`, '/api/users/alice/notes/n1', { method: 'PUT', json: { text: 'hi' } });
    expect(reply.status, router.output()).toBe(201);
    expect(router.running).toBe(true);
  }, 60_000);
});
