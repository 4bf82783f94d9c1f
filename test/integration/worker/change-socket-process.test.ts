import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FEED_CLOSE } from '../../../services/http/change-socket-protocol.js';
import { send } from '../../support/http-client.js';
import { freePort } from '../../support/free-port.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';
import { openFeedSocket } from '../../support/ws-client.js';

function writeTopology(file: string, version: number, workers: { id: string; port: number }[]): void {
  writeFileSync(file, JSON.stringify({ version, workers: workers.map((w) => ({ id: w.id, url: `http://127.0.0.1:${w.port}` })) }));
}

describe('a worker process\'s change-feed WebSockets', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let worker: WorkerProcess;
  let topologyFile: string;
  let port: number;
  beforeEach(async () => {
    dir = makeTempDir();
    topologyFile = join(dir.path, 'topology.json');
    port = await freePort();
    writeTopology(topologyFile, 1, [{ id: 'w1', port }]);
    worker = await startWorkerProcess({ id: 'w1', port, dataDir: join(dir.path, 'data'), topologyFile, args: ['--idle-close', '100ms'] });
  });
  afterEach(async () => {
    await worker.stop('SIGKILL');
    dir.remove();
  });

  it('close with 4421 when a topology change moves the user away, even after its partition was closed while idle', async () => {
    expect((await send(worker.url, '/api/users/u/notes/a', { method: 'PUT', json: { v: 1 } })).status).toBe(201);
    const feed = openFeedSocket(`${worker.url}/api/users/u/_changes?since=0`);
    expect((await feed.waitFor(2)).map((m) => m.type)).toEqual(['ready', 'change']);
    // Past the idle close: the partition is shut, the stream stays.
    await new Promise((resolve) => setTimeout(resolve, 400));
    writeTopology(topologyFile, 2, [{ id: 'w2', port: await freePort() }]);
    worker.child.kill('SIGHUP');
    expect(await feed.closed).toEqual({ code: FEED_CLOSE.partitionMoved, reason: 'partition moved' });
  });

  it('close with 1001 when the worker is stopped (SIGTERM), and the worker exits', async () => {
    const feed = openFeedSocket(`${worker.url}/api/users/u/_changes`);
    await feed.waitFor(1);
    const exit = worker.stop('SIGTERM', 10_000);
    expect((await feed.closed).code).toBe(FEED_CLOSE.shuttingDown);
    expect(await exit).toBe(0);
  });
});
