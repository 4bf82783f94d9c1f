import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The two Ansible deployment tests take most of the run (minutes each, and
 * each runs a cluster): run at once on this 2-core machine they slowed each
 * other down to 10 and 6 minutes (15 min in all). This order starts one
 * first and the other last, so that every other file runs beside one of
 * them rather than both at once.
 */
class DeployTestsApart extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) =>
      file.moduleId.endsWith('/ansible-deploy.test.ts') ? -1 : file.moduleId.endsWith('/ansible-glusterfs.test.ts') ? 1 : 0;
    return [...sorted].sort((a, b) => rank(a) - rank(b));
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
    maxWorkers: 2,
    sequence: { sequencer: DeployTestsApart },
  },
});
