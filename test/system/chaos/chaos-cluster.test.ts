/**
 * The chaos test's cluster (chaos-cluster.ts), on real processes: what the
 * nemesis relies on when it picks a worker for its next fault.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChaosCluster } from './chaos-cluster.js';

let cluster: ChaosCluster | undefined;

afterEach(() => {
  cluster?.destroy();
  cluster?.removeFiles();
  cluster = undefined;
});

describe('ChaosCluster', () => {
  it('stops counting a worker as healthy the moment it is killed, until its restarted process is ready', async () => {
    cluster = await ChaosCluster.start(2);
    expect(cluster.healthyMembers()).toEqual(['w1', 'w2']);
    const killing = cluster.kill('w1');
    // Before the exit is seen: a fault picked now must not choose w1.
    expect(cluster.healthyMembers()).toEqual(['w2']);
    await killing;
    expect(cluster.healthyMembers()).toEqual(['w2']);
    await cluster.waitCalm(20_000);
    expect(cluster.healthyMembers()).toEqual(['w1', 'w2']);
    expect(cluster.slot('w1').exits).toEqual(['SIGKILL']);
    expect(cluster.slot('w1').pids).toHaveLength(2);
    expect(await cluster.stop()).toEqual([]);
  }, 60_000);
});
