/**
 * GET /_router/stats on an in-process router: guarded like /_router/status,
 * a malformed window is a problem, and the history it keeps shows the
 * requests it forwarded as rates and latency per worker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsReport } from '../../../router/stats-history.js';
import { NO_AUTH } from '../../../services/auth/auth-options.js';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

const TOKEN = 'a-long-enough-admin-token';
const headers = { authorization: `Bearer ${TOKEN}` };

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(2, { auth: { ...NO_AUTH, adminToken: TOKEN } });
});
afterAll(async () => {
  await cluster.stop();
});

describe('GET /_router/stats', () => {
  it('needs the admin token, like the status', async () => {
    for (const attempt of [{}, { authorization: 'Bearer wrong-token-of-some-length' }] as Record<string, string>[]) {
      const reply = await send(cluster.url, '/_router/stats', { headers: attempt });
      expect(reply.status).toBe(401);
      expect(reply.json()).toMatchObject({ code: 'unauthorized' });
      expect(reply.headers['www-authenticate']).toBe('Bearer realm="pinbase-admin"');
    }
  });

  it('answers a malformed or too long window with a 400 problem', async () => {
    for (const window of ['5', '11m', '1h', 'x']) {
      const reply = await send(cluster.url, `/_router/stats?window=${window}`, { headers });
      expect(reply.status, window).toBe(400);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reply.json()).toMatchObject({ code: 'invalid_request' });
    }
  });

  it('shows the requests forwarded to each worker as a rate with its latency, in samples every 2 s', async () => {
    const users = [cluster.userOwnedBy('w1'), cluster.userOwnedBy('w2')];
    let report: StatsReport | undefined;
    for (let round = 0; round < 30; round++) {
      await Promise.all(users.map((user) => send(cluster.url, `/api/users/${user}/notes/n1`)));
      report = (await send(cluster.url, '/_router/stats?window=1m', { headers })).json() as StatsReport;
      if (report.workers.every((w) => (w.requestRate.at(-1) ?? 0) > 0)) break;
      await sleep(250);
    }
    expect(report!.intervalMs).toBe(2000);
    expect(report!.historyMs).toBe(600_000);
    expect(report!.cluster).toMatchObject({ state: 'ok', routable: 2 });
    for (const worker of report!.workers) {
      expect(worker.requestRate.at(-1), worker.id).toBeGreaterThan(0);
      expect(worker.p50Ms.at(-1), worker.id).toBeGreaterThan(0);
      expect(worker.p99Ms.at(-1)!, worker.id).toBeGreaterThanOrEqual(worker.p50Ms.at(-1)!);
    }
  });
});
