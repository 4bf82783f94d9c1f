import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { send } from '../../support/http-client.js';
import { openSse } from '../../support/sse-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { startWorkerProcess, type WorkerProcess } from '../../support/worker-process.js';

/** PUTs `body` and returns the seq it was committed at. */
async function put(url: string, path: string, body: unknown): Promise<number> {
  const reply = await send(url, path, { method: 'PUT', json: body });
  expect(reply.status).toBeLessThan(300);
  return Number(reply.header('x-pinbase-seq'));
}

describe('live change feed (SSE)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let worker: WorkerProcess;
  beforeEach(async () => {
    dir = makeTempDir();
    worker = await startWorkerProcess({ id: 'w1', dataDir: join(dir.path, 'data') });
  });
  afterEach(async () => {
    await worker.stop('SIGKILL');
    dir.remove();
  });

  it('streams each new commit as one event whose id is its seq', async () => {
    await put(worker.url, '/api/users/u/notes/before', { v: 0 });
    const stream = await openSse(`${worker.url}/api/users/u/_changes?includeData=true`);
    const seqs = [await put(worker.url, '/api/users/u/notes/a', { v: 1 }), await put(worker.url, '/api/users/u/notes/b', { v: 2 })];
    const events = await stream.waitFor(2);
    stream.close();
    expect(events.map((e) => Number(e.id))).toEqual(seqs);
    expect(events.map((e) => e.event)).toEqual(['change', 'change']);
    expect(JSON.parse(events[0]!.data)).toEqual({ seq: seqs[0], changes: [{ seq: seqs[0], collection: 'notes', id: 'a', deleted: false, data: { v: 1 } }] });
  });

  it('resumes after Last-Event-ID without repeating or missing a commit', async () => {
    const first = await openSse(`${worker.url}/api/users/u/_changes?since=0`);
    for (let i = 0; i < 3; i++) await put(worker.url, `/api/users/u/notes/n${i}`, { i });
    const seen = await first.waitFor(3);
    first.close();
    const missed = [await put(worker.url, '/api/users/u/notes/m1', {}), await put(worker.url, '/api/users/u/notes/m2', {})];
    const resumed = await openSse(`${worker.url}/api/users/u/_changes`, { 'last-event-id': seen[2]!.id! });
    const events = await resumed.waitFor(2);
    const live = await put(worker.url, '/api/users/u/notes/live', {});
    await resumed.waitFor(3);
    resumed.close();
    expect(resumed.events.map((e) => Number(e.id))).toEqual([...missed, live]);
    expect(events).toHaveLength(2);
  });

  it('replays the backlog from since=0 in commit order, a transaction as one event', async () => {
    await put(worker.url, '/api/users/u/notes/a', {});
    await fetch(`${worker.url}/api/users/u/_tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ops: [{ op: 'put', collection: 'notes', id: 'x', data: {} }, { op: 'put', collection: 'notes', id: 'y', data: {} }] }),
    });
    const stream = await openSse(`${worker.url}/api/users/u/_changes?since=0`);
    const events = await stream.waitFor(2);
    stream.close();
    expect(events.map((e) => Number(e.id))).toEqual([1, 2]);
    expect((JSON.parse(events[1]!.data) as { changes: unknown[] }).changes).toHaveLength(2);
  });
});
