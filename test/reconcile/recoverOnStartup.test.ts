import { describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { recoverOnStartup } from '../../src/reconcile/recoverOnStartup.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { ev } from '../support/lifecycle.js';
import { MIN, at } from './support.js';
import { storedEvents } from './stores.js';

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

describe('recoverOnStartup: the restart of a host', () => {
  const hosts = () => [
    ev('OrchestratorStarted', { host: 'h1', epoch: 1 }, { at: 0 }),
    ev('OrchestratorStarted', { host: 'h2', epoch: 1 }, { at: 0 }),
    ...['a1', 'a2', 'a3'].map((agentId) => ev('AgentRegistered', { agentId, role: 'worker' }, { at: 0 })),
    ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', pid: 7, host: 'h1', epoch: 1 }, { at: 1 }),
    // The same pid number on another host, and a live session without a pid.
    ev('AgentSpawned', { agentId: 'a2', sessionId: 's2', pid: 7, host: 'h2', epoch: 1 }, { at: 1 }),
    ev('AgentSpawned', { agentId: 'a3', sessionId: 's3', host: 'h1', epoch: 1 }, { at: 1 }),
  ];
  const alive = () => ({ pids: { 7: { alive: true } } });

  it('adopts only the live sessions of that host whose pid is seen alive; the other host keeps its own', async () => {
    const store = openMemoryStore();
    await store.appendBatch(hosts());
    const { restarted, view } = await recoverOnStartup(store, { restartHost: 'h1', host: 'h1', observe: alive, now: at(3) });
    expect(restarted?.data).toEqual({ host: 'h1', epoch: 2, adopted: [{ agentId: 'a1', sessionId: 's1', pid: 7 }] });
    expect(view.sessions['s1']).toMatchObject({ state: 'running', epoch: 2 });
    expect(view.sessions['s3']).toMatchObject({ state: 'terminated', terminationReason: 'orchestrator_restarted' });
    expect(view.sessions['s2']).toMatchObject({ state: 'running', host: 'h2', epoch: 1 });
  });

  it('an undecodable stored event stops it before anything is written, unless told to skip it', async () => {
    const store = openMemoryStore();
    await store.appendBatch(hosts());
    await store.appendToStream('agent-a1', [{ id: '00000000-0000-4000-8000-00000000bad2', type: 'NotAnEvent', data: {}, metadata: { at: at(2) } } as unknown as LifecycleEvent]);
    const before = (await storedEvents(store)).length;
    await expect(recoverOnStartup(store, { restartHost: 'h1', host: 'h1', observe: alive, now: at(3) })).rejects.toBeInstanceOf(RollcallError);
    expect(await storedEvents(store)).toHaveLength(before);
    const { restarted } = await recoverOnStartup(store, { restartHost: 'h1', host: 'h1', observe: alive, now: at(3), skipInvalid: true });
    expect(restarted?.data).toMatchObject({ host: 'h1', epoch: 2 });
  });
});
