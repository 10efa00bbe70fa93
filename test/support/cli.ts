import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
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

/** The built CLI (`npm run build` first; `npm test` does). */
export const builtCli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface BuiltRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The command prefix under which a process obeys file modes as an operator's would: as root it
 * keeps only CAP_DAC_READ_SEARCH, so a 0444 file is not writable, while every folder and file stays
 * readable. Same user, so nothing depends on the permissions of the folders above the checkout
 * (a clone in a 0700 `mktemp -d` folder works). Empty when not root: modes already apply.
 */
export const honourFileModesPrefix = (): string[] =>
  process.getuid?.() === 0 ? ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all,+dac_read_search', '--'] : [];

/**
 * Starts `node dist/cli/main.js ...args` as a real process (stdin a pipe unless `stdio` says
 * otherwise); with `honourFileModes`, under {@link honourFileModesPrefix}.
 */
export const spawnBuilt = (
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions; cwd?: string; honourFileModes?: boolean } = {},
): ChildProcess => {
  const [cmd, ...argv] = [...(options.honourFileModes ? honourFileModesPrefix() : []), process.execPath, builtCli, ...args];
  return spawn(cmd!, argv, {
    env: { ...process.env, ROLLCALL_STORE: 'memory:', ...options.env },
    stdio: options.stdio ?? ['pipe', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
};

/** Collects a started process's output and waits for its end. */
export const finished = (child: ChildProcess): Promise<BuiltRun> =>
  new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });

/** Runs the built CLI to its end, feeding `input` on stdin. */
export const runBuilt = (args: string[], options: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string } = {}) => {
  const child = spawnBuilt(args, options);
  child.stdin?.end(options.input ?? '');
  return finished(child);
};

/** Runs a shell command line (for `<(…)`, FIFOs, redirections) with `$R` set to the built CLI. */
export const runShell = (script: string, env: NodeJS.ProcessEnv = {}) =>
  finished(
    spawn('bash', ['-c', script], {
      env: { ...process.env, ROLLCALL_STORE: 'memory:', R: `${process.execPath} ${builtCli}`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );

/**
 * Everything an sqlite store holds (events and snapshots), "absent" without a file, or "no rollcall
 * tables (…)": compared before and after a refused command to show that it changed nothing.
 */
export const dumpSqlite = (path: string): string => {
  if (!existsSync(path)) return 'absent';
  const dump = (readonly: boolean): string => {
    const db = new Database(path, { readonly, fileMustExist: true });
    try {
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
      if (!tables.includes('events')) return `no rollcall tables (${tables.join(', ') || 'none'})`;
      const events = db.prepare('SELECT position, stream, revision, id, type, data, metadata FROM events ORDER BY position').raw(true).all();
      const snapshots = db.prepare('SELECT name, version, position, payload FROM snapshots ORDER BY name').raw(true).all();
      return JSON.stringify({ events, snapshots });
    } finally {
      db.close();
    }
  };
  try {
    return dump(true);
  } catch (e) {
    // A writer killed mid-write can leave a WAL index that a read-only connection may not rebuild
    // (SQLITE_READONLY_RECOVERY): recover it as the next opener of the store would.
    if (!String((e as { code?: unknown }).code).startsWith('SQLITE_READONLY')) throw e;
    return dump(false);
  }
};
