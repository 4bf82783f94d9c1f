import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The Ansible deployment scenarios (test/system/deploy/ansible-playbooks.test.ts:
 * in `npm test` three long playbook runs, about 8 minutes; with
 * PINBASE_DEPLOY_SCENARIOS=all, as CI runs it, nine and three rolling
 * restarts, 14–22 minutes; each run about twice as long beside the rest of
 * the suite as alone, since Ansible's own processes want both cores) start
 * first, in one worker, and the GlusterFS hosts
 * test (4 minutes) second, in the other, beside the plain deployment rather
 * than beside the GlusterFS one; the other worker then runs the rest of the
 * suite. As the last file in the queue, a scenario this long would run alone
 * while the other worker had nothing left to do.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = ['/ansible-playbooks.test.ts', '/glusterfs-hosts.test.ts'].flatMap((name) => sorted.filter((file) => file.moduleId.endsWith(name)));
    return [...first, ...sorted.filter((file) => !first.includes(file))];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Integration and system tests start real processes on loopback; running
    // every file at once on a 2-core machine would measure the scheduler.
    fileParallelism: true,
    // Three workers on the 2-core CI machine took longer (1256 s against 1119 s
    // for the whole suite, 2026-12-02) and failed the event-loop responsiveness
    // tests (test/unit/http/request-cost.test.ts).
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
  },
});
