import { describe, expect, it } from 'vitest';
import { recoverOnStartup } from '../../src/reconcile/recoverOnStartup.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { ev } from '../support/lifecycle.js';
import { MIN, at } from './support.js';

const fleet = () => [
  ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 3 }, { at: 0 }),
  ev('AgentRegistered', { agentId: 'dead', role: 'worker' }, { at: 0 }),
  ev('AgentRegistered', { agentId: 'quiet', role: 'worker' }, { at: 0 }),
  ev('AgentRegistered', { agentId: 'stuck', role: 'worker' }, { at: 0 }),
  ev('AgentSpawned', { agentId: 'dead', sessionId: 's-dead', poolId: 'p1', pid: 11 }, { at: 1 }),
  ev('AgentConnected', { agentId: 'quiet', connectionId: 'c' }, { at: 1 }),
  ev('AgentSpawned', { agentId: 'quiet', sessionId: 's-quiet', poolId: 'p1', pid: 12 }, { at: 1 }),
  ev('AgentDisconnected', { agentId: 'quiet', connectionId: 'c' }, { at: 2 }),
  ev('SessionStarting', { agentId: 'stuck', sessionId: 's-stuck', poolId: 'p1' }, { at: 3 }),
];
const observe = () => ({ pids: { 11: { alive: false }, 12: { alive: true } } });

describe('recoverOnStartup', () => {
  it('ends dead and stuck sessions before work is dispatched, and returns the corrected view', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet());
    const { view, appended, metrics } = await recoverOnStartup(store, { observe, now: at(30 * MIN) });
    expect(appended.map((d) => [d.rule, d.agentId])).toEqual([['dead-pid', 'dead'], ['start-timeout', 'stuck']]);
    expect(metrics).toMatchObject({ passes: 1, appended: 2, conflicts: 0 });
    expect(view.running).toEqual(['quiet']);
    expect(view.pools['p1']!.status).toMatchObject({ activeCount: 1, availableSlots: 2 });
  });

  it('leaves the disconnect rule off unless asked: connection states predate the restart', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet());
    const { appended } = await recoverOnStartup(store, { observe, now: at(30 * MIN), config: { disconnectGraceMs: 30_000 } });
    expect(appended.map((d) => [d.rule, d.agentId])).toContainEqual(['agent-disconnected', 'quiet']);
  });

  it('decides again when another writer moved an agent on during its pass', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet().slice(0, 5));
    let calls = 0;
    const racing = async () => {
      if (++calls === 1) await store.appendBatch([ev('AgentHeartbeat', { agentId: 'dead' }, { at: 4 })]);
      return observe();
    };
    const { view, appended, metrics } = await recoverOnStartup(store, { observe: racing, now: at(30 * MIN) });
    expect(metrics).toMatchObject({ passes: 2, conflicts: 1, appended: 1 });
    expect(appended.map((d) => d.rule)).toEqual(['dead-pid']);
    expect(view.running).toEqual([]);
  });
});
