import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partitionPath } from '../../../services/partition/user-id.js';
import { Placement } from '../../../services/topology/placement.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

function ownerRecord(dataDir: string, userId: string): { epoch: number; worker: string } {
  return JSON.parse(readFileSync(`${partitionPath(dataDir, userId)}.owner`, 'utf8')) as { epoch: number; worker: string };
}

async function put(url: string, userId: string, id: string, headers: Record<string, string> = {}) {
  // Some of these wait on a paused process: the test's budget bounds them, not the client's default.
  const response = await send(url, `/api/users/${userId}/notes/${id}`, {
    method: 'PUT',
    headers: { 'idempotency-key': `k-${id}`, ...headers },
    json: { id },
    timeoutMs: 60_000,
  });
  return { status: response.status, body: response.json() as { code?: string; retryable?: boolean } };
}

describe('fencing a paused owner', () => {
  let dir: ReturnType<typeof makeTempDir>;
  const workers: WorkerProcess[] = [];
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      worker.child.kill('SIGCONT');
      await worker.stop('SIGKILL');
    }
    dir.remove();
  });

  it('rejects the writes a paused owner had in flight once another worker took the lease, and writes go on there', async () => {
    const dataDir = join(dir.path, 'data');
    const topologyFile = join(dir.path, 'topology.json');
    const ports = { w1: await freePort(), w2: await freePort() };
    writeFileSync(
      topologyFile,
      JSON.stringify({
        version: 1,
        workers: [
          { id: 'w1', url: `http://127.0.0.1:${ports.w1}` },
          { id: 'w2', url: `http://127.0.0.1:${ports.w2}` },
        ],
      }),
    );
    const placement = new Placement(['w1', 'w2']);
    let user = '';
    for (let i = 0; placement.owner(user) !== 'w1'; i++) user = `user-${i}`;

    // w1 holds its writes for 400 ms before committing them (a group-commit
    // delay), so that they are surely in flight when it is paused.
    const w1 = await startWorkerProcess({ id: 'w1', dataDir, port: ports.w1, topologyFile, args: ['--commit-delay', '400ms'] });
    const w2 = await startWorkerProcess({ id: 'w2', dataDir, port: ports.w2, topologyFile });
    workers.push(w1, w2);
    expect((await put(w1.url, user, 'before-pause')).status).toBe(201);
    const epochBefore = ownerRecord(dataDir, user).epoch;

    const inFlight = ['f1', 'f2', 'f3'].map((id) => put(w1.url, user, id));
    await sleep(100);
    w1.child.kill('SIGSTOP');

    // While w1 is paused, w2 (sent the user because the router saw w1 down)
    // waits for w1's lease to go stale and takes it over: a new epoch. It
    // cannot write yet (SQLite's lock is still w1's) and says so, retryably.
    const duringPause = await put(w2.url, user, 'during-pause', { 'x-pinbase-down': 'w1' });
    expect(duringPause.status).toBe(503);
    expect(duringPause.body).toMatchObject({ retryable: true });
    const takenOver = ownerRecord(dataDir, user);
    expect(takenOver.epoch).toBeGreaterThan(epochBefore);
    expect(takenOver.worker).toBe('w2');

    w1.child.kill('SIGCONT');
    const outcomes = await Promise.all(inFlight);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe(503);
      expect(outcome.body).toMatchObject({ code: 'partition_lost', retryable: true });
    }

    // Writes go on at the new owner, and nothing w1 had in flight was committed.
    let after = await put(w2.url, user, 'after-resume', { 'x-pinbase-down': 'w1' });
    for (let attempt = 0; after.status === 503 && attempt < 20; attempt++) {
      await sleep(250);
      after = await put(w2.url, user, 'after-resume', { 'x-pinbase-down': 'w1' });
    }
    expect(after.status).toBe(201);
    const read = (id: string) => send(w2.url, `/api/users/${user}/notes/${id}`, { headers: { 'x-pinbase-down': 'w1' } }).then((r) => r.status);
    expect(await read('before-pause')).toBe(200);
    expect(await read('after-resume')).toBe(200);
    for (const id of ['f1', 'f2', 'f3']) expect(await read(id)).toBe(404);
    expect(ownerRecord(dataDir, user).worker).toBe('w2');
  }, 60_000);
});
