import { describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import { checkInvariants } from '../../src/projections/checkInvariants.js';
import { createLifecycleProjection, lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { foldEvents } from '../../src/replay/foldEvents.js';
import { InvalidRecord } from '../../src/replay/replayItem.js';
import { agent, ended, ev, foldState, given, pool, record, spawned, starting } from '../support/lifecycle.js';

// Cases that mutants of the reducer survived in `npm run mutate` (2026-12-01): each fails on one.

const reg = agent('a1');
const H = 3_600; // seconds

describe('exit reasons (lastExitReason) when an agent stops running', () => {
  it.each([
    ['SessionSuspended', [spawned('a1', 's1'), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })], 'suspended'],
    ['SessionTerminationRequested of a suspended session', [spawned('a1', 's1'), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), ev('SessionResumed', { agentId: 'a1', sessionId: 's1' }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })], 'suspended'],
    ['SessionReset of the live session', [spawned('a1', 's1'), ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 1 })], 'reset'],
    ['AgentRemoved', [spawned('a1', 's1'), ev('AgentRemoved', { agentId: 'a1' })], 'agent_removed'],
  ] as const)('%s records why it stopped', (_name, events, reason) =>
    given(reg, ...events).then((v) => expect(v.agents['a1']!.lastExitReason).toBe(reason)));

  it('a suspended session terminated on request ends with termination_requested', () =>
    given(reg, spawned('a1', 's1'), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'termination_requested' });
      // It had stopped running when it was suspended: that is the exit the agent remembers.
      expect(v.agents['a1']!.lastExitReason).toBe('suspended');
    }));

  it('a session started and terminated on request while starting records termination_requested once it ends', () =>
    given(reg, starting('a1', 's1'), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }), ended('a1', 's1', 'gone')).then((v) => {
      expect(v.agents['a1']!.lastExitReason).toBe('gone');
    }));
});

describe('pools a session belongs to', () => {
  it('a pool created without agentTypes accepts every type: agentTypes is empty', () =>
    given(pool('p1', 2)).then((v) => expect(v.pools['p1']!.agentTypes).toEqual([])));

  it('AgentSpawned does not move a session SessionStarting placed in a pool', () =>
    given(reg, pool('p1'), pool('p2'), starting('a1', 's1', 'p1'), spawned('a1', 's1', { poolId: 'p2' })).then((v) => {
      expect(v.sessions['s1']!.poolId).toBe('p1');
      expect(v.pools['p1']!.status.activeCount).toBe(1);
      expect(v.pools['p2']!.status.activeCount).toBe(0);
    }));

  it('AgentSpawned places a session SessionStarting left without a pool', () =>
    given(reg, pool('p2'), starting('a1', 's1'), spawned('a1', 's1', { poolId: 'p2' })).then((v) => {
      expect(v.sessions['s1']!.poolId).toBe('p2');
      expect(v.pools['p2']!.status.activeCount).toBe(1);
    }));
});

describe('runs (rule 7)', () => {
  it('RunFinished naming a session never seen is unknown-session', () =>
    given(reg, spawned('a1', 's1'), ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 }), ev('RunFinished', { agentId: 'a1', sessionId: 'nope', generation: 0 })).thenAnomaly('unknown-session'));

  it('RunFinished of the right session but another generation does not end the run', () =>
    given(reg, spawned('a1', 's1', { generation: 1 }), ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 1 }), ev('RunFinished', { agentId: 'a1', sessionId: 's1', generation: 2 })).thenAnomaly(
      'invalid-transition',
      (v) => expect(v.busy).toEqual(['a1']),
    ));

  it('a session of the agent leaving the live states does not end a run in flight in another one', () =>
    given(
      reg,
      spawned('a1', 's0'),
      ev('SessionSuspended', { agentId: 'a1', sessionId: 's0' }),
      spawned('a1', 's1'),
      ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 }),
      ended('a1', 's0', 'cleanup'),
    ).then((v) => {
      expect(v.sessions['s0']!.state).toBe('terminated');
      expect(v.busy).toEqual(['a1']);
    }));
});

describe('crashes', () => {
  it('AgentCrashed without a pid, of an agent with no live session, changes nothing and is no anomaly', () =>
    given(reg, spawned('a1', 's1'), ended('a1', 's1'), ev('AgentCrashed', { agentId: 'a1', reason: 'oom' })).then((v) => {
      expect(v.anomalies.count).toBe(0);
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'done' });
    }));
});

describe('the clock', () => {
  it('lastSeenAt compares instants, not strings: an offset time earlier than the last one does not move it', () =>
    given(reg, ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T10:00:05.000Z' }), ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T11:00:04+01:00' })).then((v) =>
      expect(v.agents['a1']!.lastSeenAt).toBe('2026-11-20T10:00:05.000Z'),
    ));

  it.each([
    ['an offset time, then a later Z time that sorts lower as text', '2026-11-20T11:00:04+01:00', '2026-11-20T10:30:00.000Z'],
    ['a Z time without fractions, then a later one with', '2026-11-20T10:00:05Z', '2026-11-20T10:00:05.100Z'],
    ['two offsets of the same length, the later instant sorting lower', '2026-11-20T10:00:00+02:00', '2026-11-20T09:00:00+00:00'],
  ])('lastSeenAt takes the later instant: %s', (_name, first, later) =>
    given(reg, ev('AgentHeartbeat', { agentId: 'a1' }, { at: first }), ev('AgentHeartbeat', { agentId: 'a1' }, { at: later })).then((v) =>
      expect(v.agents['a1']!.lastSeenAt).toBe(later),
    ));

  it('lastSeenAt keeps the first writing of one instant', () =>
    given(reg, ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T10:00:05.000Z' }), ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T11:00:05+01:00' })).then((v) =>
      expect(v.agents['a1']!.lastSeenAt).toBe('2026-11-20T10:00:05.000Z'),
    ));

  it('lastSeenAt takes a later instant written with an offset', () =>
    given(reg, ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T10:00:05.000Z' }), ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T11:00:06+01:00' })).then((v) =>
      expect(v.agents['a1']!.lastSeenAt).toBe('2026-11-20T11:00:06+01:00'),
    ));

  it('an event at the same instant, written differently, keeps the clock as first written', async () => {
    const s = await foldState([reg, ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T10:00:05.000Z' }), ev('AgentHeartbeat', { agentId: 'a1' }, { at: '2026-11-20T11:00:05+01:00' })]);
    expect(s.newestAt).toBe('2026-11-20T10:00:05.000Z');
  });
});

describe('the projection object', () => {
  it('is named by its retention window, so snapshots of different windows never cross', () => {
    expect(lifecycleProjection.name).toBe('lifecycle');
    expect(createLifecycleProjection({ retentionMs: 24 * H * 1000 }).name).toBe('lifecycle');
    expect(createLifecycleProjection({ retentionMs: 60_000 }).name).toBe('lifecycle-retention-60000');
  });

  it('check() applies its own retention window, not the default', async () => {
    const retentionMs = 48 * H * 1000;
    const events = [reg, spawned('a1', 's1', {}), ended('a1', 's1'), ev('AgentHeartbeat', { agentId: 'a1' }, { at: 30 * H })];
    const state = await foldState(events, { retentionMs });
    // Ended 30 h before the newest event: still in a 48 h window, past a 24 h one.
    expect(state.sessions.has('s1')).toBe(true);
    expect(createLifecycleProjection({ retentionMs }).check(state)).toEqual([]);
    expect(checkInvariants(state).map((v) => v.invariant)).toContain('retention');
  });

  it('an undecodable event, skipped, is recorded as an invalid-event anomaly at its position', async () => {
    const items = [...record([reg]), new InvalidRecord(new RollcallError('invalid-event', 'line 2: bad'), 2n, 'x-id', 'AgentHeartbeat')];
    const { state } = await foldEvents(lifecycleProjection, [items], { skipInvalid: true });
    const v = lifecycleView(state);
    expect(v.position).toBe('2');
    expect(v.anomalies.recent).toEqual([{ position: '2', eventId: 'x-id', type: 'AgentHeartbeat', reason: 'invalid-event' }]);
    expect(v.agents['a1']).toBeDefined();
  });
});
