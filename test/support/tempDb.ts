import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/**
 * A maker of sqlite store paths (`log.db` in a fresh temporary folder named after `prefix`), each
 * folder removed after the test that made it. Call at the top of a test file.
 */
export const tempDbs = (prefix: string): (() => string) => {
  const dirs: string[] = [];
  afterEach(() => {
    while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return join(dir, 'log.db');
  };
};
