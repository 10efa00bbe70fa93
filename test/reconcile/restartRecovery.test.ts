import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { recoverOnStartup } from '../../src/reconcile/recoverOnStartup.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { idleProcesses } from '../support/idleProcesses.js';
import { ev } from '../support/lifecycle.js';

const { start } = idleProcesses();

describe('startup recovery of a restarted orchestrator (SPEC §7.1), with real processes', () => {
  it('appends one OrchestratorStarted adopting the live pid; the killed one ends orchestrator_restarted; a second recovery appends the next epoch only', async () => {
    const alive = await start();
    const killed = await start();
    const store = openMemoryStore();
    await store.appendBatch([
      ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 2 }),
      ev('AgentRegistered', { agentId: 'a1', role: 'worker' }),
      ev('AgentRegistered', { agentId: 'a2', role: 'worker' }),
      ev('OrchestratorStarted', { host: 'node-t', epoch: 1 }),
      ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: alive.pid!, host: 'node-t', epoch: 1 }),
      ev('AgentSpawned', { agentId: 'a2', sessionId: 's2', poolId: 'p1', pid: killed.pid!, host: 'node-t', epoch: 1 }),
    ]);
    killed.kill('SIGKILL');
    await once(killed, 'exit');

    const result = await recoverOnStartup(store, { restartHost: 'node-t', host: 'node-t' });
    expect(result.restarted?.data).toEqual({ host: 'node-t', epoch: 2, adopted: [{ agentId: 'a1', sessionId: 's1', pid: alive.pid! }] });
    // One event for the restart, no per-session correction for the dead one.
    expect(result.appended).toEqual([]);
    expect(result.view.sessions['s1']).toMatchObject({ state: 'running', epoch: 2 });
    expect(result.view.sessions['s2']).toMatchObject({ state: 'terminated', terminationReason: 'orchestrator_restarted' });
    expect(result.view.hosts['node-t']).toMatchObject({ epoch: 2, liveSessions: 1 });
    expect(result.view.pools['p1']!.status.activeAgentIds).toEqual(['a1']);

    // A replay from scratch says the same.
    const replayed = createLifecycleProjection().view((await replayStore(store, createLifecycleProjection(), { noSnapshot: true })).state);
    expect(replayed.sessions).toEqual(result.view.sessions);
  });

  it('two recoveries of the same host from the same log append one event (same id)', async () => {
    const store = openMemoryStore();
    await store.appendBatch([ev('OrchestratorStarted', { host: 'node-u', epoch: 3 })]);
    const observe = () => ({ host: 'node-u', pids: {} });
    const [a, b] = await Promise.all([
      recoverOnStartup(store, { restartHost: 'node-u', host: 'node-u', observe }),
      recoverOnStartup(store, { restartHost: 'node-u', host: 'node-u', observe }),
    ]);
    expect([a.restarted, b.restarted].filter((e) => e !== null)).toHaveLength(1);
    expect(a.view.hosts['node-u']!.epoch).toBe(4);
    expect(b.view.hosts['node-u']!.epoch).toBe(4);
  });
});
