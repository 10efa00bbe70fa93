import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView, type ProjectionJson } from '../../src/projections/lifecycleView.js';
import { correctionId } from '../../src/reconcile/correctionId.js';
import { decide, type Observations } from '../../src/reconcile/decide.js';
import { addMetrics, emptyMetrics, reconcileOnce, runReconciler, type ReconcileMetrics } from '../../src/reconcile/reconciler.js';
import { recoverOnStartup } from '../../src/reconcile/recoverOnStartup.js';
import { replayStore } from '../../src/replay/replayLog.js';
import type { EventStore, ExpectedRevision } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { ev } from '../support/lifecycle.js';
import { MIN, at, SPEC4 } from './support.js';
import { storedEvents } from './stores.js';

const reg = (agentId: string, s = 0) => ev('AgentRegistered', { agentId, role: 'worker' }, { at: s });
const spawn = (agentId: string, sessionId: string, pid: number, s = 1, host?: string) =>
  ev('AgentSpawned', host === undefined ? { agentId, sessionId, pid } : { agentId, sessionId, pid, host }, { at: s });

const metrics = (over: Partial<Omit<ReconcileMetrics, 'corrections'>> & { corrections?: Partial<ReconcileMetrics['corrections']> } = {}): ReconcileMetrics => ({
  passes: 0, decided: 0, appended: 0, alreadyStored: 0, conflicts: 0, unchecked: 0,
  ...over,
  corrections: { 'lease-expired': 0, 'dead-pid': 0, 'agent-disconnected': 0, 'stuck-terminating': 0, 'start-timeout': 0, suspect: 0, ...over.corrections },
});

const viewOf = async (store: EventStore, retentionMs?: number): Promise<ProjectionJson> => {
  const projection = createLifecycleProjection(retentionMs === undefined ? {} : { retentionMs });
  return lifecycleView((await replayStore(store, projection, { noSnapshot: true })).state);
};

const storeWith = async (events: LifecycleEvent[]) => {
  const store = openMemoryStore();
  await store.appendBatch(events);
  return store;
};

/** The memory store with its appends replaced (and no group commit, so that every append goes through them). */
const withAppend = (store: EventStore, appendToStream: EventStore['appendToStream']): EventStore => {
  const { appendGroup: _, ...rest } = store;
  return { ...rest, appendToStream };
};

/** The memory store, recording the expected revision of every append. */
const recordingAppends = (store: EventStore) => {
  const calls: Array<[string, ExpectedRevision | undefined]> = [];
  const wrapped = withAppend(store, (stream, events, options) => {
    calls.push([stream, options?.expectedRevision]);
    return store.appendToStream(stream, events, options);
  });
  return { store: wrapped, calls };
};

const conflict = (stream: string) => new RollcallError('wrong-expected-revision', `stream ${stream}: expected revision 1, but it is at 2`);

describe('emptyMetrics / addMetrics', () => {
  it('emptyMetrics is all zeros, every rule included, and a fresh object each time', () => {
    expect(emptyMetrics()).toEqual(metrics());
    const a = emptyMetrics();
    a.passes = 5;
    a.corrections['dead-pid'] = 5;
    expect(emptyMetrics()).toEqual(metrics());
  });

  it('addMetrics adds every count of b into a, returns a, and leaves b alone', () => {
    const a = metrics({ passes: 1, decided: 2, appended: 3, alreadyStored: 4, conflicts: 5, unchecked: 6, corrections: { 'dead-pid': 7, 'agent-disconnected': 8, 'stuck-terminating': 9, 'start-timeout': 10 } });
    const b = metrics({ passes: 10, decided: 20, appended: 30, alreadyStored: 40, conflicts: 50, unchecked: 60, corrections: { 'dead-pid': 70, 'agent-disconnected': 80, 'stuck-terminating': 90, 'start-timeout': 100 } });
    const bCopy = structuredClone(b);
    const out = addMetrics(a, b);
    expect(out).toBe(a);
    expect(out).toEqual(metrics({ passes: 11, decided: 22, appended: 33, alreadyStored: 44, conflicts: 55, unchecked: 66, corrections: { 'dead-pid': 77, 'agent-disconnected': 88, 'stuck-terminating': 99, 'start-timeout': 110 } }));
    expect(b).toEqual(bCopy);
  });
});

describe('reconcileOnce: one pass', () => {
  it('an empty store: nothing decided, position null, the pass counted', async () => {
    const store = openMemoryStore();
    const pass = await reconcileOnce(store, { config: SPEC4, observe: () => ({}), now: at(0) });
    expect(pass).toEqual({
      position: null, view: await viewOf(store), observations: {}, decisions: [], appended: [], alreadyStored: [], conflicts: [], unchecked: [],
      metrics: metrics({ passes: 1 }),
    });
  });

  it('appends exactly the decided correction, fenced at the revision the replay saw, and reports it all', async () => {
    const store = await storeWith([reg('a1'), reg('a2'), spawn('a2', 's2', 7), spawn('a1', 's1', 42)]);
    const rec = recordingAppends(store);
    const observations: Observations = { pids: { 42: { alive: false, detail: 'no such process (ESRCH)' }, 7: { alive: true } } };
    const before = await viewOf(store);
    const pass = await reconcileOnce(rec.store, { config: SPEC4, observe: () => observations, now: at(5 * MIN), host: 'me' });
    const decisions = decide(before, observations, at(5 * MIN), SPEC4);
    expect(decisions.map((d) => [d.rule, d.agentId, d.sessionId])).toEqual([['dead-pid', 'a1', 's1']]);
    expect(pass).toEqual({
      position: '4', view: before, observations, decisions, appended: decisions, alreadyStored: [], conflicts: [], unchecked: [],
      metrics: metrics({ passes: 1, decided: 1, appended: 1, corrections: { 'dead-pid': 1 } }),
    });
    // a1's stream holds AgentRegistered (revision 0) and the AgentSpawned at the log's last position (revision 1).
    expect(rec.calls).toEqual([['agent-a1', 1n]]);
    const stored = (await storedEvents(store)).at(-1)!;
    expect(stored).toEqual({
      id: correctionId({ rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: at(1) }),
      type: 'AgentCrashed',
      data: { agentId: 'a1', reason: 'Process no longer alive (PID check)', pid: 42 },
      metadata: decisions[0]!.event.metadata,
    });
    expect((await viewOf(store)).sessions['s1']!.state).toBe('terminated');

    const again = await reconcileOnce(rec.store, { config: SPEC4, observe: () => observations, now: at(6 * MIN) });
    expect(again.decisions).toEqual([]);
    expect(again.metrics).toEqual(metrics({ passes: 1 }));
    expect(rec.calls).toHaveLength(1);
  });

  it('a lapsed lease and another correction in one pass: the lapse is stored first, each correction once', async () => {
    const store = await storeWith([reg('a1'), reg('a2'), ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', leaseMs: 5_000 }, { at: 1 }), spawn('a2', 's2', 42)]);
    const rec = recordingAppends(store);
    const pass = await reconcileOnce(rec.store, { config: SPEC4, observe: () => ({ pids: { 42: { alive: false } } }), now: at(60) });
    expect(pass.decisions.map((d) => d.rule).sort()).toEqual(['dead-pid', 'lease-expired']);
    expect(pass.appended.map((d) => [d.rule, d.agentId])).toEqual([['lease-expired', 'a1'], ['dead-pid', 'a2']]);
    expect(pass.alreadyStored).toEqual([]);
    expect(pass.conflicts).toEqual([]);
    expect(rec.calls.map(([stream]) => stream)).toEqual(['agent-a1', 'agent-a2']);
    expect((await storedEvents(store)).slice(4).map((e) => e.type)).toEqual(['SessionEnded', 'AgentCrashed']);
  });

  it('fences each stream at its own revision as of the replay, even if the stream moved on since', async () => {
    const store = await storeWith([reg('a1'), spawn('a1', 's1', 42), reg('a2'), ev('SessionStarting', { agentId: 'a2', sessionId: 's2' }, { at: 2 })]);
    const rec = recordingAppends(store);
    const pass = await reconcileOnce(rec.store, { config: SPEC4,
      now: at(30 * MIN),
      observe: async () => {
        await store.appendBatch([ev('AgentHeartbeat', { agentId: 'a2' }, { at: 3 })]);
        return { pids: { 42: { alive: false } } };
      },
    });
    expect(rec.calls).toEqual([['agent-a1', 1n], ['agent-a2', 1n]]);
    expect(pass.appended.map((d) => d.agentId)).toEqual(['a1']);
    expect(pass.conflicts.map((d) => [d.rule, d.agentId])).toEqual([['start-timeout', 'a2']]);
    expect(pass.metrics).toEqual(metrics({ passes: 1, decided: 2, appended: 1, conflicts: 1, corrections: { 'dead-pid': 1 } }));
  });

  it('without the fence it appends with expectedRevision "any"', async () => {
    const store = await storeWith([reg('a1'), spawn('a1', 's1', 42)]);
    const rec = recordingAppends(store);
    await reconcileOnce(rec.store, { config: SPEC4, observe: () => ({ pids: { 42: { alive: false } } }), now: at(60), fenceRevision: false });
    expect(rec.calls).toEqual([['agent-a1', 'any']]);
  });

  it('fences at "no-stream" when the stream held nothing as of the replay', async () => {
    const store = await storeWith([reg('a1'), spawn('a1', 's1', 42)]);
    const calls: Array<ExpectedRevision | undefined> = [];
    const hiding: EventStore = withAppend(store, async (_stream, _events, options) => {
      calls.push(options?.expectedRevision);
      throw conflict('agent-a1');
    });
    Object.assign(hiding, {
      // eslint-disable-next-line require-yield
      readStream: async function* () {
        return;
      },
    });
    const pass = await reconcileOnce(hiding, { config: SPEC4, observe: () => ({ pids: { 42: { alive: false } } }), now: at(60) });
    expect(calls).toEqual(['no-stream']);
    expect(pass.conflicts).toHaveLength(1);
  });

  it('a correction another reconciler stored meanwhile is counted as already stored, not appended', async () => {
    const store = await storeWith([reg('a1'), spawn('a1', 's1', 42)]);
    const observations: Observations = { pids: { 42: { alive: false } } };
    const pass = await reconcileOnce(store, { config: SPEC4,
      now: at(60),
      fenceRevision: false,
      observe: async (view) => {
        await store.appendBatch(decide(view, observations, at(61)).map((d) => d.event));
        return observations;
      },
    });
    expect(pass.decisions).toHaveLength(1);
    expect(pass.appended).toEqual([]);
    expect(pass.alreadyStored).toEqual(pass.decisions);
    expect(pass.metrics).toEqual(metrics({ passes: 1, decided: 1, alreadyStored: 1 }));
    expect((await storedEvents(store)).filter((e) => e.type === 'AgentCrashed')).toHaveLength(1);
  });

  it('a wrong-expected-revision is a conflict for that stream only; the other streams are appended', async () => {
    const store = await storeWith([
      reg('a1'), reg('a2'), reg('a3'),
      spawn('a1', 's1', 41), spawn('a2', 's2', 42), spawn('a3', 's3', 43),
    ]);
    const flaky = withAppend(store, (stream, events, options) => (stream === 'agent-a2' ? Promise.reject(conflict(stream)) : store.appendToStream(stream, events, options)));
    const dead = { alive: false } as const;
    const pass = await reconcileOnce(flaky, { config: SPEC4, observe: () => ({ pids: { 41: dead, 42: dead, 43: dead } }), now: at(60) });
    expect(pass.appended.map((d) => d.agentId)).toEqual(['a1', 'a3']);
    expect(pass.conflicts.map((d) => d.agentId)).toEqual(['a2']);
    expect(pass.metrics).toEqual(metrics({ passes: 1, decided: 3, appended: 2, conflicts: 1, corrections: { 'dead-pid': 2 } }));
  });

  it.each([
    ['a plain error', new Error('disk full')],
    ['a RollcallError of another code', new RollcallError('store-unavailable', 'store down')],
    ['a look-alike with the conflict code that is no RollcallError', Object.assign(new Error('look-alike'), { code: 'wrong-expected-revision' })],
  ])('any other append failure (%s) fails the pass with that very error', async (_name, error) => {
    const store = await storeWith([reg('a1'), spawn('a1', 's1', 42)]);
    const failing = withAppend(store, () => Promise.reject(error));
    await expect(reconcileOnce(failing, { config: SPEC4, observe: () => ({ pids: { 42: { alive: false } } }), now: at(60) })).rejects.toBe(error);
  });

  it('reports the live sessions on its host whose pid could not be checked, in the view’s order', async () => {
    const store = await storeWith([
      ...['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((a) => reg(a)),
      spawn('a1', 's1', 51, 1, 'me'),
      spawn('a2', 's2', 52),
      spawn('a3', 's3', 53, 1, 'other'),
      spawn('a4', 's4', 54, 1, 'me'),
      spawn('a5', 's5', 55, 1, 'me'),
      spawn('a6', 's6', 56, 1, 'me'),
      ev('SessionEnded', { agentId: 'a6', sessionId: 's6', reason: 'done' }, { at: 2 }),
    ]);
    const observations: Observations = {
      host: 'me',
      pids: {
        51: { alive: null, detail: 'cannot check: kill(0) failed with EINVAL' },
        52: { alive: null },
        53: { alive: null, detail: 'other host' },
        54: { alive: true },
        55: { alive: false },
        56: { alive: null, detail: 'ended' },
      },
    };
    const pass = await reconcileOnce(store, { config: SPEC4, observe: () => observations, now: at(60), host: 'me' });
    expect(pass.unchecked).toEqual([
      { agentId: 'a1', sessionId: 's1', pid: 51, detail: 'cannot check: kill(0) failed with EINVAL' },
      { agentId: 'a2', sessionId: 's2', pid: 52, detail: 'cannot check' },
    ]);
    expect(pass.metrics).toEqual(metrics({ passes: 1, decided: 1, appended: 1, unchecked: 2, corrections: { 'dead-pid': 1 } }));
  });

  it('hands the observer the view and the host; the host defaults to os.hostname()', async () => {
    const store = await storeWith([reg('a1')]);
    const seen: Array<[ProjectionJson, { host: string }]> = [];
    const observe = (view: ProjectionJson, context: { host: string }) => {
      seen.push([view, context]);
      return {};
    };
    const one = await reconcileOnce(store, { config: SPEC4, observe, host: 'node-7', now: at(1) });
    const two = await reconcileOnce(store, { config: SPEC4, observe, now: at(1) });
    expect(seen[0]![0]).toBe(one.view);
    expect(seen.map(([, c]) => c)).toEqual([{ host: 'node-7' }, { host: hostname() }]);
    expect(two.view).toEqual(one.view);
  });

  it('decides at `now` when given, else at the wall clock', async () => {
    const events = [reg('a1'), ev('SessionStarting', { agentId: 'a1', sessionId: 's1' }, { at: '2020-01-01T00:00:00.000Z' })];
    const given = await reconcileOnce(await storeWith(events), { config: SPEC4, observe: () => ({}), now: '2020-01-01T00:10:00.001Z' });
    expect(given.appended.map((d) => d.event.metadata.at)).toEqual(['2020-01-01T00:10:00.001Z']);
    expect(given.appended[0]!.event.metadata['observed']).toMatchObject({ startingForMs: 600_001 });

    const from = Date.now();
    const wall = await reconcileOnce(await storeWith(events), { config: SPEC4, observe: () => ({}) });
    const to = Date.now();
    expect(wall.appended).toHaveLength(1);
    const atMs = Date.parse(wall.appended[0]!.event.metadata.at);
    expect(atMs).toBeGreaterThanOrEqual(from);
    expect(atMs).toBeLessThanOrEqual(to);
  });

  it('passes the config to decide', async () => {
    const store = await storeWith([reg('a1'), ev('SessionStarting', { agentId: 'a1', sessionId: 's1' }, { at: 0 })]);
    expect((await reconcileOnce(store, { observe: () => ({}), now: at(61), config: { ...SPEC4, startingTimeoutMs: 60_000, reasons: { startTimeout: 'slow' } } })).appended.map((d) => d.event.data))
      .toEqual([{ agentId: 'a1', sessionId: 's1', reason: 'slow' }]);
  });

  it('the default observer checks pids on the given host only (2^31 - 1 is above any Linux pid_max: no such process)', async () => {
    const store = await storeWith([reg('a1'), reg('a2'), spawn('a1', 's1', 2_147_483_647, 1, 'me'), spawn('a2', 's2', 2_147_483_646, 1, 'elsewhere')]);
    const pass = await reconcileOnce(store, { config: SPEC4, host: 'me', now: at(60) });
    expect(pass.observations).toEqual({ host: 'me', pids: { 2147483647: { alive: false, detail: 'no such process (ESRCH)' } } });
    expect(pass.appended.map((d) => [d.rule, d.sessionId])).toEqual([['dead-pid', 's1']]);
  });

  it('builds its view with the given retention window', async () => {
    const events = [reg('a1'), spawn('a1', 's1', 42), ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' }, { at: 2 }), reg('a2', 100)];
    const short = await reconcileOnce(await storeWith(events), { config: SPEC4, observe: () => ({}), now: at(200), retentionMs: 1000 });
    const full = await reconcileOnce(await storeWith(events), { config: SPEC4, observe: () => ({}), now: at(200) });
    expect(Object.keys(short.view.sessions)).toEqual([]);
    expect(Object.keys(full.view.sessions)).toEqual(['s1']);
  });

  it('fails on an undecodable stored event unless told to skip it (then it is an anomaly)', async () => {
    const store = await storeWith([reg('a1'), ev('SessionStarting', { agentId: 'a1', sessionId: 's1' }, { at: 0 })]);
    await store.appendToStream('agent-a1', [{ id: '00000000-0000-4000-8000-00000000bad1', type: 'NotAnEvent', data: {}, metadata: { at: at(1) } } as unknown as LifecycleEvent]);
    await expect(reconcileOnce(store, { config: SPEC4, observe: () => ({}), now: at(20 * MIN) })).rejects.toBeInstanceOf(RollcallError);
    await expect(reconcileOnce(store, { config: SPEC4, observe: () => ({}), now: at(20 * MIN), skipInvalid: false })).rejects.toBeInstanceOf(RollcallError);
    const pass = await reconcileOnce(store, { config: SPEC4, observe: () => ({}), now: at(20 * MIN), skipInvalid: true });
    expect(pass.view.anomalies.byReason).toEqual({ 'invalid-event': 1 });
    expect(pass.appended.map((d) => d.rule)).toEqual(['start-timeout']);
  });
});

describe('runReconciler', () => {
  const history = () => [reg('a1'), spawn('a1', 's1', 42)];
  const dead: Observations = { pids: { 42: { alive: false } } };

  it('runs without onPass, stamps each pass with its clock, and returns the cumulative metrics', async () => {
    const store = await storeWith(history());
    const controller = new AbortController();
    let calls = 0;
    const total = await runReconciler(store, { config: SPEC4,
      everyMs: 0,
      signal: controller.signal,
      clock: () => at(100 + calls),
      observe: () => {
        if (++calls === 2) controller.abort();
        return dead;
      },
    });
    expect(total).toEqual(metrics({ passes: 2, decided: 1, appended: 1, corrections: { 'dead-pid': 1 } }));
    const crashed = (await storedEvents(store)).filter((e) => e.type === 'AgentCrashed');
    expect(crashed.map((e) => e.metadata['at'])).toEqual([at(100)]);
  });

  it('without a clock, each pass is at the wall clock', async () => {
    const store = await storeWith(history());
    const controller = new AbortController();
    const from = Date.now();
    await runReconciler(store, { config: SPEC4,
      everyMs: 0,
      signal: controller.signal,
      observe: () => {
        controller.abort();
        return dead;
      },
    });
    const to = Date.now();
    const atMs = Date.parse(String((await storedEvents(store)).find((e) => e.type === 'AgentCrashed')!.metadata['at']));
    expect(atMs).toBeGreaterThanOrEqual(from);
    expect(atMs).toBeLessThanOrEqual(to);
  });

  it('hands onPass each pass and the running total, the same total object it returns', async () => {
    const store = await storeWith(history());
    const controller = new AbortController();
    const seen: Array<[number, number]> = [];
    let totalSeen: ReconcileMetrics | undefined;
    const total = await runReconciler(store, { config: SPEC4,
      everyMs: 0,
      signal: controller.signal,
      clock: () => at(100),
      observe: () => dead,
      onPass: (pass, cumulative) => {
        seen.push([pass.appended.length, cumulative.passes]);
        totalSeen = cumulative;
        if (cumulative.passes === 3) controller.abort();
      },
    });
    expect(seen).toEqual([[1, 1], [0, 2], [0, 3]]);
    expect(totalSeen).toBe(total);
  });

  it('a failed pass goes to onError (the very error) and is not counted; the loop goes on', async () => {
    const store = await storeWith(history());
    const controller = new AbortController();
    const boom = new Error('observer down');
    const errors: unknown[] = [];
    let calls = 0;
    const total = await runReconciler(store, { config: SPEC4,
      everyMs: 0,
      signal: controller.signal,
      clock: () => at(100),
      observe: () => {
        calls++;
        if (calls <= 2) throw boom;
        controller.abort();
        return dead;
      },
      onError: (e) => errors.push(e),
    });
    expect(errors).toEqual([boom, boom]);
    expect(errors[0]).toBe(boom);
    expect(total).toEqual(metrics({ passes: 1, decided: 1, appended: 1, corrections: { 'dead-pid': 1 } }));
  });

  it('without onError the first failure rejects with that error, with or without a signal', async () => {
    const store = await storeWith(history());
    const boom = new Error('boom');
    await expect(runReconciler(store, { config: SPEC4, everyMs: 0, observe: () => { throw boom; } })).rejects.toBe(boom);
    await expect(runReconciler(store, { config: SPEC4, everyMs: 0, signal: new AbortController().signal, observe: () => { throw boom; } })).rejects.toBe(boom);
  });

  it('an already aborted signal: no pass at all', async () => {
    const controller = new AbortController();
    controller.abort();
    let calls = 0;
    const total = await runReconciler(await storeWith(history()), { everyMs: 0, signal: controller.signal, observe: () => (calls++, dead) });
    expect(total).toEqual(metrics());
    expect(calls).toBe(0);
  });
});

describe('recoverOnStartup', () => {
  const fleet = () => [
    ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 3 }, { at: 0 }),
    reg('dead'), reg('quiet'), reg('stuck'),
    ev('AgentSpawned', { agentId: 'dead', sessionId: 's-dead', poolId: 'p1', pid: 11 }, { at: 1 }),
    ev('AgentConnected', { agentId: 'quiet', connectionId: 'c' }, { at: 1 }),
    ev('AgentSpawned', { agentId: 'quiet', sessionId: 's-quiet', poolId: 'p1', pid: 12 }, { at: 1 }),
    ev('AgentDisconnected', { agentId: 'quiet', connectionId: 'c' }, { at: 2 }),
    ev('SessionStarting', { agentId: 'stuck', sessionId: 's-stuck', poolId: 'p1' }, { at: 3 }),
  ];
  const observe = () => ({ pids: { 11: { alive: false }, 12: { alive: true } } });
  const alwaysConflicting = (store: EventStore) => withAppend(store, (stream) => Promise.reject(conflict(stream)));

  it('appends exactly the corrections for sessions a crash left live, and returns the view replayed after them', async () => {
    const store = await storeWith(fleet());
    const before = await viewOf(store);
    const result = await recoverOnStartup(store, { observe, now: at(30 * MIN) });
    const decided = decide(before, observe(), at(30 * MIN), { disconnectGraceMs: null, suspectAfterMs: null });
    expect(result.appended).toEqual(decided);
    expect(result.appended.map((d) => [d.rule, d.event.type, d.agentId, d.sessionId])).toEqual([
      ['dead-pid', 'AgentCrashed', 'dead', 's-dead'],
      ['start-timeout', 'SessionStartFailed', 'stuck', 's-stuck'],
    ]);
    expect(result.metrics).toEqual(metrics({ passes: 1, decided: 2, appended: 2, corrections: { 'dead-pid': 1, 'start-timeout': 1 } }));
    expect((await storedEvents(store)).filter((e) => e.metadata['source'] === 'rollcall-reconciler').map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'AgentCrashed', data: { agentId: 'dead', reason: 'Process no longer alive (PID check)', pid: 11 } },
      { type: 'SessionStartFailed', data: { agentId: 'stuck', sessionId: 's-stuck', reason: 'start_timeout' } },
    ]);
    expect(result.view).toEqual(await viewOf(store));
    expect(result.view.running).toEqual(['quiet']);
    expect(result.view.sessions['s-dead']).toMatchObject({ state: 'terminated', terminationReason: 'Process no longer alive (PID check)', endedAt: at(30 * MIN) });
    expect(result.view.sessions['s-stuck']).toMatchObject({ state: 'failed', terminationReason: 'start_timeout' });
  });

  it('keeps the disconnect rule off when the config sets other things, and on only when asked', async () => {
    const off = await recoverOnStartup(await storeWith(fleet()), { observe, now: at(30 * MIN), config: { startingTimeoutMs: null } });
    expect(off.appended.map((d) => [d.rule, d.agentId])).toEqual([['dead-pid', 'dead']]);
    const on = await recoverOnStartup(await storeWith(fleet()), { observe, now: at(30 * MIN), config: { disconnectGraceMs: 30_000 } });
    expect(on.appended.map((d) => [d.rule, d.agentId])).toEqual([['dead-pid', 'dead'], ['agent-disconnected', 'quiet'], ['start-timeout', 'stuck']]);
  });

  it('tries 3 passes by default while every pass conflicts, or maxPasses; 0 passes still returns the view', async () => {
    const store = await storeWith(fleet());
    const stuck = alwaysConflicting(store);
    const three = await recoverOnStartup(stuck, { observe, now: at(30 * MIN) });
    expect(three.metrics).toEqual(metrics({ passes: 3, decided: 6, conflicts: 6 }));
    expect(three.appended).toEqual([]);
    expect((await recoverOnStartup(stuck, { observe, now: at(30 * MIN), maxPasses: 1 })).metrics).toEqual(metrics({ passes: 1, decided: 2, conflicts: 2 }));
    const none = await recoverOnStartup(stuck, { observe, now: at(30 * MIN), maxPasses: 0 });
    expect(none.metrics).toEqual(metrics());
    expect(none.view).toEqual(await viewOf(store));
  });

  it('stops after the first pass without conflicts', async () => {
    const store = await storeWith(fleet());
    let calls = 0;
    const result = await recoverOnStartup(store, { observe: () => (calls++, observe()), now: at(30 * MIN), maxPasses: 5 });
    expect(calls).toBe(1);
    expect(result.metrics.passes).toBe(1);
  });

  it('stamps the corrections with `now`, else with the wall clock', async () => {
    const store = await storeWith(fleet());
    await recoverOnStartup(store, { observe, now: at(30 * MIN) });
    expect((await storedEvents(store)).filter((e) => e.metadata['source'] === 'rollcall-reconciler').map((e) => e.metadata['at'])).toEqual([at(30 * MIN), at(30 * MIN)]);

    const store2 = await storeWith(fleet());
    const from = Date.now();
    const result = await recoverOnStartup(store2, { observe });
    const to = Date.now();
    expect(result.appended).toHaveLength(2);
    for (const d of result.appended) {
      expect(Date.parse(d.event.metadata.at)).toBeGreaterThanOrEqual(from);
      expect(Date.parse(d.event.metadata.at)).toBeLessThanOrEqual(to);
    }
  });

  it('the view it returns is a strict replay too: an undecodable event written during recovery fails it', async () => {
    const store = await storeWith(fleet());
    const bogus = { id: '00000000-0000-4000-8000-00000000bad3', type: 'NotAnEvent', data: {}, metadata: { at: at(5) } } as unknown as LifecycleEvent;
    const racing = async () => {
      await store.appendToStream('agent-other', [bogus]);
      return observe();
    };
    await expect(recoverOnStartup(store, { observe: racing, now: at(30 * MIN) })).rejects.toBeInstanceOf(RollcallError);
    expect((await storedEvents(store)).filter((e) => e.metadata['source'] === 'rollcall-reconciler')).toHaveLength(2);
  });

  it('passes host, retention and skipInvalid on, to its passes and to the view it returns', async () => {
    const store = await storeWith([...fleet(), ev('SessionEnded', { agentId: 'quiet', sessionId: 's-quiet', reason: 'done' }, { at: 4 }), reg('late', 100)]);
    await store.appendToStream('agent-late', [{ id: '00000000-0000-4000-8000-00000000bad2', type: 'NotAnEvent', data: {}, metadata: { at: at(101) } } as unknown as LifecycleEvent]);
    await expect(recoverOnStartup(store, { observe, now: at(30 * MIN) })).rejects.toBeInstanceOf(RollcallError);
    const hosts: string[] = [];
    const result = await recoverOnStartup(store, {
      observe: (_v, { host }) => (hosts.push(host), observe()),
      host: 'boot-host',
      now: at(30 * MIN),
      retentionMs: 1000,
      skipInvalid: true,
    });
    expect(hosts).toEqual(['boot-host']);
    expect(result.appended.map((d) => d.agentId)).toEqual(['dead', 'stuck']);
    // s-quiet ended more than 1 s before the newest event (the corrections at 30 min): it left the view.
    expect(Object.keys(result.view.sessions)).toEqual(['s-dead', 's-stuck']);
    expect(result.view.anomalies.byReason).toEqual({ 'invalid-event': 1 });
  });
});
