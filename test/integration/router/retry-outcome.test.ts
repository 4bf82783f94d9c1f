import { describe, expect, it } from 'vitest';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

/**
 * A keyed write whose connection broke after it was sent may have been
 * applied; the router re-sends it (the key makes that safe). If that retry is
 * refused ("nothing was applied": 503, 429, 421) or no worker is left, the
 * client must not be told "nothing was applied" about the first attempt.
 */
async function writeDuringCrash(secondWorker: 'refuses' | 'is dead too') {
  const cluster = await FakeCluster.start(2);
  try {
    const user = cluster.userOwnedBy('w1');
    const [w1, w2] = [cluster.worker('w1'), cluster.worker('w2')];
    w1.behavior = (req) => {
      if (req.method !== 'POST') return false;
      req.socket.destroy(); // committed, then killed before it answered
      void w1.kill();
      return true;
    };
    if (secondWorker === 'is dead too') await w2.kill();
    w2.behavior = (req, res) => {
      if (req.method !== 'POST') return false;
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1' });
      res.end(JSON.stringify({ code: 'partition_busy', status: 503, retryable: true }));
      return true;
    };
    const response = await send(cluster.url, `/api/users/${user}/_tx`, {
      method: 'POST',
      headers: { 'idempotency-key': 'k1' },
      json: { ops: [{ op: 'put', collection: 'c', id: 'x', data: { n: 1 } }] },
    });
    const reached = w1.received.filter((r) => r.method === 'POST').length;
    return { status: response.status, body: response.json() as { code?: string; detail?: string }, reached };
  } finally {
    await cluster.stop();
  }
}

describe('outcome of a retried write', () => {
  it.each(['refuses', 'is dead too'] as const)(
    'answers 502 upstream_failed (outcome unknown), not a refusal, when the first attempt broke and the next worker %s',
    async (secondWorker) => {
      const { status, body, reached } = await writeDuringCrash(secondWorker);
      expect(reached).toBe(1);
      expect(status).toBe(502);
      expect(body.code).toBe('upstream_failed');
      expect(body.detail).toMatch(/may or may not have been applied/);
    },
  );
});
