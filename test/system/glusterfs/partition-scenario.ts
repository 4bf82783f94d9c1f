/**
 * A host cut off by a network partition while it has writes in flight.
 * w1 (and its mount's client) live in a network namespace, w2 in the root
 * one; a load of writes runs through the router on w1's users. The link of
 * w1's namespace goes down (cut), and at once a client *inside* the
 * namespace (it still reaches w1; nothing else does) sends more writes
 * straight to w1: w1 takes them with the partitions it had open, but cannot
 * reach the storage. Meanwhile the router fails the users over to w2, which
 * takes their leases once they are stale and SQLite's lock once the storage
 * server dropped w1's connection. Then the router is told to keep w1
 * drained, and the link comes back (heal).
 *
 * Measured: from the cut to the first write of each user acknowledged by w2
 * (partition recovery), and from the heal to w1 having closed its
 * partitions. Checked: every write acknowledged (through the router or by
 * w1) is readable at the end; every write w1 did not acknowledge is absent
 * (nothing the cut-off worker still tried committed); w1 logs the lost
 * leases and closes every partition.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GlusterCluster } from '../../support/glusterfs/gluster-cluster.js';
import { send } from '../../support/http-client.js';
import { putWithRetry, unreadableWrites, WriteLoad, type Ack } from '../../support/write-load.js';
import { authorizationFor } from './measure.js';

export interface PartitionReport {
  /** Per victim user: ms from the cut to its first write acknowledged by w2. */
  recoveryMs: number[];
  /** ms from the heal until w1 reported no open partition. */
  closedAfterHealMs: number;
  /** Writes sent to w1 from inside its namespace after the cut, by outcome. */
  inside: { path: string; outcome: string }[];
  /** Problems found (empty when every guarantee held). */
  problems: string[];
  loadFailures: string[];
  acks: number;
  w1LeaseLostLines: number;
}

/** The cut lasts this long; the storage's ping timeout is 5 s. */
const CUT_MS = 15_000;

export async function runPartition(cluster: GlusterCluster): Promise<PartitionReport> {
  const w1 = cluster.slot('w1');
  if (!w1.host) throw new Error('w1 must live in a network namespace');
  const victims = cluster.usersOwnedBy('w1', 4, 'cut');
  const bystanders = cluster.usersOwnedBy('w2', 1, 'stay');
  const authorization = await authorizationFor(cluster, [...victims, ...bystanders]);
  const load = new WriteLoad(cluster.routerUrl, [...victims, ...bystanders], { authorization, concurrency: 6, name: 'part' });
  const report: PartitionReport = { recoveryMs: [], closedAfterHealMs: -1, inside: [], problems: [], loadFailures: [], acks: 0, w1LeaseLostLines: 0 };
  const acks: Ack[] = [];
  load.start();
  try {
    await waitFor(() => victims.every((user) => load.acks.some((ack) => ack.worker === 'w1' && ack.path.startsWith(`/api/users/${user}/`))), 15_000, 'w1 acknowledges a write of every victim');

    const cutAt = Date.now();
    w1.host.cut();
    const inside = writesFromInside(cluster, victims, authorization);

    // Requests already sent to w1 wait for the router's upstream timeout (504): new requests, sent every
    // 100 ms without waiting for the earlier ones, show when the users are served again.
    const probeAcks = await probeUntilServedBy(cluster, victims, authorization, 'w2', 30_000);
    for (const user of victims) report.recoveryMs.push(probeAcks.find((ack) => ack.path.startsWith(`/api/users/${user}/`))!.at - cutAt);
    acks.push(...probeAcks);
    // The router must not give the users back to w1 when the link returns: the test watches w1 close what it had.
    await cluster.setDrained('w1', true);
    await sleep(Math.max(0, cutAt + CUT_MS - Date.now()));
    const healedAt = Date.now();
    w1.host.heal();
    report.inside = await inside;
    for (;;) {
      try {
        const status = await cluster.workerStatus('w1');
        if (status.openPartitions === 0) {
          report.closedAfterHealMs = Date.now() - healedAt;
          break;
        }
      } catch {
        // w1 not reachable yet
      }
      if (Date.now() - healedAt > 30_000) {
        report.problems.push(`w1 still has open partitions 30 s after the heal: ${JSON.stringify(await cluster.workerStatus('w1').catch((e: Error) => e.message))}`);
        break;
      }
      await sleep(100);
    }
    await sleep(1000);
  } finally {
    await load.stop();
  }
  report.loadFailures = load.failures;
  acks.push(...load.acks);
  report.acks = acks.length;
  const lost = await unreadableWrites(cluster.routerUrl, acks, authorization);
  report.problems.push(...lost.map((line) => `acknowledged through the router, not readable: ${line}`));
  for (const write of report.inside) {
    const reply = await send(cluster.routerUrl, write.path, { headers: { authorization: authorization(userOf(write.path)) }, timeoutMs: 15_000 });
    const acknowledged = /^2\d\d$/.test(write.outcome);
    if (acknowledged && reply.status !== 200) report.problems.push(`acknowledged by the cut-off w1 (${write.outcome}), then ${reply.status}: ${write.path}`);
    if (!acknowledged && reply.status !== 404) report.problems.push(`not acknowledged by the cut-off w1 (${write.outcome}) but committed (read ${reply.status}): ${write.path}`);
  }
  const output = w1.worker?.output.toString() ?? '';
  report.w1LeaseLostLines = victims.filter((user) => new RegExp(`lease lost[^\\n]*${user}|${user}[^\\n]*lease lost`).test(output)).length;
  return report;
}

/**
 * From inside w1's namespace, right after the cut: two PUTs per victim
 * straight to w1 (Idempotency-Key, 60 s timeout). Resolves with each write's
 * path and outcome (the status, or the error).
 */
function writesFromInside(cluster: GlusterCluster, users: readonly string[], authorization: (user: string) => string): Promise<{ path: string; outcome: string }[]> {
  const w1 = cluster.slot('w1');
  const writes = users.flatMap((user) => [1, 2].map((i) => ({ path: `/api/users/${user}/cut/inside-${i}`, authorization: authorization(user) })));
  const script = `
    const writes = JSON.parse(process.env.WRITES);
    const results = await Promise.all(writes.map(async (w) => {
      try {
        const res = await fetch(process.env.BASE + w.path, {
          method: 'PUT',
          headers: { authorization: w.authorization, 'content-type': 'application/json', 'idempotency-key': w.path },
          body: JSON.stringify({ from: 'inside' }),
          signal: AbortSignal.timeout(60000),
        });
        await res.arrayBuffer();
        return { path: w.path, outcome: String(res.status) };
      } catch (error) {
        return { path: w.path, outcome: 'error: ' + (error.cause?.code ?? error.name) };
      }
    }));
    process.stdout.write(JSON.stringify(results));`;
  const [command, args] = w1.host!.wrap(process.execPath, ['--input-type=module', '-e', script]);
  const child = spawn(command, args, { env: { ...process.env, WRITES: JSON.stringify(writes), BASE: w1.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the client inside the namespace failed (${code}): ${err}`));
      else resolve(JSON.parse(out) as { path: string; outcome: string }[]);
    }),
  );
}

/**
 * Every 100 ms, a PUT (with an Idempotency-Key) for each user, not waiting
 * for the earlier ones; resolves with the acknowledged ones once each user
 * has one acknowledged by `worker`.
 */
async function probeUntilServedBy(cluster: GlusterCluster, users: readonly string[], authorization: (user: string) => string, worker: string, timeoutMs: number): Promise<Ack[]> {
  const acks: Ack[] = [];
  const pending: Promise<void>[] = [];
  const served = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  for (let n = 0; served.size < users.length; n++) {
    if (Date.now() > deadline) throw new Error(`not every user served by ${worker} within ${timeoutMs} ms (served: ${[...served].join(', ')})`);
    for (const user of users) {
      if (served.has(user)) continue;
      const write = { path: `/api/users/${user}/probe/p${n}`, body: JSON.stringify({ n }) };
      const sentAt = Date.now();
      pending.push(
        putWithRetry(cluster.routerUrl, write, `probe-${user}-${n}`, authorization).then(
          (reply) => {
            if (reply.status !== 200 && reply.status !== 201) return;
            const by = reply.header('x-pinbase-worker') ?? '';
            acks.push({ ...write, worker: by, at: Date.now(), sentAt });
            if (by === worker) served.add(user);
          },
          () => undefined,
        ),
      );
    }
    await sleep(100);
  }
  await Promise.all(pending);
  return acks.sort((a, b) => a.at - b.at);
}

function userOf(path: string): string {
  return /^\/api\/users\/([^/]+)\//.exec(path)![1]!;
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(20);
  }
}
