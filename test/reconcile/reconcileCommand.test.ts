import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { openStore } from '../../src/stores/openStore.js';
import { cli, tempDir } from '../support/cli.js';
import { testId } from '../support/lifecycle.js';

const run = async (args: string[], signal?: AbortSignal) => {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['reconcile', ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { ROLLCALL_STORE: 'memory:' },
    ...(signal !== undefined ? { signal } : {}),
  });
  return { code, stdout, stderr };
};

describe('rollcall reconcile', () => {
  it('is listed by --help, and shows its usage with reconcile --help', async () => {
    expect((await cli(['--help'])).stdout).toMatch(/^ {2}reconcile {2}/m);
    const { stdout } = await cli(['reconcile', '--help']);
    expect(stdout).toContain('rollcall reconcile [--store URL] [--once | --every SECONDS]');
  });

  it('--once (the default) runs one pass and prints its metrics', async () => {
    for (const args of [[], ['--once'], ['--store', 'memory:', '--once']]) {
      const { code, stdout, stderr } = await run(args);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toBe('reconcile: at position none: 0 corrections appended, 0 already stored, 0 conflicts\n');
    }
  });

  it('--every loops until the signal aborts, then prints the cumulative metrics', async () => {
    // Aborted as the loop starts its second wait (each wait listens for the abort): two passes ran,
    // however slowly the machine runs them.
    const controller = new AbortController();
    const listen = controller.signal.addEventListener.bind(controller.signal);
    let waits = 0;
    controller.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      listen(...args);
      if (args[0] === 'abort' && ++waits === 2) controller.abort();
    }) as AbortSignal['addEventListener'];
    const { code, stdout } = await run(['--every', '0.02'], controller.signal);
    expect(code).toBe(0);
    const passes = Number(/stopped after (\d+) pass/.exec(stdout)?.[1]);
    expect(passes).toBeGreaterThanOrEqual(2);
    // Quiet passes print nothing; only the final summary.
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [['--once', '--every', '5'], 'use either --once or --every SECONDS, not both'],
    [['--every', '0'], '--every must be a positive number of seconds, got "0"'],
    [['--every', 'soon'], '--every must be a positive number of seconds, got "soon"'],
    [['--terminating-timeout-s=-1'], '--terminating-timeout-s must be a non-negative number of seconds or "off", got "-1"'],
    [['--disconnect-grace-s', ''], '--disconnect-grace-s must be a non-negative number of seconds or "off", got ""'],
    [['--store', 'nosuch:x'], 'unsupported store URL'],
    [['--host', ''], '--host must name this machine as sessions record it, got ""'],
    [['--suspect-after-s', 'soon'], '--suspect-after-s must be a non-negative number of seconds or "off", got "soon"'],
  ])('rejects %j with exit 2 and one clear line', async (args, message) => {
    const { code, stdout, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects an unknown flag', async () => {
    const { code, stderr } = await run(['--grace', '5']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/Unknown option '--grace'/);
  });

  it('prints each correction (rule, agent, session, reason) against an embedded store, and honours threshold flags', async () => {
    const dir = tempDir();
    const url = `sqlite:${join(dir, 'log.db')}`;
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await once(child, 'exit');
    const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
    const events = [
      { type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, at: ago(100) },
      { type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', pid: child.pid }, at: ago(90) },
      { type: 'AgentRegistered', data: { agentId: 'a2', role: 'worker' }, at: ago(100) },
      { type: 'SessionStarting', data: { agentId: 'a2', sessionId: 's2' }, at: ago(90) },
    ].map((e, i) => ({ id: testId(800_000 + i), type: e.type, data: e.data, metadata: { at: e.at } }) as LifecycleEvent);
    const store = await openStore(url);
    await store.appendBatch(events);
    await store.close();
    try {
      const { code, stdout } = await run(['--store', url, '--starting-timeout-s', '60']);
      expect(code).toBe(0);
      expect(stdout).toContain('dead-pid           agent=a1 session=s1 reason="Process no longer alive (PID check)" (AgentCrashed)\n');
      expect(stdout).toContain('start-timeout      agent=a2 session=s2 reason="start_timeout" (SessionStartFailed)\n');
      expect(stdout).toMatch(/2 corrections appended \(dead-pid 1, start-timeout 1\), 0 already stored, 0 conflicts/);
      const again = await run(['--store', url, '--starting-timeout-s', '60']);
      expect(again.stdout).toMatch(/: 0 corrections appended/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--host: checks pids only of sessions on that host (and with none)', async () => {
    const dir = tempDir();
    const url = `sqlite:${join(dir, 'log.db')}`;
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await once(child, 'exit');
    // 20 s ago: within the 60 s before an agent without a sign of life is suspected (SPEC §7.3).
    const ago = new Date(Date.now() - 20_000).toISOString();
    const events = [
      { type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' } },
      { type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', pid: child.pid, host: 'node-b' } },
    ].map((e, i) => ({ id: testId(810_000 + i), type: e.type, data: e.data, metadata: { at: ago } }) as LifecycleEvent);
    const store = await openStore(url);
    await store.appendBatch(events);
    await store.close();
    try {
      const elsewhere = await run(['--store', url, '--host', 'node-a']);
      expect(elsewhere.code).toBe(0);
      expect(elsewhere.stdout).toMatch(/: 0 corrections appended, 0 already stored, 0 conflicts\n$/);
      const here = await run(['--store', url, '--host', 'node-b']);
      expect(here.stdout).toContain('dead-pid           agent=a1 session=s1 reason="Process no longer alive (PID check)" (AgentCrashed)\n');
      expect(here.stdout).toMatch(/1 correction appended \(dead-pid 1\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--recover --host: one OrchestratorStarted adopting the live pid (real processes: one alive, one killed); run again, the next epoch adopts it again', async () => {
    const dir = tempDir();
    const url = `sqlite:${join(dir, 'log.db')}`;
    const alive = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const killed = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await Promise.all([once(alive, 'spawn'), once(killed, 'spawn')]);
    try {
      const ago = new Date(Date.now() - 20_000).toISOString();
      const events = [
        { type: 'PoolCreated', data: { poolId: 'p1', name: 'p1', maxSize: 2 } },
        { type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' } },
        { type: 'AgentRegistered', data: { agentId: 'a2', role: 'worker' } },
        { type: 'OrchestratorStarted', data: { host: 'node-t', epoch: 1 } },
        { type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: alive.pid, host: 'node-t', epoch: 1 } },
        { type: 'AgentSpawned', data: { agentId: 'a2', sessionId: 's2', poolId: 'p1', pid: killed.pid, host: 'node-t', epoch: 1 } },
      ].map((e, i) => ({ id: testId(820_000 + i), type: e.type, data: e.data, metadata: { at: ago } }) as LifecycleEvent);
      const store = await openStore(url);
      await store.appendBatch(events);
      await store.close();
      killed.kill('SIGKILL');
      await once(killed, 'exit');

      const first = await run(['--store', url, '--host', 'node-t', '--recover']);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toBe(
        `orchestrator-started host=node-t epoch=2 adopted=1 (a1/s1 pid ${alive.pid})\n` +
          'recover: host node-t at epoch 2: 0 corrections appended, 0 already stored, 0 conflicts\n',
      );
      const after = await openStore(url);
      try {
        const types: string[] = [];
        for await (const e of after.readAll()) types.push(e.type);
        // Exactly one event appended: the restart, not one correction per session.
        expect(types).toEqual([...events.map((e) => e.type), 'OrchestratorStarted']);
      } finally {
        await after.close();
      }
      const replayed = await cli(['replay', '--store', url, '--json', '--no-snapshot']);
      const view = JSON.parse(replayed.stdout);
      expect(view.hosts['node-t']).toMatchObject({ epoch: 2, liveSessions: 1 });
      expect(view.sessions['s1']).toMatchObject({ state: 'running', epoch: 2 });
      expect(view.sessions['s2']).toMatchObject({ state: 'terminated', terminationReason: 'orchestrator_restarted' });
      expect(view.pools['p1'].status.activeAgentIds).toEqual(['a1']);

      const second = await run(['--store', url, '--host', 'node-t', '--recover']);
      expect(second.stdout).toContain(`orchestrator-started host=node-t epoch=3 adopted=1 (a1/s1 pid ${alive.pid})\n`);
    } finally {
      alive.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--suspect-after-s and --no-lease-expiry reach the rules; --suspect-after-s off is accepted', async () => {
    const dir = tempDir();
    const url = `sqlite:${join(dir, 'log.db')}`;
    const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
    const events = [
      { type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, at: ago(100) },
      { type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', leaseMs: 10_000 }, at: ago(90) },
      { type: 'AgentRegistered', data: { agentId: 'a2', role: 'worker' }, at: ago(100) },
      { type: 'AgentSpawned', data: { agentId: 'a2', sessionId: 's2' }, at: ago(90) },
    ].map((e, i) => ({ id: testId(830_000 + i), type: e.type, data: e.data, metadata: { at: e.at } }) as LifecycleEvent);
    const store = await openStore(url);
    await store.appendBatch(events);
    await store.close();
    try {
      const quiet = await run(['--store', url, '--no-pid-check', '--no-lease-expiry', '--suspect-after-s', 'off']);
      expect(quiet.stdout).toMatch(/: 0 corrections appended, 0 already stored, 0 conflicts\n$/);
      const both = await run(['--store', url, '--no-pid-check', '--suspect-after-s', '30']);
      expect(both.stdout).toContain('lease-expired      agent=a1 session=s1 reason="lease_expired" (SessionEnded)\n');
      expect(both.stdout).toContain('suspect            agent=a2 session=s2 reason="no_sign_of_life" (AgentSuspected)\n');
      expect(both.stdout).toMatch(/2 corrections appended \(lease-expired 1, suspect 1\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
