import { describe, expect, it } from 'vitest';
import { agent, ended, ev, foldView, given, pool, spawned, starting } from '../support/lifecycle.js';

const reg = agent('a1');

describe('session transitions (SPEC §2 table)', () => {
  it('SessionStarting creates a starting session that already holds a pool slot', () =>
    given(pool('p1', 2), reg, starting('a1', 's1', 'p1')).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'starting', agentId: 'a1', poolId: 'p1', pid: null });
      expect(v.pools['p1']!.status).toEqual({
        activeCount: 1, availableSlots: 1, overCapacityBy: 0, activeByType: { worker: 1 }, activeAgentIds: ['a1'],
      });
      expect(v.running).toEqual(['a1']);
    }));

  it('AgentSpawned on a new session starts it running with its pid', () =>
    given(reg, spawned('a1', 's1', { pid: 42, poolId: 'p1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'running', pid: 42, poolId: 'p1' });
      expect(v.agents['a1']).toMatchObject({ status: 'running', pid: 42, currentSessionId: 's1' });
    }));

  it('AgentSpawned moves a starting session to running', () =>
    given(reg, starting('a1', 's1', 'p1'), spawned('a1', 's1', { pid: 7 })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'running', pid: 7, poolId: 'p1' });
    }));

  it('a repeated AgentSpawned on a running session only updates the pid', () =>
    given(reg, spawned('a1', 's1', { pid: 7 }), spawned('a1', 's1', { pid: 8 })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'running', pid: 8 });
      expect(v.anomalies.count).toBe(0);
    }));

  it('AgentSpawned resumes a suspended session', () =>
    given(reg, spawned('a1', 's1', { pid: 7 }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), spawned('a1', 's1', { pid: 9 })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'running', pid: 9 });
    }));

  it('AgentSpawned on a terminating session is an invalid transition', () =>
    given(reg, spawned('a1', 's1'), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }), spawned('a1', 's1')).thenAnomaly('invalid-transition'));

  it('SessionStartFailed fails a starting session with its reason', () =>
    given(pool('p1'), reg, starting('a1', 's1', 'p1'), ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'no image' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'failed', terminationReason: 'no image' });
      expect(v.sessions['s1']!.endedAt).not.toBeNull();
      expect(v.pools['p1']!.status.activeCount).toBe(0);
      expect(v.agents['a1']).toMatchObject({ status: 'idle', lastExitReason: 'no image' });
    }));

  it('SessionStartFailed on a running session is an invalid transition', () =>
    given(reg, spawned('a1', 's1'), ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'x' })).thenAnomaly('invalid-transition'));

  it('SessionSuspended clears the pid and frees the pool slot, keeping the session', () =>
    given(pool('p1'), reg, spawned('a1', 's1', { pid: 5, poolId: 'p1' }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'suspended', pid: null });
      expect(v.pools['p1']!.status.availableSlots).toBe(1);
      expect(v.agents['a1']).toMatchObject({ status: 'idle', currentSessionId: 's1', pid: null });
      expect(v.running).toEqual([]);
    }));

  it('SessionSuspended on a starting session is an invalid transition', () =>
    given(reg, starting('a1', 's1'), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })).thenAnomaly('invalid-transition'));

  it('SessionResumed runs a suspended session again with its new pid', () =>
    given(reg, spawned('a1', 's1', { pid: 5 }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), ev('SessionResumed', { agentId: 'a1', sessionId: 's1', pid: 6 })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'running', pid: 6 });
      expect(v.agents['a1']).toMatchObject({ status: 'running', pid: 6 });
    }));

  it('SessionResumed on a running session is an invalid transition', () =>
    given(reg, spawned('a1', 's1'), ev('SessionResumed', { agentId: 'a1', sessionId: 's1' })).thenAnomaly('invalid-transition'));

  it('SessionTerminationRequested marks a running session terminating since the event time; it still holds its slot', () => {
    const req = ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' });
    return given(pool('p1'), reg, spawned('a1', 's1', { poolId: 'p1' }), req).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminating', terminatingSince: req.metadata.at });
      expect(v.pools['p1']!.status.activeCount).toBe(1);
      expect(v.running).toEqual(['a1']);
    });
  });

  it('SessionTerminationRequested on a starting session marks it terminating', () =>
    given(reg, starting('a1', 's1'), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s1']!.state).toBe('terminating');
    }));

  it('SessionTerminationRequested on a suspended session terminates it at once', () =>
    given(reg, spawned('a1', 's1'), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'termination_requested' });
      expect(v.agents['a1']!.currentSessionId).toBeNull();
    }));

  it('SessionTerminationRequested twice is an invalid transition', () =>
    given(reg, spawned('a1', 's1'), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })).thenAnomaly('invalid-transition'));

  it.each(['starting', 'running', 'suspended', 'terminating'] as const)('SessionEnded terminates a %s session', (from) => {
    const setup = {
      starting: [starting('a1', 's1', 'p1')],
      running: [spawned('a1', 's1', { poolId: 'p1' })],
      suspended: [spawned('a1', 's1', { poolId: 'p1' }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })],
      terminating: [spawned('a1', 's1', { poolId: 'p1' }), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })],
    }[from];
    return given(pool('p1'), reg, ...setup, ended('a1', 's1', 'completed')).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'completed', pid: null });
      expect(v.pools['p1']!.status).toMatchObject({ activeCount: 0, availableSlots: 1, activeAgentIds: [] });
      expect(v.agents['a1']!.status).toBe('idle');
    });
  });

  it('a second end of an ended session is an invalid transition', () =>
    given(reg, spawned('a1', 's1'), ended('a1', 's1'), ended('a1', 's1', 'again')).thenAnomaly('invalid-transition', (v) => {
      expect(v.sessions['s1']!.terminationReason).toBe('done');
    }));

  it('SessionNotFound terminates the session with reason not_found and takes the agent out of the running set (seed 002)', () =>
    given(reg, spawned('a1', 's1', { pid: 3 }), ev('SessionNotFound', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'not_found' });
      expect(v.running).toEqual([]);
      expect(v.agents['a1']).toMatchObject({ status: 'idle', pid: null, currentSessionId: null, lastExitReason: 'not_found' });
      expect(v.agents['a1']!.stoppedAt).not.toBeNull();
    }));

  it('SessionNotFound on a suspended session terminates it, so a replay cannot resume it', () =>
    given(reg, spawned('a1', 's1'), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), ev('SessionNotFound', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s1']!.state).toBe('terminated');
      expect(v.agents['a1']!.currentSessionId).toBeNull();
    }));

  it('SessionReset terminates the session with reason reset and raises the generation', () =>
    given(reg, spawned('a1', 's1', { generation: 1 }), ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 2 })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'reset' });
      expect(v.agents['a1']).toMatchObject({ generation: 2, status: 'idle' });
    }));

  it('SessionReset raises the generation even when the session already ended', () =>
    given(reg, spawned('a1', 's1'), ended('a1', 's1'), ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 3 })).then((v) => {
      expect(v.agents['a1']!.generation).toBe(3);
      expect(v.sessions['s1']!.terminationReason).toBe('done');
      expect(v.anomalies.count).toBe(0);
    }));
});

describe('agent-wide events', () => {
  const suspendedAndRunning = [
    spawned('a1', 's0', { poolId: 'p1' }),
    ev('SessionSuspended', { agentId: 'a1', sessionId: 's0' }),
  ];

  it('AgentStopped without resumable terminates every live and suspended session', () =>
    given(pool('p1'), reg, ...suspendedAndRunning, spawned('a1', 's1', { poolId: 'p1' }), ev('AgentStopped', { agentId: 'a1' })).then((v) => {
      expect(v.sessions['s0']).toMatchObject({ state: 'terminated', terminationReason: 'stopped' });
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'stopped' });
      expect(v.agents['a1']).toMatchObject({ status: 'idle', lastExitReason: 'stopped', currentSessionId: null });
      expect(v.pools['p1']!.status.activeCount).toBe(0);
    }));

  it('AgentStopped with resumable suspends running and starting sessions, keeps suspended ones, ends terminating ones', () =>
    given(
      reg, agent('a2'),
      ...suspendedAndRunning, spawned('a1', 's1'),
      spawned('a2', 's2'), ev('SessionTerminationRequested', { agentId: 'a2', sessionId: 's2' }),
      ev('AgentStopped', { agentId: 'a1', resumable: true, reason: 'host sleep' }),
      ev('AgentStopped', { agentId: 'a2', resumable: true, reason: 'host sleep' }),
    ).then((v) => {
      expect(v.sessions['s0']).toMatchObject({ state: 'suspended' });
      expect(v.sessions['s1']).toMatchObject({ state: 'suspended', pid: null });
      expect(v.sessions['s2']).toMatchObject({ state: 'terminated', terminationReason: 'host sleep' });
      expect(v.agents['a1']).toMatchObject({ status: 'idle', currentSessionId: 's1', lastExitReason: 'host sleep' });
    }));

  it('AgentCrashed without a pid terminates every live session but leaves suspended ones', () =>
    given(reg, ...suspendedAndRunning, spawned('a1', 's1', { pid: 10 }), ev('AgentCrashed', { agentId: 'a1', reason: 'Process no longer alive (PID check)' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'Process no longer alive (PID check)' });
      expect(v.sessions['s0']!.state).toBe('suspended');
      expect(v.agents['a1']).toMatchObject({ lastExitReason: 'Process no longer alive (PID check)', status: 'idle' });
    }));

  it('AgentCrashed with the live pid releases the pool slot (seed 000: pool stays full after PID check)', () =>
    given(
      pool('el-rmw5', 1), agent('el-5d6n', 'worker', 'ephemeral'),
      spawned('el-5d6n', 's-1', { poolId: 'el-rmw5', pid: 4242 }),
      ev('AgentCrashed', { agentId: 'el-5d6n', reason: 'Process no longer alive (PID check)', pid: 4242 }),
    ).then((v) => {
      expect(v.pools['el-rmw5']!.status).toEqual({
        activeCount: 0, availableSlots: 1, overCapacityBy: 0, activeByType: {}, activeAgentIds: [],
      });
      expect(v.agents['el-5d6n']).toMatchObject({ status: 'idle', type: 'worker:ephemeral', lastExitReason: 'Process no longer alive (PID check)' });
    }));

  it('AgentRemoved ends every non-terminal session and marks the agent removed', () =>
    given(pool('p1'), reg, ...suspendedAndRunning, spawned('a1', 's1', { poolId: 'p1' }), ev('AgentRemoved', { agentId: 'a1', reason: 'decommissioned' })).then((v) => {
      expect(v.sessions['s0']).toMatchObject({ state: 'terminated', terminationReason: 'agent_removed' });
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'agent_removed' });
      expect(v.agents['a1']).toMatchObject({ status: 'removed', currentSessionId: null });
      expect(v.running).toEqual([]);
      expect(v.pools['p1']!.status.activeCount).toBe(0);
    }));

  it('AgentConnected and AgentDisconnected track the current connection', () => {
    const off = ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' });
    return given(reg, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }), off).then((v) => {
      expect(v.agents['a1']!.connection).toEqual({ connectionId: 'c1', state: 'disconnected', since: off.metadata.at });
    });
  });

  it('a disconnect ends no session (deciding that an agent is gone is the reconciler’s job)', () =>
    given(reg, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }), spawned('a1', 's1'), ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })).then((v) => {
      expect(v.sessions['s1']!.state).toBe('running');
      expect(v.running).toEqual(['a1']);
    }));

  it('lastSeenAt is the latest AgentConnected, AgentHeartbeat, AgentSpawned, SessionResumed, RunStarted or RunFinished', () => {
    const hb = ev('AgentHeartbeat', { agentId: 'a1' }, { at: 500 });
    return given(reg, spawned('a1', 's1', { generation: 1 }), hb, ev('AgentHeartbeat', { agentId: 'a1' }, { at: 100 })).then((v) => {
      expect(v.agents['a1']!.lastSeenAt).toBe(hb.metadata.at);
    });
  });

  it('startedAt and stoppedAt follow the agent in and out of running', () => {
    const sp = spawned('a1', 's1');
    const end = ended('a1', 's1');
    return given(reg, sp, end).then((v) => {
      expect(v.agents['a1']).toMatchObject({ startedAt: sp.metadata.at, stoppedAt: end.metadata.at, lastExitReason: 'done' });
    });
  });
});

describe('rule 1: derived, never counted', () => {
  it('an end that arrives for a session that was never counted cannot make a count negative', () =>
    given(pool('p1'), reg, spawned('a1', 's1'), ended('a1', 's1')).then((v) => {
      expect(v.pools['p1']!.status).toMatchObject({ activeCount: 0, availableSlots: 1 });
    }));

  it('pool occupancy is right whatever order pool and session events arrive in', async () => {
    const late = await foldView([agent('a1'), spawned('a1', 's1', { poolId: 'p1' }), pool('p1', 1)]);
    expect(late.pools['p1']!.status).toMatchObject({ activeCount: 1, availableSlots: 0, activeAgentIds: ['a1'] });
  });
});

describe('rule 2: terminal is final', () => {
  it('a terminated session is never revived by a later AgentSpawned', () =>
    given(reg, spawned('a1', 's1'), ended('a1', 's1'), spawned('a1', 's1')).thenAnomaly('invalid-transition', (v) => {
      expect(v.running).toEqual([]);
    }));

  it('a failed session is never resumed', () =>
    given(reg, starting('a1', 's1'), ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'x' }), ev('SessionResumed', { agentId: 'a1', sessionId: 's1' })).thenAnomaly('invalid-transition'));

  it('a session that left the view after the retention window stays final', async () => {
    const events = [reg, spawned('a1', 's1', {}), ended('a1', 's1'), ev('AgentHeartbeat', { agentId: 'a1' }, { at: 3 * 86400 })];
    const v = await foldView(events);
    expect(v.sessions['s1']).toBeUndefined();
    const revived = await foldView([...events, spawned('a1', 's1', {}, )].map((e, i) => (i === 4 ? { ...e, metadata: { at: new Date(Date.parse(events[3]!.metadata.at) + 1000).toISOString() } } : e)));
    expect(revived.running).toEqual([]);
    expect(revived.sessions['s1']).toBeUndefined();
    expect(revived.anomalies.recent.at(-1)?.reason).toBe('invalid-transition');
  });
});

describe('rule 3: keyed by session', () => {
  it('a late end of the previous session does not touch the current one', () =>
    given(pool('p1'), reg, spawned('a1', 's1', { poolId: 'p1' }), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), spawned('a1', 's2', { poolId: 'p1' }), ended('a1', 's1', 'late')).then((v) => {
      expect(v.sessions['s2']!.state).toBe('running');
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'late' });
      expect(v.pools['p1']!.status.activeAgentIds).toEqual(['a1']);
    }));

  it('a session event naming a different agent than the owner is ignored', () =>
    given(reg, agent('a2'), spawned('a1', 's1'), ended('a2', 's1')).thenAnomaly('session-agent-mismatch', (v) => {
      expect(v.sessions['s1']!.state).toBe('running');
    }));

  it('AgentSpawned reusing another agent’s session id is ignored', () =>
    given(reg, agent('a2'), spawned('a1', 's1'), spawned('a2', 's1')).thenAnomaly('session-agent-mismatch'));
});

describe('rule 4: idempotent', () => {
  it('an event whose id was already applied changes nothing', () => {
    const sp = spawned('a1', 's1', { pid: 1 });
    return given(reg, sp, spawned('a1', 's1', { pid: 2 }), sp).thenAnomaly('duplicate', (v) => {
      expect(v.sessions['s1']!.pid).toBe(2);
    });
  });

  it('SessionStarting on an existing session is an invalid transition', () =>
    given(reg, starting('a1', 's1'), starting('a1', 's1')).thenAnomaly('invalid-transition'));
});

describe('rule 5: event time only', () => {
  it('every time in the projection comes from metadata.at', () => {
    const sp = spawned('a1', 's1', {}, );
    return given(reg, sp).then((v) => {
      expect(v.sessions['s1']!.startedAt).toBe(sp.metadata.at);
      expect(v.agents['a1']!.startedAt).toBe(sp.metadata.at);
    });
  });
});

describe('rule 6: no phantoms', () => {
  it('events for an agent that was never registered create no state', () =>
    given(spawned('ghost', 's1')).thenAnomaly('unknown-agent', (v) => {
      expect(v.sessions).toEqual({});
      expect(v.agents).toEqual({});
    }));

  it('events for a removed agent create no state', () =>
    given(reg, ev('AgentRemoved', { agentId: 'a1' }), spawned('a1', 's9')).thenAnomaly('removed-agent'));

  it('registering a removed agent again is ignored: ids are never reused', () =>
    given(reg, ev('AgentRemoved', { agentId: 'a1' }), agent('a1')).thenAnomaly('removed-agent'));

  it('a session event for an unknown session is ignored', () =>
    given(reg, ended('a1', 'nope')).thenAnomaly('unknown-session'));

  it.each(['SessionSuspended', 'SessionNotFound', 'SessionTerminationRequested'] as const)('%s for an unknown session is ignored', (type) =>
    given(reg, ev(type, { agentId: 'a1', sessionId: 'nope' })).thenAnomaly('unknown-session'));

  it('a repeat AgentRegistered of an existing agent is ignored', () =>
    given(reg, agent('a1', 'steward')).thenAnomaly('agent-exists', (v) => {
      expect(v.agents['a1']!.role).toBe('worker');
    }));
});

describe('rule 7: generations fence stale work', () => {
  const run = (gen: number, sessionId = 's1') => ev('RunStarted', { agentId: 'a1', sessionId, generation: gen });
  const fin = (gen: number, sessionId = 's1') => ev('RunFinished', { agentId: 'a1', sessionId, generation: gen });

  it('RunStarted on a running session makes the agent busy; RunFinished of that generation ends it', async () => {
    await given(reg, spawned('a1', 's1'), run(0)).then((v) => {
      expect(v.busy).toEqual(['a1']);
      expect(v.agents['a1']!.busy).toBe(true);
    });
    await given(reg, spawned('a1', 's1'), run(0), fin(0)).then((v) => {
      expect(v.busy).toEqual([]);
    });
  });

  it('RunStarted on a session that is not running is an invalid transition', () =>
    given(reg, starting('a1', 's1'), run(0)).thenAnomaly('invalid-transition'));

  it('RunStarted with a lower generation is stale', () =>
    given(reg, spawned('a1', 's1', { generation: 2 }), run(1)).thenAnomaly('stale-generation'));

  it('RunFinished of an older generation is stale and leaves the current run busy', () =>
    given(reg, spawned('a1', 's1', { generation: 1 }), run(2), fin(1)).thenAnomaly('stale-generation', (v) => {
      expect(v.busy).toEqual(['a1']);
    }));

  it('AgentSpawned with a lower generation is stale', () =>
    given(reg, spawned('a1', 's1', { generation: 3 }), ended('a1', 's1'), spawned('a1', 's2', { generation: 2 })).thenAnomaly('stale-generation'));

  it('a SessionReset that does not raise the generation is stale', () =>
    given(reg, spawned('a1', 's1', { generation: 3 }), ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 3 })).thenAnomaly('stale-generation', (v) => {
      expect(v.sessions['s1']!.state).toBe('running');
    }));

  it('the generation is the highest seen in AgentSpawned, RunStarted or SessionReset', () =>
    given(reg, spawned('a1', 's1', { generation: 1 }), run(4), ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 6 })).then((v) => {
      expect(v.agents['a1']!.generation).toBe(6);
    }));

  it.each([
    ['an end', ended('a1', 's1')],
    ['a reset', ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 5 })],
    ['a stop', ev('AgentStopped', { agentId: 'a1', resumable: true })],
    ['a crash', ev('AgentCrashed', { agentId: 'a1', reason: 'oom' })],
    ['a not-found', ev('SessionNotFound', { agentId: 'a1', sessionId: 's1' })],
  ])('no busy flag outlives its session: %s ends the run', (_name, end) =>
    given(reg, spawned('a1', 's1'), run(0), end).then((v) => {
      expect(v.busy).toEqual([]);
      expect(v.agents['a1']!.busy).toBe(false);
    }));

  it('a reset zombie slot cannot stay busy: the run of the old generation no longer counts (seed 004)', () =>
    given(reg, spawned('a1', 's1', { generation: 1 }), run(1), ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 2 }), spawned('a1', 's2', { generation: 2 })).then((v) => {
      expect(v.busy).toEqual([]);
      expect(v.agents['a1']).toMatchObject({ currentSessionId: 's2', status: 'running', busy: false });
    }));

  it('RunFinished with no run in flight is an invalid transition', () =>
    given(reg, spawned('a1', 's1'), fin(0)).thenAnomaly('invalid-transition'));
});

describe('rule 8: pids fence stale crashes', () => {
  it('AgentCrashed with a pid that is not a live session’s pid is ignored', () =>
    given(reg, spawned('a1', 's1', { pid: 10 }), ended('a1', 's1'), spawned('a1', 's2', { pid: 11 }), ev('AgentCrashed', { agentId: 'a1', reason: 'dead', pid: 10 })).thenAnomaly('stale-pid', (v) => {
      expect(v.sessions['s2']!.state).toBe('running');
    }));

  it('AgentCrashed with the current pid ends only that session', () =>
    given(reg, spawned('a1', 's1', { pid: 11 }), ev('AgentCrashed', { agentId: 'a1', reason: 'dead', pid: 11 })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'dead' });
    }));
});

describe('rule 9: connections fence stale disconnects', () => {
  it('a disconnect of an old connection does not disconnect the current one (seed 001)', () =>
    given(reg, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }), ev('AgentConnected', { agentId: 'a1', connectionId: 'c2' }), ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })).thenAnomaly('stale-connection', (v) => {
      expect(v.agents['a1']!.connection).toMatchObject({ connectionId: 'c2', state: 'connected' });
    }));
});

describe('rule 10: pools', () => {
  it('directors do not count toward a pool', () =>
    given(pool('p1'), agent('d1', 'director'), spawned('d1', 's1', { poolId: 'p1' })).then((v) => {
      expect(v.pools['p1']!.status.activeCount).toBe(0);
      expect(v.running).toEqual(['d1']);
    }));

  it('a disabled pool has no available slots but still counts', () =>
    given(pool('p1', 3), reg, spawned('a1', 's1', { poolId: 'p1' }), ev('PoolUpdated', { poolId: 'p1', enabled: false })).then((v) => {
      expect(v.pools['p1']!.status).toMatchObject({ activeCount: 1, availableSlots: 0 });
      expect(v.pools['p1']!.enabled).toBe(false);
    }));

  it('shrinking a pool below its occupancy reports overCapacityBy', () =>
    given(pool('p1', 2), reg, agent('a2', 'steward'), spawned('a1', 's1', { poolId: 'p1' }), spawned('a2', 's2', { poolId: 'p1' }), ev('PoolUpdated', { poolId: 'p1', maxSize: 1 })).then((v) => {
      expect(v.pools['p1']!.status).toEqual({
        activeCount: 2, availableSlots: 0, overCapacityBy: 1, activeByType: { worker: 1, steward: 1 }, activeAgentIds: ['a1', 'a2'],
      });
    }));

  it('agentTypes is dispatcher configuration and does not filter what a pool counts', () =>
    given(pool('p1', 2, { agentTypes: ['steward'] }), reg, spawned('a1', 's1', { poolId: 'p1' })).then((v) => {
      expect(v.pools['p1']).toMatchObject({ agentTypes: ['steward'], status: { activeCount: 1 } });
    }));

  it('a deleted pool leaves the projection; its sessions are untouched; the id may be created again', () =>
    given(pool('p1', 2), reg, spawned('a1', 's1', { poolId: 'p1' }), ev('PoolDeleted', { poolId: 'p1' }), pool('p1', 5)).then((v) => {
      expect(v.sessions['s1']!.state).toBe('running');
      expect(v.pools['p1']).toMatchObject({ maxSize: 5, status: { activeCount: 1, availableSlots: 4 } });
    }));

  it('PoolUpdated of an unknown pool is ignored', () => given(ev('PoolUpdated', { poolId: 'nope', maxSize: 3 })).thenAnomaly('unknown-pool'));
  it('PoolDeleted of an unknown pool is ignored', () => given(ev('PoolDeleted', { poolId: 'nope' })).thenAnomaly('unknown-pool'));
  it('PoolCreated of an existing pool is ignored', () =>
    given(pool('p1', 2), pool('p1', 9)).thenAnomaly('pool-exists', (v) => {
      expect(v.pools['p1']!.maxSize).toBe(2);
    }));
});

describe('rule 11: one live session per agent', () => {
  it('a new live session supersedes the agent’s other live session, so a lost end cannot leave a ghost slot', () =>
    given(pool('p1', 2), reg, spawned('a1', 's1', { poolId: 'p1' }), spawned('a1', 's2', { poolId: 'p1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'superseded' });
      expect(v.pools['p1']!.status).toMatchObject({ activeCount: 1, activeAgentIds: ['a1'] });
      expect(v.agents['a1']!.currentSessionId).toBe('s2');
    }));

  it('a resumed session supersedes the live one; suspended sessions stay suspended', () =>
    given(reg, spawned('a1', 's1'), ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }), starting('a1', 's2'), spawned('a1', 's3'), ev('SessionResumed', { agentId: 'a1', sessionId: 's1' })).then((v) => {
      expect(v.sessions['s2']).toMatchObject({ state: 'terminated', terminationReason: 'superseded' });
      expect(v.sessions['s3']).toMatchObject({ state: 'terminated', terminationReason: 'superseded' });
      expect(v.sessions['s1']!.state).toBe('running');
      expect(v.agents['a1']!.currentSessionId).toBe('s1');
    }));

  it('a terminating session is superseded too (seed 003: stuck terminating cannot hold a slot forever)', () =>
    given(pool('p1', 1), reg, spawned('a1', 's1', { poolId: 'p1' }), ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }), spawned('a1', 's2', { poolId: 'p1' })).then((v) => {
      expect(v.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'superseded' });
      expect(v.pools['p1']!.status.activeCount).toBe(1);
    }));
});

describe('SPEC §3 view', () => {
  it('terminal sessions stay in the view for the retention window, then leave it', async () => {
    const events = [reg, spawned('a1', 's1', {}, ), ended('a1', 's1', 'done')];
    const endAt = Date.parse(events[2]!.metadata.at);
    const hb = (ms: number) => ev('AgentHeartbeat', { agentId: 'a1' }, { at: new Date(ms).toISOString() });
    expect((await foldView([...events, hb(endAt + 86_400_000)])).sessions['s1']).toBeDefined();
    expect((await foldView([...events, hb(endAt + 86_400_001)])).sessions['s1']).toBeUndefined();
    expect((await foldView([...events, hb(endAt + 3_600_001)], { retentionMs: 3_600_000 })).sessions['s1']).toBeUndefined();
  });

  it('position is the last processed event, as a decimal string, or null before any event', async () => {
    expect((await foldView([])).position).toBeNull();
    expect((await foldView([reg, ended('a1', 'x')])).position).toBe('2');
  });

  it('anomalies keep the newest 100 and count all of them', async () => {
    const events = Array.from({ length: 150 }, (_, i) => ended('ghost', `s${i}`));
    const v = await foldView(events);
    expect(v.anomalies.count).toBe(150);
    expect(v.anomalies.byReason).toEqual({ 'unknown-agent': 150 });
    expect(v.anomalies.recent).toHaveLength(100);
    expect(v.anomalies.recent[0]!.position).toBe('51');
    expect(v.anomalies.recent[99]!.position).toBe('150');
  });

  it('prints the seed 000 pool exactly as services expect it', async () => {
    const v = await foldView([
      pool('el-rmw5', 1, { name: 'test', agentTypes: [] }),
      agent('el-5d6n', 'worker', 'ephemeral'),
      spawned('el-5d6n', 's-1', { poolId: 'el-rmw5', pid: 4242 }),
    ]);
    expect(v.pools['el-rmw5']).toEqual({
      poolId: 'el-rmw5', name: 'test', maxSize: 1, agentTypes: [], enabled: true,
      status: { activeCount: 1, availableSlots: 0, overCapacityBy: 0, activeByType: { 'worker:ephemeral': 1 }, activeAgentIds: ['el-5d6n'] },
    });
  });
});
