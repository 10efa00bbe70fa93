import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import type { Observations } from '../../src/reconcile/decide.js';
import { reconcileOnce, runReconciler, type ReconcilePass } from '../../src/reconcile/reconciler.js';
import { replayStore } from '../../src/replay/replayLog.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { ev } from '../support/lifecycle.js';
import { MIN, at, SPEC4 } from './support.js';
import { correctionCounts, storeKits } from './stores.js';

/** Four agents: a dead pid, a stuck terminating session, a stuck start, and one healthy agent. */
const fleet = (): LifecycleEvent[] => [
  ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 4 }, { at: 0 }),
  ...['a1', 'a2', 'a3', 'a4'].map((agentId) => ev('AgentRegistered', { agentId, role: 'worker' }, { at: 0 })),
  ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: 101 }, { at: 1 }),
  ev('AgentConnected', { agentId: 'a2', connectionId: 'c2' }, { at: 1 }),
  ev('AgentSpawned', { agentId: 'a2', sessionId: 's2', poolId: 'p1', pid: 102 }, { at: 2 }),
  ev('SessionTerminationRequested', { agentId: 'a2', sessionId: 's2' }, { at: 3 }),
  ev('AgentDisconnected', { agentId: 'a2', connectionId: 'c2' }, { at: 4 }),
  ev('SessionStarting', { agentId: 'a3', sessionId: 's3', poolId: 'p1' }, { at: 5 }),
  ev('AgentSpawned', { agentId: 'a4', sessionId: 's4', poolId: 'p1', pid: 104 }, { at: 6 }),
];
const reality: Observations = { pids: { 101: { alive: false }, 102: { alive: true }, 104: { alive: true } } };
const NOW = at(20 * MIN);
const expectedCorrections = {
  'AgentCrashed a1 101': 1,
  'SessionEnded a2 s2': 1,
  'SessionStartFailed a3 s3': 1,
};

const viewOf = async (store: EventStore) => {
  const projection = createLifecycleProjection();
  return lifecycleView((await replayStore(store, projection, { noSnapshot: true })).state);
};

/** An observer that answers only once `n` passes are all waiting: every pass has replayed before any appends. */
const barrierObserver = (n: number, observations: Observations) => {
  let waiting = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return async () => {
    if (++waiting === n) release();
    await all;
    return observations;
  };
};

const sum = (passes: ReconcilePass[], f: (p: ReconcilePass) => number) => passes.reduce((n, p) => n + f(p), 0);

describe.each(storeKits)('reconcileOnce on the $name store', (kit) => {
  it('replays, observes, decides, appends; a second pass appends nothing', async () => {
    const { store, close } = await kit.open();
    try {
      await store.appendBatch(fleet());
      const first = await reconcileOnce(store, { config: SPEC4, observe: () => reality, now: NOW });
      expect(first.appended.map((d) => [d.rule, d.agentId])).toEqual([['dead-pid', 'a1'], ['stuck-terminating', 'a2'], ['start-timeout', 'a3']]);
      expect(first.metrics).toMatchObject({
        passes: 1, decided: 3, appended: 3, alreadyStored: 0, conflicts: 0,
        corrections: { 'dead-pid': 1, 'agent-disconnected': 0, 'stuck-terminating': 1, 'start-timeout': 1 },
      });
      const view = await viewOf(store);
      expect(view.running).toEqual(['a4']);
      expect(view.pools['p1']!.status).toMatchObject({ activeCount: 1, availableSlots: 3, activeAgentIds: ['a4'] });
      expect(view.anomalies.count).toBe(0);

      const second = await reconcileOnce(store, { config: SPEC4, observe: () => reality, now: at(30 * MIN) });
      expect(second.decisions).toEqual([]);
      expect(await correctionCounts(store)).toEqual(expectedCorrections);
    } finally {
      await close();
    }
  });

  it('two reconcilers racing (Promise.all) store each correction once: the revision fence stops the second', async () => {
    const { store, another, close } = await kit.open();
    try {
      await store.appendBatch(fleet());
      const other = await another();
      const observe = barrierObserver(2, reality);
      const passes = await Promise.all([
        reconcileOnce(store, { config: SPEC4, observe, now: NOW }),
        reconcileOnce(other, { config: SPEC4, observe, now: at(20 * MIN + 3) }),
      ]);
      // Both decided all three on the same projection; only one append of each got in.
      expect(passes.map((p) => p.decisions.length)).toEqual([3, 3]);
      expect(sum(passes, (p) => p.appended.length)).toBe(3);
      expect(sum(passes, (p) => p.conflicts.length + p.alreadyStored.length)).toBe(3);
      expect(await correctionCounts(store)).toEqual(expectedCorrections);
      expect((await viewOf(store)).anomalies.count).toBe(0);
    } finally {
      await close();
    }
  });

  it('without the revision fence, the deterministic ids alone keep each correction once (different clocks, same ids)', async () => {
    const { store, another, close } = await kit.open();
    try {
      await store.appendBatch(fleet());
      const handles = [store, await another(), await another(), store];
      const observe = barrierObserver(handles.length, reality);
      const passes = await Promise.all(
        handles.map((h, i) => reconcileOnce(h, { config: SPEC4, observe, now: at(20 * MIN + i), fenceRevision: false })),
      );
      expect(sum(passes, (p) => p.appended.length)).toBe(3);
      expect(sum(passes, (p) => p.alreadyStored.length)).toBe(9);
      expect(await correctionCounts(store)).toEqual(expectedCorrections);
      expect((await viewOf(store)).anomalies.count).toBe(0);
    } finally {
      await close();
    }
  });

  it('many unsynchronised passes at once still store each correction once', async () => {
    const { store, another, close } = await kit.open();
    try {
      await store.appendBatch(fleet());
      const handles = [store, await another(), store, await another(), store];
      const passes = await Promise.all(handles.map((h, i) => reconcileOnce(h, { config: SPEC4, observe: () => reality, now: at(20 * MIN + i) })));
      expect(sum(passes, (p) => p.appended.length)).toBe(3);
      expect(await correctionCounts(store)).toEqual(expectedCorrections);
    } finally {
      await close();
    }
  });
});

describe('the revision fence: a correction decided on stale state is not appended', () => {
  // a1 is starting (no pid yet) and disconnected: the correction would be an AgentCrashed without
  // a pid, which ends *every* live session of the agent — including one started meanwhile.
  const history = [
    ev('AgentRegistered', { agentId: 'a1', role: 'worker' }, { at: 0 }),
    ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }, { at: 0 }),
    ev('SessionStarting', { agentId: 'a1', sessionId: 's1' }, { at: 1 }),
    ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' }, { at: 2 }),
  ];
  const meanwhile = [
    ev('AgentConnected', { agentId: 'a1', connectionId: 'c2' }, { at: 60 }),
    ev('AgentSpawned', { agentId: 'a1', sessionId: 's2', pid: 777 }, { at: 61 }),
  ];
  /** The orchestrator writes while the reconciler is between its replay and its append. */
  const racingWriter = (store: EventStore) => async () => {
    await store.appendBatch(meanwhile);
    return {};
  };

  it('counts a conflict, does not throw, and the next pass decides on the new state', async () => {
    const store = openMemoryStore();
    await store.appendBatch(history);
    const pass = await reconcileOnce(store, { config: SPEC4, observe: racingWriter(store), now: at(62) });
    expect(pass.decisions.map((d) => d.rule)).toEqual(['agent-disconnected']);
    expect(pass.appended).toEqual([]);
    expect(pass.conflicts).toHaveLength(1);
    expect(pass.metrics.conflicts).toBe(1);
    expect((await viewOf(store)).sessions['s2']!.state).toBe('running');

    const next = await reconcileOnce(store, { config: SPEC4, observe: () => ({}), now: at(63) });
    expect(next.decisions).toEqual([]);
    expect((await viewOf(store)).running).toEqual(['a1']);
  });

  it('(why it matters) unfenced, the stale correction would end the new session', async () => {
    const store = openMemoryStore();
    await store.appendBatch(history);
    const pass = await reconcileOnce(store, { config: SPEC4, observe: racingWriter(store), now: at(62), fenceRevision: false });
    expect(pass.appended).toHaveLength(1);
    expect((await viewOf(store)).sessions['s2']).toMatchObject({ state: 'terminated', terminationReason: 'agent_disconnected' });
  });
});

describe('runReconciler', () => {
  it('repeats until aborted, keeps cumulative metrics, and appends each correction once across passes', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet());
    const controller = new AbortController();
    const seen: number[] = [];
    let tick = 0;
    const total = await runReconciler(store, { config: SPEC4,
      everyMs: 5,
      signal: controller.signal,
      observe: () => reality,
      clock: () => at(20 * MIN + tick++),
      onPass: (pass, cumulative) => {
        seen.push(pass.appended.length);
        if (cumulative.passes === 3) controller.abort();
      },
    });
    expect(seen).toEqual([3, 0, 0]);
    expect(total).toMatchObject({ passes: 3, decided: 3, appended: 3, corrections: { 'dead-pid': 1, 'stuck-terminating': 1, 'start-timeout': 1 } });
    expect(await correctionCounts(store)).toEqual(expectedCorrections);
  });

  it('with onError, a failed pass is reported and the loop goes on; without it, the error ends the loop', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet());
    const controller = new AbortController();
    const errors: string[] = [];
    let calls = 0;
    const flaky = () => {
      if (++calls === 1) throw new Error('observer down');
      return reality;
    };
    const total = await runReconciler(store, { config: SPEC4,
      everyMs: 1,
      signal: controller.signal,
      observe: flaky,
      clock: () => NOW,
      onError: (e) => errors.push((e as Error).message),
      onPass: (_pass, cumulative) => {
        if (cumulative.passes === 1) controller.abort();
      },
    });
    expect(errors).toEqual(['observer down']);
    expect(total.appended).toBe(3);

    await expect(runReconciler(store, { config: SPEC4, everyMs: 1, observe: () => { throw new Error('boom'); } })).rejects.toThrow('boom');
  });

  it('stops at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const total = await runReconciler(openMemoryStore(), { config: SPEC4, everyMs: 60_000, signal: controller.signal, observe: () => ({}) });
    expect(total.passes).toBe(0);
  });
});
