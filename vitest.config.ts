import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The two Ansible deployment tests take most of the run (minutes each, and
 * each runs a cluster): run at once on this 2-core machine they slowed each
 * other down to 10 and 6 minutes (15 min in all). This order starts
 * ansible-deploy first and ansible-glusterfs before the last fifth of the
 * other files: by then the other worker has run most of the suite beside
 * ansible-deploy, which is over, and the short files left run beside
 * ansible-glusterfs. As the very last file it ran alone for minutes while
 * the other worker had nothing left to do.
 */
class DeployTestsApart extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const deploy = sorted.filter((file) => file.moduleId.endsWith('/ansible-deploy.test.ts'));
    const glusterfs = sorted.filter((file) => file.moduleId.endsWith('/ansible-glusterfs.test.ts'));
    const others = sorted.filter((file) => !deploy.includes(file) && !glusterfs.includes(file));
    const tail = Math.ceil(others.length / 5);
    return [...deploy, ...others.slice(0, others.length - tail), ...glusterfs, ...others.slice(others.length - tail)];
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
