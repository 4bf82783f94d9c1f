import { defineConfig } from 'vitest/config';

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
  },
});
