import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/runCli.js';

/** Runs `rollcall ...args` in-process and captures what it prints. */
export const cli = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: {
      write: (s: string, cb?: () => void) => {
        stdout += s;
        cb?.();
        return true;
      },
    },
    stderr: { write: (s: string) => (stderr += s) },
    env: { ROLLCALL_STORE: 'memory:', ...env },
  });
  return { code, stdout, stderr };
};

/** A fresh temporary directory for one test. */
export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'rollcall-test-'));

/** Writes NDJSON lines (objects or raw strings) to a temp file and returns its path. */
export const ndjsonFile = (lines: Array<object | string>, dir = tempDir()): string => {
  const path = join(dir, 'events.ndjson');
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return path;
};
