import { defineConfig } from 'vitest/config';

// The workspace's packages export their TypeScript sources under this condition, so tests run
// against src/ without a build (the compiled dist/ is what an installed package uses).
// (The rest is Vite's default list for server code.)
const conditions = ['@nalm/source', 'module', 'node', 'development|production'];

export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    // Tests that spawn the `nalm` bin run its compiled JavaScript: build it first (incremental).
    globalSetup: ['./scripts/vitest-build.ts'],
    // The fused trainer's wasm kernels, as @nalm/cli loads them for the CLI.
    setupFiles: ['./scripts/vitest-kernels.ts'],
    // Training-based tests and Monte Carlo thresholds take seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file gets its own process: tfjs keeps a global engine and backend per process.
    pool: 'forks',
  },
});
