import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HealthMonitor, type WorkerHealth } from '../../../router/health-monitor.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A /readyz endpoint whose answer the test controls. */
async function readyzServer(): Promise<{ url: string; status: { code: number }; hits: () => number; stop: () => Promise<void> }> {
  const status = { code: 200 };
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    res.writeHead(status.code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ready', topologyVersion: 3, openPartitions: 4, liveStreams: 1 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  cleanups.push(() => (server.listening ? stop() : undefined));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, status, hits: () => hits, stop };
}

function monitor(options: Partial<{ intervalMs: number; timeoutMs: number; fall: number; rise: number }> = {}) {
  const transitions: WorkerHealth[] = [];
  const m = new HealthMonitor({ intervalMs: 40, timeoutMs: 200, fall: 2, rise: 2, ...options }, (h) => transitions.push(h));
  cleanups.push(() => m.close());
  return { m, transitions };
}

describe('HealthMonitor', () => {
  it('brings a new worker up on its first good probe and records its topology version', async () => {
    const worker = await readyzServer();
    const { m, transitions } = monitor();
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    expect(m.get('w1')?.up).toBe(false);
    await m.firstRound();
    expect(m.get('w1')).toMatchObject({ up: true, topologyVersion: 3 });
    expect(transitions.map((t) => t.up)).toEqual([true]);
  });

  it('keeps the load a worker reported in its last good probe (open partitions, live streams), for the dashboard', async () => {
    const worker = await readyzServer();
    const { m } = monitor();
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    expect(m.get('w1')?.load).toBeUndefined();
    await m.firstRound();
    expect(m.get('w1')?.load).toEqual({ openPartitions: 4, liveStreams: 1 });
  });

  it('keeps a new worker down while it reports an older topology version than the router\'s', async () => {
    const worker = await readyzServer();
    const { m } = monitor();
    m.setWorkers([{ id: 'w1', url: worker.url }], 4);
    await m.firstRound();
    expect(m.get('w1')).toMatchObject({ up: false, reason: 'worker is on topology version 3, the router on 4' });
    m.setWorkers([{ id: 'w1', url: worker.url }], 3);
    await vi.waitFor(() => expect(m.get('w1')?.up).toBe(true), { timeout: 2000, interval: 10 });
  });

  it('does not end a new worker\'s first round on one failed probe: it comes up on the next good one', async () => {
    const worker = await readyzServer();
    worker.status.code = 503;
    const { m, transitions } = monitor({ intervalMs: 100, fall: 3 });
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    let roundEnded = false;
    const round = m.firstRound().then(() => (roundEnded = true));
    await vi.waitFor(() => expect(worker.hits()).toBe(1), { timeout: 2000, interval: 5 });
    await sleep(30);
    expect(roundEnded).toBe(false);
    expect(m.get('w1')).toMatchObject({ up: false, reason: '/readyz answered 503' });
    worker.status.code = 200;
    await round;
    expect(m.get('w1')?.up).toBe(true);
    expect(transitions.map((t) => t.up)).toEqual([true]);
  });

  it('ends a new worker\'s first round as down after `fall` failed probes', async () => {
    const worker = await readyzServer();
    worker.status.code = 503;
    const { m } = monitor({ intervalMs: 50, fall: 3 });
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    const started = Date.now();
    await m.firstRound();
    expect(worker.hits()).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(m.get('w1')).toMatchObject({ up: false, reason: '/readyz answered 503' });
  });

  it('takes a worker down after `fall` failed probes and up again after `rise` good ones', async () => {
    const worker = await readyzServer();
    const { m, transitions } = monitor();
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    await m.firstRound();
    worker.status.code = 503;
    await vi.waitFor(() => expect(m.get('w1')?.up).toBe(false), { timeout: 2000, interval: 10 });
    expect(m.get('w1')?.reason).toBe('/readyz answered 503');
    worker.status.code = 200;
    await vi.waitFor(() => expect(m.get('w1')?.up).toBe(true), { timeout: 2000, interval: 10 });
    expect(transitions.map((t) => t.up)).toEqual([true, false, true]);
  });

  it('detects a worker that stopped listening within the default budget of 2 s', async () => {
    const worker = await readyzServer();
    const { m } = monitor({ intervalMs: 500, timeoutMs: 1000 });
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    await m.firstRound();
    await worker.stop();
    const stoppedAt = Date.now();
    await vi.waitFor(() => expect(m.get('w1')?.up).toBe(false), { timeout: 2500, interval: 10 });
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(2000);
  });

  it('takes a worker down at once on a passive report, and keeps probing it', async () => {
    const worker = await readyzServer();
    const { m } = monitor({ intervalMs: 60_000 });
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    await m.firstRound();
    m.markDown('w1', 'connection refused');
    expect(m.get('w1')).toMatchObject({ up: false, reason: 'connection refused' });
    m.probeNow('w1');
    await sleep(100);
    expect(m.get('w1')?.up).toBe(false);
    m.probeNow('w1');
    await vi.waitFor(() => expect(m.get('w1')?.up).toBe(true), { timeout: 2000, interval: 10 });
  });

  it('stops probing a worker removed from the topology', async () => {
    const worker = await readyzServer();
    const { m } = monitor();
    m.setWorkers([{ id: 'w1', url: worker.url }], 1);
    await m.firstRound();
    m.setWorkers([], 1);
    const hits = worker.hits();
    await sleep(200);
    expect(worker.hits()).toBeLessThanOrEqual(hits + 1);
    expect(m.get('w1')).toBeUndefined();
  });
});
