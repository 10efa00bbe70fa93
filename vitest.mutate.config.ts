import { configDefaults, defineConfig } from 'vitest/config';

// `npm run mutate` (Stryker) runs the unit tests of the folders it mutates: src/events,
// src/projections, src/inspect and src/reconcile. No CLI processes (they run dist/, which Stryker does not
// mutate), no servers, no worker threads. Properties get 10 runs each instead of hundreds: Stryker
// reruns every test covering a mutant for each of ~3,000 mutants (the normal suite runs them in full).
export default defineConfig({
  test: {
    // Instrumented code with per-test coverage runs several times slower than the plain suite.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { ROLLCALL_PROPERTY_RUNS: '10' },
    include: ['test/events/**/*.test.ts', 'test/projections/**/*.test.ts', 'test/inspect/**/*.test.ts', 'test/reconcile/**/*.test.ts'],
    exclude: [
      ...configDefaults.exclude,
      '.stryker-tmp/**',
      '**/*.int.test.ts',
      'test/reconcile/killNine.test.ts',
      'test/reconcile/reconcileCommand.test.ts',
      'test/reconcile/seeds.test.ts',
    ],
  },
});
