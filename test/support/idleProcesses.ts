import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach } from 'vitest';

/**
 * Real processes with real pids for the pid checks (one kept alive, one killed by the test):
 * `start()` resolves once the child has spawned; every child still running is killed after each test.
 */
export const idleProcesses = (): { start: () => Promise<ChildProcess> } => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return {
    start: async () => {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      children.push(child);
      await once(child, 'spawn');
      return child;
    },
  };
};
