import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    // Training-based tests and Monte Carlo thresholds take seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file gets its own process: tfjs keeps a global engine and backend per process.
    pool: 'forks',
  },
});
