import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ServeProcess {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:40123/. */
  url: string;
  port: number;
  /** What it wrote to stderr up to the line that says where it listens (e.g. a startup recovery). */
  banner: string;
  /** SIGTERM, then waits for the exit (serve drains and exits 0). */
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
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`rollcall serve exited (${code}) before listening: ${stderr.trim()}`)));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const m = / on (http:\/\/[^\s]+:(\d+))/.exec(stderr);
      if (m) {
        child.stderr!.removeAllListeners('data');
        child.stderr!.resume();
        resolve({
          url: `${m[1]}/`,
          port: Number(m[2]),
          banner: stderr,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
          kill: (signal) => {
            child.kill(signal);
            return exited;
          },
        });
      }
    });
  });
