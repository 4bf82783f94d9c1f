import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Placement } from '../../../services/topology/placement.js';
import { CliProcess } from '../../support/cli-process.js';
import { send, sendRaw } from '../../support/http-client.js';
import { FakeWorker } from './fake-worker.js';

const dir = mkdtempSync(join(tmpdir(), 'pinbase-router-processes-'));
const topologyPath = join(dir, 'topology.json');
const workers = [new FakeWorker('w1'), new FakeWorker('w2'), new FakeWorker('w3')];
let router: CliProcess;
let url: string;

/** `pinbase router --processes 2` (from the sources) in front of the fake workers; resolves with its URL. */
async function startRouter(): Promise<{ router: CliProcess; url: string }> {
  const started = new CliProcess(['router', '--port', '0', '--topology', topologyPath, '--processes', '2', '--probe-interval', '100'], { source: true });
  try {
    const listening = await started.waitFor(/router listening on (http:\/\/127\.0\.0\.1:\d+) \(2 processes\)/);
    return { router: started, url: listening[1]! };
  } catch (error) {
    await started.stop();
    throw error;
  }
}

beforeAll(async () => {
  for (const w of workers) await w.start();
  const ids = workers.map((w) => w.id);
  for (const w of workers) w.topologyIds = ids;
  writeFileSync(topologyPath, JSON.stringify({ version: 1, workers: workers.map((w) => ({ id: w.id, url: w.url })) }));
  ({ router, url } = await startRouter());
});

afterAll(async () => {
  await router?.stop();
  await Promise.all(workers.map((w) => w.kill()));
  rmSync(dir, { recursive: true, force: true });
});

/** A GET on a fresh connection, so the two processes share the requests. */
async function freshGet(path: string): Promise<{ worker: string }> {
  const raw = await sendRaw(url, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
  return { worker: /x-pinbase-worker: (\w+)/i.exec(raw)?.[1] ?? raw };
}

describe('pinbase router --processes 2', () => {
  it('runs two processes that route every user identically', async () => {
    const placement = new Placement(['w1', 'w2', 'w3']);
    const before = (await send(url, '/_router/status')).json();
    for (let i = 0; i < 40; i++) {
      const user = `multi${i % 10}`;
      expect((await freshGet(`/api/users/${user}/x`)).worker).toBe(placement.owner(user));
    }
    const status = (await send(url, '/_router/status')).json();
    expect(status.processes).toBe(2);
    expect(status.totals.requests - before.totals.requests).toBeGreaterThanOrEqual(40);
    expect(status.totals.users - before.totals.users).toBe(10);
  });

  it('applies a drain in every process', async () => {
    const placement = new Placement(['w1', 'w2', 'w3']);
    const user = Array.from({ length: 100 }, (_, i) => `d${i}`).find((u) => placement.owner(u) === 'w2')!;
    expect((await send(url, '/_router/workers/w2/drain', { method: 'POST' })).json().drained).toBe(true);
    for (let i = 0; i < 10; i++) expect((await freshGet(`/api/users/${user}/x`)).worker).toBe(placement.owner(user, (id) => id !== 'w2'));
    await send(url, '/_router/workers/w2/undrain', { method: 'POST' });
    for (let i = 0; i < 10; i++) expect((await freshGet(`/api/users/${user}/x`)).worker).toBe('w2');
  });

  it('aggregates the metrics of every process', async () => {
    const metrics = (await send(url, '/metrics')).body;
    const total = [...metrics.matchAll(/^pinbase_router_responses_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const status = (await send(url, '/_router/status')).json();
    expect(total).toBe(status.totals.requests);
    expect(metrics).toContain('pinbase_router_topology_version 1');
  });

  it('stops every process on SIGTERM and exits 0', async () => {
    const own = await startRouter();
    try {
      expect((await send(own.url, '/healthz')).status).toBe(200);
      const result = await own.router.stop();
      expect(result).toEqual({ code: 0, signal: null });
      await expect(send(own.url, '/healthz')).rejects.toThrow();
    } finally {
      await own.router.stop();
    }
  });
});
