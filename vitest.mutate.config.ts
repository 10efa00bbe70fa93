import { defineConfig } from 'vitest/config';

// The unit tests of the folders `npm run mutate` mutates: no CLI processes (they run dist/, which
// Stryker does not mutate) and no servers.
export default defineConfig({
  test: {
    include: ['test/events/**/*.test.ts', 'test/projections/**/*.test.ts', 'test/reconcile/**/*.test.ts', 'test/replay/**/*.test.ts'],
    exclude: ['**/*.int.test.ts', 'test/reconcile/killNine.test.ts', 'test/reconcile/reconcileCommand.test.ts', 'test/reconcile/seeds.test.ts'],
  },
});
