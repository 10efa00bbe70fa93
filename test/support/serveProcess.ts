import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ServeProcess {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:40123/. */
  url: string;
  port: number;
  /** What it wrote to stderr up to the line that says where it listens (e.g. a startup recovery). */
  banner: string;
  /** Everything it wrote to stderr so far (the last 64 KiB). */
  stderr(): string;
  /**
   * SIGTERM, then waits for the exit (serve drains and exits 0). A serve still running 30 s after
   * the signal fails the wait with what it printed and what its threads were doing, then is killed:
   * a stalled drain is reported, not left to the test's timeout.
   */
  stop(): Promise<number | null>;
  /** Sends `signal` (SIGKILL: no drain, no cleanup), then waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * `rollcall serve` as a real process (the built CLI in dist/), on an ephemeral port unless one is
 * given; resolves once it says where it listens.
 */
export const startServe = (storeUrl: string, options: { port?: number; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<ServeProcess> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [cli, 'serve', '--store', storeUrl, '--port', String(options.port ?? 0), '--log-level', 'silent', ...(options.args ?? [])],
      { stdio: ['ignore', 'ignore', 'pipe'], ...(options.env ? { env: { ...process.env, ...options.env } } : {}) },
    );
    let stderr = '';
    let listening = false;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.once('error', reject);
    void exited.then((code) => {
      if (!listening) reject(new Error(`rollcall serve exited (${code}) before listening: ${stderr.trim()}`));
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-65_536);
      const m = listening ? null : / on (http:\/\/[^\s]+:(\d+))/.exec(stderr);
      if (m) {
        listening = true;
        resolve({
          url: `${m[1]}/`,
          port: Number(m[2]),
          banner: stderr,
          stderr: () => stderr,
          stop: () => {
            child.kill('SIGTERM');
            return exitOrReport(child, exited, () => stderr);
          },
          kill: (signal) => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
  });

/** Each thread of `pid` with its state (R running, S sleeping, …), from /proc (Linux); empty elsewhere. */
const threadStates = (pid: number): string => {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map((tid) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return `${name}:${fields[0]} utime=${fields[11]} stime=${fields[12]}`;
      })
      .join(', ');
  } catch {
    return '(no /proc)';
  }
};

const STOP_BOUND_MS = 30_000;

/** The exit code once the process is gone; past the bound, an error saying what it was doing (then SIGKILL). */
const exitOrReport = async (child: ChildProcess, exited: Promise<number | null>, stderr: () => string): Promise<number | null> => {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<'stalled'>((r) => {
    timer = setTimeout(() => r('stalled'), STOP_BOUND_MS);
  });
  try {
    const first = await Promise.race([exited, stalled]);
    if (first !== 'stalled') return first;
    const threads = threadStates(child.pid!);
    child.kill('SIGKILL');
    await exited;
    throw new Error(`rollcall serve did not exit within ${STOP_BOUND_MS / 1000} s of SIGTERM; threads: ${threads}; stderr: ${stderr().slice(-4000)}`);
  } finally {
    clearTimeout(timer);
  }
};
