import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent, RecordedEvent } from '../../src/events/lifecycleEvents.js';
import { NOTHING_CHANGED, trackLifecycleChanges, type Changed } from '../../src/projections/lifecycleChanged.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { agent, ended, ev, pool, record, spawned, starting, T0 } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends LifecycleEvent>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const HOUR_MS = 3_600_000;
const HOUR = 3600;

const changed = (pools: string[], agents: string[], sessions: string[]): Changed => ({ pools, agents, sessions });

/** Applies the events through a fresh tracker (retention one hour), returning each one's `changed`. */
const track = (events: LifecycleEvent[], retentionMs = HOUR_MS) => {
  const projection = createLifecycleProjection({ retentionMs });
  const state = projection.initialState();
  const tracker = trackLifecycleChanges(projection, state);
  const recorded = record(events);
  return { state, tracker, recorded, changes: recorded.map((e) => tracker.apply(e).changed) };
};

describe('trackLifecycleChanges: pools', () => {
  it('create, update, a no-op update, delete, and an ignored create', () => {
    const { changes } = track([
      at(1, pool('p1', 2)),
      at(2, ev('PoolUpdated', { poolId: 'p1', maxSize: 3 })),
      at(3, ev('PoolUpdated', { poolId: 'p1', maxSize: 3, name: 'p1' })),
      at(4, ev('PoolUpdated', { poolId: 'p1', agentTypes: [] })),
      at(5, ev('PoolUpdated', { poolId: 'p1', agentTypes: ['w'] })),
      at(6, ev('PoolUpdated', { poolId: 'p1', agentTypes: ['w'] })),
      at(7, ev('PoolUpdated', { poolId: 'p1', agentTypes: ['v'] })),
      at(8, ev('PoolUpdated', { poolId: 'p1', agentTypes: ['v', 'w'] })),
      at(9, pool('p1', 5)),
      at(10, ev('PoolDeleted', { poolId: 'p1' })),
      at(11, ev('PoolDeleted', { poolId: 'p1' })),
    ]);
    expect(changes).toEqual([
      changed(['p1'], [], []),
      changed(['p1'], [], []),
      // Same values: nothing changed, arrays compared by content.
      NOTHING_CHANGED,
      NOTHING_CHANGED,
      changed(['p1'], [], []),
      NOTHING_CHANGED,
      changed(['p1'], [], []),
      changed(['p1'], [], []),
      // pool-exists, unknown-pool: ignored.
      NOTHING_CHANGED,
      changed(['p1'], [], []),
      NOTHING_CHANGED,
    ]);
  });

  it('NOTHING_CHANGED is one frozen value, returned as is', () => {
    const { changes } = track([at(1, ev('PoolDeleted', { poolId: 'nope' }))]);
    expect(changes[0]).toBe(NOTHING_CHANGED);
    expect(Object.isFrozen(NOTHING_CHANGED)).toBe(true);
    expect(Object.isFrozen(NOTHING_CHANGED.pools)).toBe(true);
    expect(NOTHING_CHANGED).toEqual(changed([], [], []));
  });
});

describe('trackLifecycleChanges: agents and sessions', () => {
  it('a session leaving the live states changes its pool; a deleted pool is not named', () => {
    const { changes } = track([
      at(1, pool('p1', 2)),
      at(2, agent('a1')),
      at(3, starting('a1', 's1')),
      // A live session taking a pool changes the pool.
      at(4, spawned('a1', 's1', { poolId: 'p1' })),
      at(5, ev('PoolDeleted', { poolId: 'p1' })),
      at(6, ended('a1', 's1')),
    ]);
    expect(changes.slice(2)).toEqual([changed([], ['a1'], ['s1']), changed(['p1'], ['a1'], ['s1']), changed(['p1'], [], []), changed([], ['a1'], ['s1'])]);
  });

  it('an agent-wide event names each open session it changed once, sorted, and its agent once', () => {
    const { changes } = track([
      at(1, pool('p1', 2)),
      at(2, agent('a1')),
      at(3, spawned('a1', 'sb', { poolId: 'p1' })),
      at(4, ev('SessionSuspended', { agentId: 'a1', sessionId: 'sb' })),
      at(5, spawned('a1', 'sa', { poolId: 'p1' })),
      at(6, ev('AgentStopped', { agentId: 'a1', reason: 'x' })),
    ]);
    expect(changes.at(-1)).toEqual(changed(['p1'], ['a1'], ['sa', 'sb']));
  });

  it('a supersede names both sessions, and the pools of both', () => {
    const { changes } = track([
      at(1, pool('p1', 2)),
      at(2, pool('p2', 2)),
      at(3, agent('a1')),
      at(4, spawned('a1', 's1', { poolId: 'p2' })),
      at(5, spawned('a1', 's2', { poolId: 'p1' })),
    ]);
    expect(changes.at(-1)).toEqual(changed(['p1', 'p2'], ['a1'], ['s1', 's2']));
  });

  it('a crash of the live session (not a suspended one) names the live one only', () => {
    const { changes } = track([
      at(1, agent('a1')),
      at(2, spawned('a1', 's1')),
      at(3, ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })),
      at(4, spawned('a1', 's2', { pid: 5 })),
      at(5, ev('AgentCrashed', { agentId: 'a1', reason: 'oom' })),
    ]);
    expect(changes.at(-1)).toEqual(changed([], ['a1'], ['s2']));
  });

  it('events that change nothing: a heartbeat at the same time, a repeated disconnect, an ignored event', () => {
    const { changes } = track([
      at(1, agent('a1')),
      at(2, ev('AgentHeartbeat', { agentId: 'a1' })),
      at(2, ev('AgentHeartbeat', { agentId: 'a1' })),
      at(3, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' })),
      at(4, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })),
      at(5, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })),
      at(6, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'other' })),
      at(7, ended('a1', 'nope')),
    ]);
    expect(changes).toEqual([
      changed([], ['a1'], []),
      changed([], ['a1'], []),
      NOTHING_CHANGED,
      changed([], ['a1'], []),
      changed([], ['a1'], []),
      NOTHING_CHANGED,
      NOTHING_CHANGED,
      NOTHING_CHANGED,
    ]);
    expect(changes[2]).toBe(NOTHING_CHANGED);
  });

  it('a change to a nested record (the run) is seen', () => {
    const { changes } = track([
      at(1, agent('a1')),
      at(2, spawned('a1', 's1')),
      at(2, ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 })),
      at(2, ev('RunFinished', { agentId: 'a1', sessionId: 's1', generation: 0 })),
      at(2, ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 })),
      at(2, ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 1 })),
    ]);
    // Same `at` throughout: lastSeenAt does not move, only the run does.
    expect(changes.slice(2)).toEqual([changed([], ['a1'], []), changed([], ['a1'], []), changed([], ['a1'], []), changed([], ['a1'], [])]);
  });

  it('a registration changes the agent, a second one nothing', () => {
    const { changes } = track([at(1, agent('a1')), at(2, agent('a1'))]);
    expect(changes).toEqual([changed([], ['a1'], []), NOTHING_CHANGED]);
  });
});

describe('trackLifecycleChanges: retention', () => {
  it('terminal sessions leave in the order they ended, each with its agent, whatever order they ended in', () => {
    // Ends out of time order (late events do not move the clock): the expiry heap orders them.
    const ends = [60, 10, 50, 20, 40, 30, 25];
    const events: LifecycleEvent[] = [at(1, agent('a1'))];
    for (const t of ends) events.push(at(2, spawned('a1', `s${t}`)), at(t, ended('a1', `s${t}`)));
    const { changes, tracker, recorded } = track(events);
    expect(changes.slice(-1)).toEqual([changed([], ['a1'], ['s25'])]);
    let position = BigInt(recorded.length);
    const beat = (t: number) => tracker.apply({ ...record([at(t, ev('AgentHeartbeat', { agentId: 'a1' }))])[0]!, position: ++position } as RecordedEvent).changed;
    // At exactly ended + window nothing leaves; one second later it does.
    expect(beat(10 + HOUR)).toEqual(changed([], ['a1'], []));
    expect(beat(11 + HOUR)).toEqual(changed([], ['a1'], ['s10']));
    expect(beat(21 + HOUR)).toEqual(changed([], ['a1'], ['s20']));
    expect(beat(35 + HOUR)).toEqual(changed([], ['a1'], ['s25', 's30']));
    expect(beat(41 + HOUR)).toEqual(changed([], ['a1'], ['s40']));
    expect(beat(61 + HOUR)).toEqual(changed([], ['a1'], ['s50', 's60']));
    expect(beat(62 + HOUR)).toEqual(changed([], ['a1'], []));
  });

  it('a pool event that moves the clock reports what leaves', () => {
    const { changes } = track([at(1, agent('a1')), at(2, spawned('a1', 's1')), at(3, ended('a1', 's1')), at(4 + HOUR, pool('p1', 1))]);
    expect(changes.at(-1)).toEqual(changed(['p1'], ['a1'], ['s1']));
  });

  it('a removed agent leaves on its own; an ignored event that moves the clock still reports it', () => {
    const { changes } = track([at(1, agent('r')), at(2, ev('AgentRemoved', { agentId: 'r' })), at(3 + HOUR, ev('AgentHeartbeat', { agentId: 'nobody' }))]);
    expect(changes).toEqual([changed([], ['r'], []), changed([], ['r'], []), changed([], ['r'], [])]);
  });

  it('started on a folded state, it queues the terminal sessions and removed agents still in the window', () => {
    const projection = createLifecycleProjection({ retentionMs: HOUR_MS });
    const events = record([
      at(1, agent('r')),
      at(2, agent('a1')),
      at(3, spawned('a1', 's1')),
      at(10, ended('a1', 's1')),
      at(20, ev('AgentRemoved', { agentId: 'r' })),
      at(30, spawned('a1', 's2')),
      at(15 + HOUR, ev('AgentHeartbeat', { agentId: 'a1' })),
      at(25 + HOUR, ev('AgentHeartbeat', { agentId: 'a1' })),
    ]);
    const state = projection.initialState();
    for (const e of events.slice(0, 6)) projection.apply(state, e);
    const tracker = trackLifecycleChanges(projection, state);
    expect(tracker.apply(events[6]!).changed).toEqual(changed([], ['a1'], ['s1']));
    expect(tracker.apply(events[7]!).changed).toEqual(changed([], ['a1', 'r'], []));
  });

  it('the default window is a day', () => {
    const projection = createLifecycleProjection();
    const state = projection.initialState();
    const tracker = trackLifecycleChanges(projection, state);
    const events = record([at(1, agent('a1')), at(2, spawned('a1', 's1')), at(3, ended('a1', 's1')), at(3 + 24 * HOUR, agent('b')), at(4 + 24 * HOUR, agent('c'))]);
    const changes = events.map((e) => tracker.apply(e).changed);
    expect(changes.slice(3)).toEqual([changed([], ['b'], []), changed([], ['a1', 'c'], ['s1'])]);
  });
});

describe('trackLifecycleChanges: invalid events and redeliveries', () => {
  it('an invalid event is an anomaly and changes nothing', () => {
    const { tracker, state } = track([]);
    expect(tracker.applyInvalid({ position: 4n, eventId: 'e', type: 'AgentHeartbeat', message: 'bad' })).toEqual({ position: 4n, type: 'AgentHeartbeat', changed: NOTHING_CHANGED });
    expect(tracker.applyInvalid({ position: 5n, eventId: null, type: null, message: 'bad' })).toEqual({ position: 5n, type: 'invalid', changed: NOTHING_CHANGED });
    expect(state.anomalies.byReason).toEqual({ 'invalid-event': 2 });
    expect(state.position).toBe(5n);
  });

  it('a redelivery is a duplicate anomaly; it changes nothing and the clock stays', () => {
    const { tracker, state, recorded } = track([at(1, agent('a1'))]);
    const late = { ...recorded[0]!, position: 2n, metadata: { at: iso(100) } } as RecordedEvent;
    expect(tracker.applyDuplicate(late)).toEqual({ position: 2n, type: 'AgentRegistered', changed: NOTHING_CHANGED });
    expect(state.anomalies.byReason).toEqual({ duplicate: 1 });
    expect(state.newestAt).toBe(iso(1));
  });

  it('apply reports the event position and type', () => {
    const { tracker } = track([]);
    const e = record([at(1, agent('a1'))])[0]!;
    expect(tracker.apply(e)).toEqual({ position: 1n, type: 'AgentRegistered', changed: changed([], ['a1'], []) });
  });
});

describe('trackLifecycleChanges: expiry, exactly', () => {
  /** Sessions ending at `ends` (seconds), then heartbeats `steps` apart: each reports exactly what left. */
  const checkExpiry = (ends: number[], steps: number[]) => {
    const events: LifecycleEvent[] = [at(1, agent('a1'))];
    ends.forEach((t, i) => events.push(at(2, spawned('a1', `s${i}`)), at(t, ended('a1', `s${i}`))));
    const { tracker, recorded } = track(events);
    let position = BigInt(recorded.length);
    const gone = new Set<number>();
    // Every end is before HOUR, so each beat moves the clock and the horizon sweeps across the ends.
    let now = HOUR;
    for (const step of steps) {
      now += step;
      const change = tracker.apply({ ...record([at(now, ev('AgentHeartbeat', { agentId: 'a1' }))])[0]!, position: ++position } as RecordedEvent).changed;
      const expected = ends.flatMap((t, i) => (!gone.has(i) && t < now - HOUR ? [i] : []));
      for (const i of expected) gone.add(i);
      expect(change.sessions).toEqual(expected.map((i) => `s${i}`).sort());
    }
  };

  it.each([
    [[5, 6, 5, 6], [6]],
    [[30, 10, 20, 5, 25, 15, 35, 1, 40, 12, 8, 33], Array(45).fill(1)],
    [Array.from({ length: 31 }, (_, i) => 100 - 3 * i), Array(110).fill(1)],
  ])('reports each terminal session at the first event whose horizon passes its end: ends %j', (ends, steps) => checkExpiry(ends, steps));

  it('the same for any order of ends', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 5, max: 3000 }), { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 30 }), checkExpiry),
      { numRuns: runs(100) },
    );
  });

  it('started on a folded state, a session ended exactly at the horizon is still queued and leaves one tick later', () => {
    const projection = createLifecycleProjection({ retentionMs: HOUR_MS });
    const events = record([
      at(1, agent('a1')),
      at(2, spawned('a1', 's1')),
      at(10, ended('a1', 's1')),
      at(10 + HOUR, ev('AgentHeartbeat', { agentId: 'a1' })),
      at(11 + HOUR, ev('AgentHeartbeat', { agentId: 'a1' })),
    ]);
    const state = projection.initialState();
    for (const e of events.slice(0, 4)) projection.apply(state, e);
    expect(state.sessions.has('s1')).toBe(true);
    const tracker = trackLifecycleChanges(projection, state);
    expect(tracker.apply(events[4]!).changed).toEqual(changed([], ['a1'], ['s1']));
  });

  it('a removed agent ended exactly at the horizon of a folded state is still queued', () => {
    const projection = createLifecycleProjection({ retentionMs: HOUR_MS });
    const events = record([at(1, agent('r')), at(10, ev('AgentRemoved', { agentId: 'r' })), at(10 + HOUR, agent('b')), at(11 + HOUR, agent('c'))]);
    const state = projection.initialState();
    for (const e of events.slice(0, 3)) projection.apply(state, e);
    const tracker = trackLifecycleChanges(projection, state);
    expect(tracker.apply(events[3]!).changed).toEqual(changed([], ['c', 'r'], []));
  });

  it('an event that changes a pooled live session without changing its liveness or pool names no pool', () => {
    const { changes } = track([
      at(1, pool('p1', 2)),
      at(2, agent('a1')),
      at(3, starting('a1', 's1', 'p1')),
      at(4, spawned('a1', 's1', { pid: 42 })),
      at(5, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })),
      at(6, ended('a1', 's1')),
    ]);
    expect(changes).toEqual([
      changed(['p1'], [], []),
      changed([], ['a1'], []),
      changed(['p1'], ['a1'], ['s1']),
      changed([], ['a1'], ['s1']),
      changed([], ['a1'], ['s1']),
      changed(['p1'], ['a1'], ['s1']),
    ]);
  });
});
