import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { reconcileOnce } from '../../src/reconcile/reconciler.js';
import { recoverOnStartup } from '../../src/reconcile/recoverOnStartup.js';
import { replayStore } from '../../src/replay/replayLog.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { ev } from '../support/lifecycle.js';
import { MIN, at, SPEC4 } from './support.js';

/** A fresh projection from the whole log, as a restarted daemon would build it. */
const replayed = async (store: EventStore, options: { noSnapshot?: boolean } = {}) =>
  lifecycleView((await replayStore(store, createLifecycleProjection(), { noSnapshot: options.noSnapshot ?? true })).state);

const storeWith = async (events: LifecycleEvent[]) => {
  const store = openMemoryStore();
  await store.appendBatch(events);
  return store;
};

/** A pid that really existed and is now dead (exited and reaped). */
const deadPid = async (): Promise<number> => {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
};

describe('seed 000: a pool stays full after its session died in a PID check', () => {
  it('the slot is free again as soon as the death is a fact in the log, and the next session can take it', async () => {
    const pid = await deadPid();
    const store = await storeWith([
      ev('PoolCreated', { poolId: 'el-rmw5', name: 'test', maxSize: 1, agentTypes: [], enabled: true }, { at: 0 }),
      ev('AgentRegistered', { agentId: 'el-5d6n', role: 'worker', variant: 'ephemeral' }, { at: 0 }),
      ev('AgentRegistered', { agentId: 'director', role: 'director' }, { at: 0 }),
      ev('AgentSpawned', { agentId: 'director', sessionId: 'd-1', poolId: 'el-rmw5', pid: process.pid }, { at: 1 }),
      ev('AgentSpawned', { agentId: 'el-5d6n', sessionId: 's-1', poolId: 'el-rmw5', pid }, { at: 2 }),
    ]);
    expect((await replayed(store)).pools['el-rmw5']!.status).toMatchObject({ activeCount: 1, availableSlots: 0, activeAgentIds: ['el-5d6n'] });

    const pass = await reconcileOnce(store, { config: SPEC4 }); // the real pid check
    expect(pass.appended.map((d) => [d.rule, d.agentId])).toEqual([['dead-pid', 'el-5d6n']]);

    const view = await replayed(store);
    // Exactly what the seed expected, with no "refresh" call: occupancy is derived from session states.
    expect(view.pools['el-rmw5']!.status).toEqual({ activeCount: 0, availableSlots: 1, overCapacityBy: 0, activeByType: {}, activeAgentIds: [] });
    expect(view.agents['el-5d6n']).toMatchObject({ status: 'idle', currentSessionId: null, lastExitReason: 'Process no longer alive (PID check)' });
    expect(view.sessions['s-1']).toMatchObject({ state: 'terminated', terminationReason: 'Process no longer alive (PID check)' });
    expect(view.running).toEqual(['director']); // the director is running but never counted by the pool

    await store.appendBatch([ev('AgentSpawned', { agentId: 'el-5d6n', sessionId: 's-2', poolId: 'el-rmw5', pid: process.pid }, { at: 3 })]);
    expect((await replayed(store)).pools['el-rmw5']!.status).toMatchObject({ activeCount: 1, availableSlots: 0, overCapacityBy: 0 });
  });
});

describe('seed 001: kill -9 leaves the agent "connected"', () => {
  it('the reconciler appends AgentCrashed; the agent is out of the running set while its connection is reported as the log last saw it', async () => {
    const pid = await deadPid();
    const store = await storeWith([
      ev('AgentRegistered', { agentId: 'relay-1', role: 'worker' }, { at: 0 }),
      ev('AgentConnected', { agentId: 'relay-1', connectionId: 'sock-1' }, { at: 1 }),
      ev('AgentSpawned', { agentId: 'relay-1', sessionId: 's-1', pid }, { at: 2 }),
    ]);
    const pass = await reconcileOnce(store, { config: SPEC4 });
    expect(pass.appended[0]?.event).toMatchObject({ type: 'AgentCrashed', data: { agentId: 'relay-1', reason: 'Process no longer alive (PID check)', pid } });

    const view = await replayed(store);
    expect(view.running).toEqual([]);
    expect(view.agents['relay-1']).toMatchObject({ status: 'idle', pid: null, currentSessionId: null });
    // The socket never closed, so no disconnect was recorded: "connected" is what the log says about
    // the connection, and it is no longer what anyone should read liveness from.
    expect(view.agents['relay-1']!.connection).toMatchObject({ connectionId: 'sock-1', state: 'connected' });

    // When the orchestrator finally notices the dead socket, there is nothing left to correct.
    await store.appendBatch([ev('AgentDisconnected', { agentId: 'relay-1', connectionId: 'sock-1' }, { at: 3 })]);
    expect((await reconcileOnce(store, { config: SPEC4, now: at(10 * MIN) })).decisions).toEqual([]);
  });
});

describe('seed 002: SessionNotFound left the agent in the running set, and every replay resurrected it', () => {
  it('SessionNotFound ends the session; replaying the log again (a restart) does not bring the agent back', async () => {
    const store = await storeWith([
      ev('AgentRegistered', { agentId: 'btucker-reviewer', role: 'steward' }, { at: 0 }),
      ev('AgentSpawned', { agentId: 'btucker-reviewer', sessionId: 'conv-1', pid: 5001 }, { at: 1 }),
      ev('SessionSuspended', { agentId: 'btucker-reviewer', sessionId: 'conv-1' }, { at: 2 }),
      // Resume fails: "No conversation found".
      ev('SessionNotFound', { agentId: 'btucker-reviewer', sessionId: 'conv-1' }, { at: 3 }),
    ]);
    for (const view of [await replayed(store), await replayed(store), await replayed(store, { noSnapshot: false })]) {
      expect(view.running).toEqual([]);
      expect(view.agents['btucker-reviewer']).toMatchObject({ status: 'idle', currentSessionId: null, pid: null });
      expect(view.sessions['conv-1']).toMatchObject({ state: 'terminated', terminationReason: 'not_found' });
    }
    // The daemon's retry loop (resume → not found → resume) cannot revive it either: terminal is final.
    await store.appendBatch([
      ev('SessionResumed', { agentId: 'btucker-reviewer', sessionId: 'conv-1', pid: 5002 }, { at: 4 }),
      ev('AgentSpawned', { agentId: 'btucker-reviewer', sessionId: 'conv-1', pid: 5003 }, { at: 5 }),
    ]);
    const after = await replayed(store);
    expect(after.running).toEqual([]);
    expect(after.anomalies.byReason['invalid-transition']).toBe(2);
  });

  it('at boot, recoverOnStartup ends sessions whose process died while the daemon was down; replay never resurrects them', async () => {
    const gone = await deadPid();
    const store = await storeWith([
      ev('AgentRegistered', { agentId: 'reviewer', role: 'steward' }, { at: 0 }),
      ev('AgentRegistered', { agentId: 'builder', role: 'worker' }, { at: 0 }),
      ev('AgentConnected', { agentId: 'builder', connectionId: 'c1' }, { at: 0 }),
      ev('AgentSpawned', { agentId: 'reviewer', sessionId: 'r-1', pid: gone }, { at: 1 }),
      ev('AgentSpawned', { agentId: 'builder', sessionId: 'b-1', pid: process.pid }, { at: 1 }),
      // The daemon went down cleanly and recorded its agents' disconnects.
      ev('AgentDisconnected', { agentId: 'builder', connectionId: 'c1' }, { at: 2 }),
    ]);
    // Before recovery, a plain replay says both are running: the log cannot know about the death.
    expect((await replayed(store)).running).toEqual(['builder', 'reviewer']);

    const recovered = await recoverOnStartup(store, { now: at(60 * MIN) });
    expect(recovered.appended.map((d) => [d.rule, d.agentId])).toEqual([['dead-pid', 'reviewer']]);
    // The builder's process is alive; its disconnect predates the restart, so it is not "gone".
    expect(recovered.view.running).toEqual(['builder']);
    expect(recovered.view.agents['reviewer']).toMatchObject({ status: 'idle', lastExitReason: 'Process no longer alive (PID check)' });

    // Restart again: replay and recovery agree, and nothing is appended twice.
    expect((await replayed(store)).running).toEqual(['builder']);
    const again = await recoverOnStartup(store, { now: at(61 * MIN) });
    expect(again.appended).toEqual([]);
    expect(again.view.running).toEqual(['builder']);
  });
});

describe('seed 003: a session stuck in terminating after its agent was replaced', () => {
  const T = 100;
  const history = [
    ev('PoolCreated', { poolId: 'k8s', name: 'k8s', maxSize: 2 }, { at: 0 }),
    ev('AgentRegistered', { agentId: 'agent-a', role: 'worker' }, { at: 0 }),
    ev('AgentConnected', { agentId: 'agent-a', connectionId: 'ws-a' }, { at: 1 }),
    ev('AgentSpawned', { agentId: 'agent-a', sessionId: 'admin-brave-f7b5e0f5', poolId: 'k8s' }, { at: 2 }),
    ev('SessionTerminationRequested', { agentId: 'agent-a', sessionId: 'admin-brave-f7b5e0f5' }, { at: T }),
  ];
  const podDeleted = [
    ev('AgentDisconnected', { agentId: 'agent-a', connectionId: 'ws-a' }, { at: T + 5 }),
    // The replacement pod is a new agent with a new id.
    ev('AgentRegistered', { agentId: 'agent-b', role: 'worker' }, { at: T + 20 }),
    ev('AgentConnected', { agentId: 'agent-b', connectionId: 'ws-b' }, { at: T + 21 }),
  ];
  // Pods are not processes on this host: nothing is observed beyond the log.
  const pass = (store: EventStore, s: number) => reconcileOnce(store, { config: SPEC4, observe: () => ({}), now: at(s) });

  it('ends it as agent_unavailable after 10 minutes, not before, and frees its slot', async () => {
    const store = await storeWith([...history, ...podDeleted]);
    // Not at the disconnect grace (it was asked to stop: that is no crash), nor at 9 minutes.
    expect((await pass(store, T + 40)).decisions).toEqual([]);
    expect((await pass(store, T + 9 * MIN)).decisions).toEqual([]);
    expect((await pass(store, T + 10 * MIN)).decisions).toEqual([]);
    const late = await pass(store, T + 10 * MIN + 1);
    expect(late.appended.map((d) => [d.rule, d.event.type, (d.event.data as { reason: string }).reason])).toEqual([
      ['stuck-terminating', 'SessionEnded', 'agent_unavailable'],
    ]);
    expect(late.appended[0]!.event.metadata['observed']).toMatchObject({ agent: 'disconnected', terminatingSince: at(T) });
    const view = await replayed(store);
    expect(view.sessions['admin-brave-f7b5e0f5']).toMatchObject({ state: 'terminated', terminationReason: 'agent_unavailable' });
    expect(view.pools['k8s']!.status).toMatchObject({ activeCount: 0, availableSlots: 2 });
    expect((await pass(store, T + 60 * MIN)).decisions).toEqual([]);
  });

  it('never while its agent is still connected (it may yet carry out the stop)', async () => {
    const store = await storeWith(history);
    expect((await pass(store, T + 48 * MIN)).decisions).toEqual([]);
    expect((await replayed(store)).sessions['admin-brave-f7b5e0f5']!.state).toBe('terminating');
  });
});

describe('seed 004: a reset during an in-flight run left a zombie slot and a busy flag', () => {
  it('after SessionReset the old slot is gone, no busy flag remains, and the thread takes new work', async () => {
    const store = await storeWith([
      ev('PoolCreated', { poolId: 'gateway', name: 'gateway', maxSize: 1 }, { at: 0 }),
      ev('AgentRegistered', { agentId: 'thread-42', role: 'worker' }, { at: 0 }),
      ev('AgentSpawned', { agentId: 'thread-42', sessionId: 'turn-1', poolId: 'gateway', generation: 1, pid: 7001 }, { at: 1 }),
      ev('RunStarted', { agentId: 'thread-42', sessionId: 'turn-1', generation: 1 }, { at: 2 }),
      // /cc fires mid-run while the credential pool is exhausted.
      ev('SessionReset', { agentId: 'thread-42', sessionId: 'turn-1', generation: 2 }, { at: 3 }),
      // The old run's cleanup arrives late and is fenced off by the generation.
      ev('RunFinished', { agentId: 'thread-42', sessionId: 'turn-1', generation: 1, outcome: 'error' }, { at: 4 }),
    ]);
    const view = await replayed(store);
    expect(view.busy).toEqual([]);
    expect(view.agents['thread-42']).toMatchObject({ busy: false, status: 'idle', generation: 2, lastExitReason: 'reset' });
    expect(view.pools['gateway']!.status).toMatchObject({ activeCount: 0, availableSlots: 1, activeAgentIds: [] });
    expect(view.anomalies.byReason['stale-generation']).toBe(1);

    // Nothing for the reconciler to fix: the projection already freed it (even with the old pid dead).
    expect((await reconcileOnce(store, { config: SPEC4, observe: () => ({ pids: { 7001: { alive: false } } }), now: at(60 * MIN) })).decisions).toEqual([]);

    // The next message is accepted: a new session of the new generation takes the slot and runs.
    await store.appendBatch([
      ev('AgentSpawned', { agentId: 'thread-42', sessionId: 'turn-2', poolId: 'gateway', generation: 2, pid: 7002 }, { at: 5 }),
      ev('RunStarted', { agentId: 'thread-42', sessionId: 'turn-2', generation: 2 }, { at: 6 }),
    ]);
    const next = await replayed(store);
    expect(next.busy).toEqual(['thread-42']);
    expect(next.pools['gateway']!.status).toMatchObject({ activeCount: 1, availableSlots: 0, overCapacityBy: 0 });
  });
});
