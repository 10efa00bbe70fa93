// `rollcall serve` as its own process for the benches that load it over HTTP (serve, storm, fleet).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123. */
  url: string;
  child: ChildProcess;
  /** SIGTERM (serve drains), then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * `serve --port 0 --log-level warn --store URL` from the built CLI (`npm run bench` builds first),
 * resolved once it listens and /readyz is 200 (caught up with what the store holds).
 * BENCH_SERVE_CLI: another build's dist/cli/main.js, to compare two versions back to back.
 * BENCH_SERVE_NODE_OPTIONS: extra node flags for the served process (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
 */
export const startServe = async (storeUrl: string): Promise<BenchServer> => {
  const main = process.env['BENCH_SERVE_CLI'] ?? join(import.meta.dirname, '../dist/cli/main.js');
  const nodeFlags = (process.env['BENCH_SERVE_NODE_OPTIONS'] ?? '').split(' ').filter((f) => f !== '');
  const child = spawn(process.execPath, [...nodeFlags, main, 'serve', '--port', '0', '--log-level', 'warn', '--store', storeUrl], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = / on (http:\/\/[^\s,]+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited ${child.exitCode}: ${err}`)));
  });
  // A catch-up of a large seeded log takes seconds; nothing announces its end but /readyz.
  while ((await fetch(`${url}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 100));
  return {
    url,
    child,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
};

/** CPU seconds (user + system, every thread) a process has used so far, from /proc (Linux); null elsewhere. */
const cpuSeconds = (pid: number): number | null => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
};

/**
 * Resolves once the served process is quiet (under 10 % of a core over a second; at most
 * `limitMs`) with the seconds it waited: for a steady-state baseline. A store seeded through the
 * library has snapshots only at its head, and `serve` fills the rest of the snapshot ladder in the
 * background once it follows (reading the whole log), which would otherwise run through the first
 * measured phase.
 */
export const settled = async (server: BenchServer, limitMs = 120_000): Promise<number> => {
  const started = performance.now();
  const pid = server.child.pid;
  let before = pid === undefined ? null : cpuSeconds(pid);
  while (before !== null && performance.now() - started < limitMs) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = cpuSeconds(pid!);
    if (now === null || now - before < 0.1) break;
    before = now;
  }
  return (performance.now() - started) / 1000;
};
