/**
 * Reproduction (product bug found by the chaos test, seed 6: a write
 * answered "503 partition_busy" by the router, whose retry with the same
 * Idempotency-Key was then answered "200, Idempotent-Replayed: true").
 *
 * The router re-sends a keyed write whose connection broke after it was
 * sent (the worker may have committed it, then died). When that later
 * attempt is refused (a worker's 503 partition_busy, partition_lost,
 * shutting_down, overloaded, 429, a second 421, or the router's own
 * 503 no_worker_available once no worker is left), the router forwards the
 * refusal, whose contract is "nothing was applied", although the first
 * attempt may have been applied. A client that trusts the code (or does not
 * retry) records an applied write as not applied.
 *
 * Here w1 receives the write and dies before answering (kill -9 right after
 * the commit); w2, next in rank, answers partition_busy (w1's lease is not
 * stale yet). Run:
 *   npx tsx test/system/chaos/repro/router-refusal-after-broken-attempt.ts
 * Prints "BUG REPRODUCED" (exit 1) or "fixed" (exit 0).
 */
import { FakeCluster } from '../../../integration/router/fake-cluster.js';

const REFUSALS = new Set(['partition_busy', 'partition_lost', 'shutting_down', 'overloaded', 'too_many_requests', 'misdirected_request', 'no_worker_available']);

async function writeDuringCrash(secondWorker: 'refuses' | 'is dead too'): Promise<string> {
  const cluster = await FakeCluster.start(2);
  try {
    const user = cluster.userOwnedBy('w1');
    const [w1, w2] = [cluster.worker('w1'), cluster.worker('w2')];
    w1.behavior = (req) => {
      if (req.method !== 'POST') return false;
      req.socket.destroy(); // committed, then killed before the answer
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
    const response = await fetch(`${cluster.url}/api/users/${user}/_tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
      body: JSON.stringify({ ops: [{ op: 'put', collection: 'c', id: 'x', data: { n: 1 } }] }),
    });
    const { code } = (await response.json()) as { code?: string };
    const reached = w1.received.filter((r) => r.method === 'POST').length;
    const verdict = `w1 received the write ${reached} time(s) and died; the client was told ${response.status} ${code}`;
    return REFUSALS.has(code ?? '') && reached > 0 ? `BUG REPRODUCED: ${verdict} ("nothing was applied")` : `fixed: ${verdict}`;
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<number> {
  const verdicts = [
    `the next worker refuses: ${await writeDuringCrash('refuses')}`,
    `no worker is left: ${await writeDuringCrash('is dead too')}`,
  ];
  for (const verdict of verdicts) console.log(verdict);
  return verdicts.every((verdict) => verdict.includes('fixed')) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
