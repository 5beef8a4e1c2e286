import { defineConfig } from 'vitest/config';

// Integration tests share one Temporal dev server (started in globalSetup) and start their
// own PostgreSQL clusters and worker processes. They run one file at a time: the machine has
// two cores, and the crash tests depend on heartbeat timing.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 180_000,
  },
});
