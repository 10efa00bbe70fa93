import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events/decodeEvent.js';
import { MAX_PID } from '../../src/events/lifecycleEvents.js';
import { T0, agent, ended, ev, foldState, foldView, given, spawned, starting } from '../support/lifecycle.js';

// Behaviours that one-line mutations of the reducer and validation survived (issue 8, item 15):
// each case here fails on one of them.

const reg = agent('a1');
const H = 3_600; // seconds
const DAY = 24 * H;
const run = (gen: number, sessionId = 's1') => ev('RunStarted', { agentId: 'a1', sessionId, generation: gen });
const fin = (gen: number, sessionId = 's1') => ev('RunFinished', { agentId: 'a1', sessionId, generation: gen });
const suspended = (sessionId = 's1') => ev('SessionSuspended', { agentId: 'a1', sessionId });
const heartbeat = (agentId: string, at: number) => ev('AgentHeartbeat', { agentId }, { at });

describe('terminal sessions', () => {
  it('SessionEnded on a failed session is an invalid transition: it stays failed with its reason', () =>
    given(reg, starting('a1', 's1'), ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'no image' }), ended('a1', 's1', 'late')).thenAnomaly(
      'invalid-transition',
      (v) => expect(v.sessions['s1']).toMatchObject({ state: 'failed', terminationReason: 'no image' }),
    ));

  it('SessionNotFound on a failed session is an invalid transition', () =>
    given(reg, starting('a1', 's1'), ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'x' }), ev('SessionNotFound', { agentId: 'a1', sessionId: 's1' })).thenAnomaly('invalid-transition'));
});

describe('runs and busy (rule 7)', () => {
  it('RunFinished naming another (suspended) session of the agent does not end the run in flight', () =>
    given(reg, spawned('a1', 's0'), suspended('s0'), spawned('a1', 's1'), run(0), fin(0, 's0')).thenAnomaly('invalid-transition', (v) => {
      expect(v.busy).toEqual(['a1']);
    }));

  it('RunFinished naming an ended session of the agent does not end the run in the live one', () =>
    given(reg, spawned('a1', 's0'), ended('a1', 's0'), spawned('a1', 's1'), run(0), fin(0, 's0')).thenAnomaly('invalid-transition', (v) => {
      expect(v.busy).toEqual(['a1']);
    }));

  it('busy needs the current generation: a repeat AgentSpawned raising it leaves the old run not busy', () =>
    given(reg, spawned('a1', 's1', { generation: 1 }), run(1), spawned('a1', 's1', { generation: 2 })).then((v) => {
      expect(v.agents['a1']).toMatchObject({ generation: 2, busy: false, status: 'running' });
      expect(v.busy).toEqual([]);
    }));

  it('busy needs the current generation: a reset of an ended session raising it leaves the live run not busy', () =>
    given(reg, spawned('a1', 's0'), ended('a1', 's0'), spawned('a1', 's1', { generation: 1 }), run(1), ev('SessionReset', { agentId: 'a1', sessionId: 's0', generation: 2 })).then((v) => {
      expect(v.agents['a1']).toMatchObject({ generation: 2, busy: false, status: 'running' });
    }));

  it('a run does not survive suspend → resume: the resumed session is not busy', () =>
    given(reg, spawned('a1', 's1'), run(0), suspended(), ev('SessionResumed', { agentId: 'a1', sessionId: 's1', pid: 9 })).then((v) => {
      expect(v.sessions['s1']!.state).toBe('running');
      expect(v.busy).toEqual([]);
      expect(v.agents['a1']!.busy).toBe(false);
    }));

  it('after suspend → resume, RunFinished of the old run is an invalid transition', () =>
    given(reg, spawned('a1', 's1'), run(0), suspended(), ev('SessionResumed', { agentId: 'a1', sessionId: 's1' }), fin(0)).thenAnomaly('invalid-transition'));
});

describe('SessionReset', () => {
  // SPEC: the generation applies "even when the session is already terminal"; a session the
  // projection never saw is not "already terminal", so its reset is no evidence of anything.
  it('SessionReset of an unknown session is unknown-session and does not raise the generation', () =>
    given(reg, spawned('a1', 's1', { generation: 1 }), ev('SessionReset', { agentId: 'a1', sessionId: 'nope', generation: 5 })).thenAnomaly('unknown-session', (v) => {
      expect(v.agents['a1']!.generation).toBe(1);
    }));
});

describe('retention (SPEC §3)', () => {
  const endedLongAgo = [reg, agent('a2'), ev('AgentSpawned', { agentId: 'a1', sessionId: 's1' }, { at: 1 }), ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' }, { at: 2 }), heartbeat('a2', DAY + 10)];

  it.each([
    ['SessionEnded', ended('a1', 's1', 'late')],
    ['SessionNotFound', ev('SessionNotFound', { agentId: 'a1', sessionId: 's1' })],
    ['SessionSuspended', ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })],
    ['SessionResumed', ev('SessionResumed', { agentId: 'a1', sessionId: 's1' })],
    ['SessionTerminationRequested', ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })],
    ['SessionStartFailed', ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'x' })],
    ['SessionStarting', starting('a1', 's1')],
    ['AgentSpawned', spawned('a1', 's1')],
    ['SessionReset', ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 9 })],
    ['RunStarted', ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 })],
    ['RunFinished', ev('RunFinished', { agentId: 'a1', sessionId: 's1', generation: 0 })],
  ])('a late %s for an evicted session is an invalid transition, not unknown-session', (_type, late) =>
    given(...endedLongAgo, { ...late, metadata: { at: new Date(T0 + (DAY + 20) * 1000).toISOString() } }).thenAnomaly('invalid-transition', (v) => {
      expect(v.sessions['s1']).toBeUndefined();
      expect(v.running).toEqual([]);
    }));

  it('an evicted session really leaves the state: nothing of it is kept but its id', async () => {
    const state = await foldState(endedLongAgo);
    expect(state.sessions.has('s1')).toBe(false);
    expect(state.retiring).toEqual([]);
    expect(state.evictedSessions.has('s1')).toBe(true);
    expect(state.evictedSessions.size).toBe(1);
  });

  it('a terminal session is kept exactly until the window has passed its end', async () => {
    const base = [reg, agent('a2'), spawned('a1', 's1', {}), ended('a1', 's1')];
    const endMs = Date.parse(base[3]!.metadata.at);
    const at = (ms: number) => ev('AgentHeartbeat', { agentId: 'a2' }, { at: new Date(ms).toISOString() });
    expect((await foldState([...base, at(endMs + DAY * 1000)])).sessions.has('s1')).toBe(true);
    const after = await foldState([...base, at(endMs + DAY * 1000 + 1)]);
    expect(after.sessions.has('s1')).toBe(false);
    expect(after.retiring).toHaveLength(0);
  });

  it('removed agents leave the view after the retention window, and their id stays unusable', async () => {
    const removed = [reg, agent('a2'), ev('AgentRemoved', { agentId: 'a1' }, { at: 100 })];
    expect((await foldView([...removed, heartbeat('a2', 100 + DAY)])).agents['a1']).toMatchObject({ status: 'removed' });
    const gone = await foldState([...removed, heartbeat('a2', 100 + DAY + 1)]);
    expect(gone.agents.has('a1')).toBe(false);
    expect(gone.evictedAgents.has('a1')).toBe(true);
  });

  it('re-registering a removed agent after the retention window is still removed-agent', () =>
    given(reg, agent('a2'), ev('AgentRemoved', { agentId: 'a1' }, { at: 100 }), heartbeat('a2', 100 + DAY + 5), ev('AgentRegistered', { agentId: 'a1', role: 'steward' }, { at: 100 + DAY + 6 })).thenAnomaly(
      'removed-agent',
      (v) => expect(v.agents['a1']).toBeUndefined(),
    ));

  it('events for an evicted removed agent are removed-agent', () =>
    given(reg, agent('a2'), ev('AgentRemoved', { agentId: 'a1' }, { at: 100 }), heartbeat('a2', 100 + DAY + 5), spawned('a1', 's7')).thenAnomaly('removed-agent'));

  it('a late (older-`at`) event does not move the clock back: an end older than the window leaves at once', async () => {
    const events = [reg, agent('a2'), spawned('a2', 's2', {}), heartbeat('a1', 30 * H), ev('SessionEnded', { agentId: 'a2', sessionId: 's2', reason: 'late' }, { at: H })];
    const state = await foldState(events);
    expect(state.newestAt).toBe(events[3]!.metadata.at);
    expect(state.sessions.has('s2')).toBe(false);
    expect(state.evictedSessions.has('s2')).toBe(true);
  });

  it('a late event keeps newestAt: a later end is still kept for the full window', async () => {
    const events = [reg, spawned('a1', 's1', {}), heartbeat('a1', 30 * H), heartbeat('a1', H), ended('a1', 's1')];
    const state = await foldState([...events.slice(0, 4), { ...events[4]!, metadata: { at: new Date(T0 + 7 * H * 1000).toISOString() } }]);
    // Ended at 7 h, the clock is at 30 h: 23 h old, inside the window.
    expect(state.newestAt).toBe(events[2]!.metadata.at);
    expect(state.sessions.get('s1')!.state).toBe('terminated');
  });
});

describe('agent times and connection', () => {
  it('stoppedAt is cleared when the agent runs again', () => {
    const again = spawned('a1', 's2');
    return given(reg, spawned('a1', 's1'), ended('a1', 's1'), again).then((v) => {
      expect(v.agents['a1']).toMatchObject({ status: 'running', stoppedAt: null, startedAt: again.metadata.at, lastExitReason: 'done' });
    });
  });

  it('a resumable AgentStopped suspends a starting session (and frees its slot)', () =>
    given(ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 1 }), reg, starting('a1', 's1', 'p1'), ev('AgentStopped', { agentId: 'a1', resumable: true, reason: 'sleep' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'suspended', endedAt: null, terminationReason: null });
      expect(v.pools['p1']!.status.activeCount).toBe(0);
      expect(v.agents['a1']).toMatchObject({ status: 'idle', currentSessionId: 's1', lastExitReason: 'sleep' });
    }));

  it('AgentConnected alone sets lastSeenAt', () => {
    const c = ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' });
    return given(reg, c).then((v) => expect(v.agents['a1']!.lastSeenAt).toBe(c.metadata.at));
  });

  it('a repeated disconnect of the current connection does not move `since`', () => {
    const first = ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' }, { at: 50 });
    return given(reg, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }, { at: 40 }), first, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' }, { at: 60 })).then((v) => {
      expect(v.agents['a1']!.connection).toEqual({ connectionId: 'c1', state: 'disconnected', since: first.metadata.at });
    });
  });
});

describe('validation of ids and pids', () => {
  const at = '2026-11-20T10:00:00.000Z';
  const spawn = (data: Record<string, unknown>) => decodeEvent({ type: 'AgentSpawned', data: { agentId: 'a1', sessionId: 's1', ...data }, metadata: { at } });

  it.each([
    ['pid 0', { pid: 0 }, 'data.pid'],
    ['a negative pid', { pid: -4 }, 'data.pid'],
    ['a fractional pid', { pid: 1.5 }, 'data.pid'],
    ['a pid beyond pid_t (2^31)', { pid: 2 ** 31 }, 'data.pid'],
    ['a pid of 2^53', { pid: 2 ** 53 }, 'data.pid'],
    ['an empty agentId', { agentId: '' }, 'data.agentId'],
    ['an empty sessionId', { sessionId: '' }, 'data.sessionId'],
    ['an empty poolId', { poolId: '' }, 'data.poolId'],
    ['an empty host', { host: '' }, 'data.host'],
  ])('%s is rejected, naming the field', (_name, data, path) => {
    const r = spawn(data);
    expect(r.success).toBe(false);
    expect(!r.success && r.error.path).toBe(path);
  });

  it('the largest pid_t is accepted', () => {
    expect(spawn({ pid: MAX_PID }).success).toBe(true);
    expect(MAX_PID).toBe(2 ** 31 - 1);
  });

  it.each([
    ['AgentCrashed', { agentId: 'a1', reason: 'x', pid: 0 }],
    ['SessionResumed', { agentId: 'a1', sessionId: 's1', pid: 2 ** 31 }],
    ['AgentConnected', { agentId: 'a1', connectionId: '' }],
    ['PoolCreated', { poolId: '', name: 'p', maxSize: 1 }],
    ['AgentRegistered', { agentId: '', role: 'worker' }],
  ])('%s with an impossible pid or an empty id is rejected', (type, data) => {
    expect(decodeEvent({ type, data, metadata: { at } }).success).toBe(false);
  });
});

describe('late events for an evicted session, whatever else they carry', () => {
  it('a RunFinished of an older generation for an evicted session is an invalid transition (not stale-generation)', () =>
    given(
      reg, agent('a2'),
      ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', generation: 0 }, { at: 1 }),
      ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' }, { at: 2 }),
      ev('AgentSpawned', { agentId: 'a1', sessionId: 's2', generation: 3 }, { at: 3 }),
      ev('AgentHeartbeat', { agentId: 'a2' }, { at: DAY + 100 }),
      ev('RunFinished', { agentId: 'a1', sessionId: 's1', generation: 1 }, { at: DAY + 101 }),
    ).thenAnomaly('invalid-transition', (v) => expect(v.sessions['s1']).toBeUndefined()));
});
