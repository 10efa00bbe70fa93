import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Stryker's sandboxes (`npm run mutate`) hold instrumented copies of the tests: never run them as ours.
    exclude: [...configDefaults.exclude, '.stryker-tmp/**', 'reports/**'],
  },
});
