/**
 * Handover under writes on GlusterFS: a router and two workers, each with
 * --data on its own mount of one volume. `moves` times, the router drains
 * or undrains w1, which moves w1's users to w2 and back (w2 asks w1 to hand
 * each partition over; the next owner opens the file through its own
 * mount). Meanwhile one careful client per user (user-writer.ts) writes,
 * reads back and appends. After each move, once every user has a write
 * acknowledged by its new worker, the owner record (read through that
 * worker's mount) must name that worker with an epoch larger than the one
 * seen after the previous move.
 */
import type { GlusterCluster } from '../../support/glusterfs/gluster-cluster.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserWriter } from './user-writer.js';

export interface HandoverReport {
  moves: number;
  writes: number;
  staleReads: string[];
  failures: string[];
  /** Epochs that did not grow at a move, or owner records naming another worker. */
  fencingProblems: string[];
  /** Items missing (n acknowledged, not found) or present more than once, or a register that lost its last value. */
  itemProblems: string[];
  /** ms from the drain/undrain to the first write acknowledged by the new worker, per move (slowest user). */
  moveMs: number[];
  elapsedMs: number;
}

export async function runHandovers(cluster: GlusterCluster, users: readonly string[], moves: number): Promise<HandoverReport> {
  const started = Date.now();
  const writers = users.map((user) => new UserWriter(cluster, user));
  const report: HandoverReport = { moves, writes: 0, staleReads: [], failures: [], fencingProblems: [], itemProblems: [], moveMs: [], elapsedMs: 0 };
  const lastEpoch = new Map<string, number>();
  for (const writer of writers) writer.start();
  try {
    for (let move = 1; move <= moves; move++) {
      const drained = move % 2 === 1;
      const expected = drained ? 'w2' : 'w1';
      const movedAt = Date.now();
      await cluster.setDrained('w1', drained);
      const deadline = movedAt + 30_000;
      let slowest = 0;
      for (const writer of writers) {
        for (;;) {
          const ack = writer.ackedBy(expected, movedAt);
          if (ack) {
            slowest = Math.max(slowest, ack.at - movedAt);
            break;
          }
          if (writer.failures.length > 0 || Date.now() > deadline) {
            throw new Error(`move ${move}: no write of ${writer.user} acknowledged by ${expected} within 30 s; ${writer.failures.join('; ')}\n${cluster.output()}`);
          }
          await sleep(5);
        }
        const record = cluster.ownerRecord(writer.user, cluster.slot(expected).mount);
        const previous = lastEpoch.get(writer.user) ?? 0;
        if (record === undefined || record.worker !== expected || !(record.epoch > previous)) {
          report.fencingProblems.push(`move ${move}, ${writer.user}: owner record ${JSON.stringify(record)} after epoch ${previous}, expected ${expected} with a larger epoch`);
        }
        if (record !== undefined) lastEpoch.set(writer.user, Math.max(previous, record.epoch));
      }
      report.moveMs.push(slowest);
    }
  } finally {
    await Promise.all(writers.map((writer) => writer.stop()));
  }
  await cluster.setDrained('w1', false);
  for (const writer of writers) {
    report.writes += writer.k;
    report.staleReads.push(...writer.staleReads);
    report.failures.push(...writer.failures);
    const numbers = await writer.itemNumbers();
    const counts = new Map<number, number>();
    for (const n of numbers) counts.set(n, (counts.get(n) ?? 0) + 1);
    for (let n = 1; n <= writer.k; n++) {
      const count = counts.get(n) ?? 0;
      if (count !== 1) report.itemProblems.push(`${writer.user}: item n=${n} present ${count} times`);
    }
    for (const n of counts.keys()) if (n > writer.k || n < 1) report.itemProblems.push(`${writer.user}: unexpected item n=${n}`);
    const register = await writer.register();
    if (register !== writer.k) report.itemProblems.push(`${writer.user}: register holds ${register}, last acknowledged ${writer.k}`);
  }
  report.elapsedMs = Date.now() - started;
  return report;
}
