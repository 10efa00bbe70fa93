import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openStore } from '../../src/stores/openStore.js';
import { cli, tempDir } from '../support/cli.js';
import { idleProcesses } from '../support/idleProcesses.js';
import { ev } from '../support/lifecycle.js';
import { startServe } from '../support/serveProcess.js';

// `serve --reconcile --recover` through the built CLI, on a sqlite file (so not with the
// store-independent tests .ci/run repeats on other Node lines), with real processes.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const { start } = idleProcesses();

describe('serve --reconcile --recover (the built CLI, real processes)', () => {
  it('announces the restart of --reconcile-host before serving: one OrchestratorStarted adopting the live pid; /v1/projection shows it', async () => {
    const alive = await start();
    const killed = await start();
    const dir = tempDir();
    const url = `sqlite:${join(dir, 'log.db')}`;
    const store = await openStore(url);
    const recent = new Date(Date.now() - 5_000).toISOString();
    await store.appendBatch(
      [
        ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 2 }),
        ev('AgentRegistered', { agentId: 'a1', role: 'worker' }),
        ev('AgentRegistered', { agentId: 'a2', role: 'worker' }),
        ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: alive.pid!, host: 'node-s' }),
        ev('AgentSpawned', { agentId: 'a2', sessionId: 's2', poolId: 'p1', pid: killed.pid!, host: 'node-s' }),
      ].map((e) => ({ ...e, metadata: { at: recent } })),
    );
    await store.close();
    killed.kill('SIGKILL');
    await once(killed, 'exit');
    const served = await startServe(url, { args: ['--reconcile', '--recover', '--reconcile-host', 'node-s', '--reconcile-every', '3600'] });
    try {
      expect(served.banner).toContain(`rollcall serve: orchestrator-started host=node-s epoch=1 adopted=1 (a1/s1 pid ${alive.pid})\n`);
      const view = (await (await fetch(`${served.url}v1/projection?minPosition=6`)).json()) as {
        hosts: Record<string, { epoch: number; liveSessions: number }>;
        sessions: Record<string, { state: string; terminationReason: string | null }>;
      };
      expect(view.hosts['node-s']).toMatchObject({ epoch: 1, liveSessions: 1 });
      expect(view.sessions['s1']!.state).toBe('running');
      expect(view.sessions['s2']).toMatchObject({ state: 'terminated', terminationReason: 'orchestrator_restarted' });
    } finally {
      expect(await served.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('serve: the reconciler flags need --reconcile', () => {
  it.each([[['--recover']], [['--reconcile-host', 'h1']], [['--suspect-after-s', '30']]])('%j without --reconcile: exit 2, one line', async (flags) => {
    const { code, stdout, stderr } = await cli(['serve', '--store', 'memory:', '--port', '0', ...flags]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('rollcall: --recover, --reconcile-host and --suspect-after-s configure the in-process reconciler: add --reconcile\n');
  });

  it('--reconcile-host "" is refused, naming the flag', async () => {
    const { code, stderr } = await cli(['serve', '--store', 'memory:', '--port', '0', '--reconcile', '--reconcile-host', ' ']);
    expect(code).toBe(2);
    expect(stderr).toContain('--reconcile-host must name this machine as sessions record it');
  });
});
