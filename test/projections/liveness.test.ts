import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent, RecordedEvent } from '../../src/events/lifecycleEvents.js';
import { cloneLifecycleState, isLive, leaseExpiresAt, type LifecycleState } from '../../src/projections/lifecycleState.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { runs } from '../support/runs.js';
import { trackLifecycleChanges } from '../../src/projections/lifecycleChanged.js';
import { createLifecycleProjection, SESSIONS_KEPT_TYPES } from '../../src/projections/lifecycleProjection.js';
import { agent, ev, foldState, foldView, given, pool, record, spawned, starting, T0 } from '../support/lifecycle.js';

// SPEC §7: restart epochs, leases, suspects and crash-loop quarantine. Every case also runs with
// every event delivered twice (`given`), which must change nothing but the duplicate count.

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends { metadata: { at: string } }>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const restart = (host: string, epoch: number, adopted?: Array<{ agentId: string; sessionId: string; pid?: number }>) =>
  ev('OrchestratorStarted', adopted === undefined ? { host, epoch } : { host, epoch, adopted });
const beat = (agentId: string) => ev('AgentHeartbeat', { agentId });
const crash = (agentId: string) => ev('AgentCrashed', { agentId, reason: 'exit code 1' });

describe('restart epochs and adoption (SPEC §7.1)', () => {
  const fleet = [
    pool('p1', 3),
    agent('a1'),
    agent('a2'),
    agent('a3'),
    agent('a4'),
    agent('a5'),
    restart('h1', 1),
    spawned('a1', 's1', { poolId: 'p1', host: 'h1', pid: 11, epoch: 1 }),
    spawned('a2', 's2', { poolId: 'p1', host: 'h1', pid: 12 }),
    spawned('a3', 's3', { poolId: 'p1', host: 'h2', pid: 13 }),
    spawned('a4', 's4', { host: 'h1', pid: 14 }),
    ev('SessionSuspended', { agentId: 'a4', sessionId: 's4' }),
    spawned('a5', 's5', { poolId: 'p1' }),
  ];

  it('a host announces its epoch: the view lists it with its live sessions', () =>
    given(...fleet).then((v) => {
      expect(v.hosts).toEqual({ h1: { host: 'h1', epoch: 1, startedAt: fleet[6]!.metadata.at, liveSessions: 2 } });
      expect(v.sessions.s1!.epoch).toBe(1);
      expect(v.sessions.s2!.epoch).toBeNull();
    }));

  it('a restart ends the live sessions of its host it does not adopt, in the same event, and frees their slots', () => {
    const r = restart('h1', 2, [{ agentId: 'a1', sessionId: 's1', pid: 21 }]);
    return given(...fleet, r).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', pid: 21, epoch: 2 });
      expect(v.sessions.s2).toMatchObject({ state: 'terminated', terminationReason: 'orchestrator_restarted', endedAt: r.metadata.at, pid: null });
      expect(v.agents.a2).toMatchObject({ status: 'idle', stoppedAt: r.metadata.at, lastExitReason: 'orchestrator_restarted' });
      // Another host's session, a suspended one and one with no host are untouched.
      expect(v.sessions.s3!.state).toBe('running');
      expect(v.sessions.s4!.state).toBe('suspended');
      expect(v.sessions.s5!.state).toBe('running');
      expect(v.pools.p1!.status.activeAgentIds).toEqual(['a1', 'a3', 'a5']);
      expect(v.hosts.h1).toMatchObject({ epoch: 2, startedAt: r.metadata.at, liveSessions: 1 });
    });
  });

  it('an adoption that names a session of another agent adopts nothing', () =>
    given(...fleet, restart('h1', 2, [{ agentId: 'a9', sessionId: 's1' }])).then((v) => {
      expect(v.sessions.s1!.terminationReason).toBe('orchestrator_restarted');
    }));

  // Found by the restart property: adoption was keyed by session id alone, so a later entry naming
  // the same session id under another agent hid the right one and the session was ended.
  it('an adoption entry naming another agent with the same session id does not hide the right one', () =>
    given(...fleet, restart('h1', 2, [{ agentId: 'a1', sessionId: 's1', pid: 21 }, { agentId: 'a9', sessionId: 's1' }])).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', pid: 21, epoch: 2 });
    }));

  it('an epoch not above the current one is stale-epoch, and changes nothing', () => given(...fleet, restart('h1', 1)).thenAnomaly('stale-epoch'));

  it.each([
    ['RunStarted', () => ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0, epoch: 1 })],
    ['RunFinished', () => ev('RunFinished', { agentId: 'a1', sessionId: 's1', generation: 0, epoch: 1 })],
    ['SessionEnded', () => ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done', epoch: 1 })],
    ['AgentSpawned', () => spawned('a1', 's1', { host: 'h1', pid: 99, epoch: 1 })],
  ])('fencing: a %s naming an older epoch than its host is stale-epoch', (_type, late) => {
    const adopt = restart('h1', 2, [{ agentId: 'a1', sessionId: 's1' }]);
    const run = ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 });
    return given(...fleet, run, adopt, late()).thenAnomaly('stale-epoch');
  });

  it('a completion from before a restart cannot finish the session the restart ended either: stale-epoch, not a second end', () =>
    given(...fleet, restart('h1', 2), ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done', epoch: 1 })).thenAnomaly('stale-epoch'));

  it('a resume naming an older epoch is stale-epoch', () =>
    given(...fleet, restart('h1', 2), ev('SessionResumed', { agentId: 'a4', sessionId: 's4', host: 'h1', epoch: 1 })).thenAnomaly('stale-epoch'));

  it('events without an epoch are not fenced', () =>
    given(...fleet, restart('h1', 2, [{ agentId: 'a1', sessionId: 's1' }]), ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' })).then((v) => {
      expect(v.sessions.s1!.state).toBe('terminated');
    }));

  it("a session's epoch is that of the event that last made it live", () =>
    given(...fleet, restart('h1', 2), ev('SessionResumed', { agentId: 'a4', sessionId: 's4', host: 'h1', epoch: 2 })).then((v) => {
      expect(v.sessions.s4).toMatchObject({ state: 'running', epoch: 2 });
    }));

  // Found by the invariant property (seed 599270643): an epoch counts one host's restarts, so a
  // session moved to another host by a repeated AgentSpawned keeps only the epoch that event names.
  it('a repeated AgentSpawned that moves a running session to another host keeps only its own epoch, never the old one', () =>
    given(
      ...fleet,
      restart('h2', 3),
      spawned('a5', 's5', { poolId: 'p1', host: 'h2' }),
      spawned('a1', 's1', { host: 'h3', epoch: 4 }),
    ).then((v) => {
      expect(v.sessions.s5).toMatchObject({ state: 'running', host: 'h2', epoch: null });
      expect(v.sessions.s1).toMatchObject({ state: 'running', host: 'h3', epoch: 4 });
      expect(v.hosts.h2!.liveSessions).toBe(1);
      expect(v.hosts.h1!.liveSessions).toBe(1);
    }));

  it('a session with an epoch but no host, moved onto a host that restarted since, is not left older than that host', () =>
    given(
      agent('a1'),
      spawned('a1', 's1', { epoch: 1 }),
      restart('h1', 2),
      spawned('a1', 's1', { host: 'h1' }),
    ).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', host: 'h1', epoch: null });
    }));
});

describe('leases (SPEC §7.2)', () => {
  const base = [at(0, pool('p1', 2)), at(0, agent('a1')), at(0, agent('b1'))];

  it('a start with leaseMs holds its slot until at + leaseMs', () =>
    given(...base, at(10, ev('SessionStarting', { agentId: 'a1', sessionId: 's1', poolId: 'p1', leaseMs: 30_000 }))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'starting', leaseMs: 30_000, leaseExpiresAt: iso(40) });
    }));

  it('a heartbeat of the agent renews it, never backwards', () =>
    given(...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 })), at(25, beat('a1')), at(20, beat('a1'))).then((v) => {
      expect(v.sessions.s1!.leaseExpiresAt).toBe(iso(55));
    }));

  it('SessionLeaseRenewed renews it, with a new length when given', () =>
    given(
      ...base,
      at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 })),
      at(20, ev('SessionLeaseRenewed', { agentId: 'a1', sessionId: 's1', leaseMs: 60_000 })),
    ).then((v) => {
      expect(v.sessions.s1).toMatchObject({ leaseMs: 60_000, leaseExpiresAt: iso(80) });
    }));

  it('the clock passing the lease ends the session at its expiry, lease_expired, and frees the slot', () =>
    given(...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 })), at(41, beat('b1'))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'terminated', terminationReason: 'lease_expired', endedAt: iso(40) });
      expect(v.agents.a1).toMatchObject({ status: 'idle', stoppedAt: iso(40), lastExitReason: 'lease_expired' });
      expect(v.pools.p1!.status.activeAgentIds).toEqual([]);
    }));

  it('at exactly its expiry the lease still holds', () =>
    given(...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 })), at(40, beat('b1'))).then((v) => {
      expect(v.sessions.s1!.state).toBe('running');
    }));

  it('a renewal after expiry comes too late: invalid-transition', () =>
    given(...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 })), at(41, beat('b1')), at(42, ev('SessionLeaseRenewed', { agentId: 'a1', sessionId: 's1' }))).thenAnomaly(
      'invalid-transition',
    ));

  it('a heartbeat after expiry does not revive it', () =>
    given(...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 })), at(45, beat('a1'))).then((v) => {
      expect(v.sessions.s1!.state).toBe('terminated');
      expect(v.agents.a1!.lastSeenAt).toBe(iso(45));
    }));

  it('a renewal of a session without a lease, and without a length, is an invalid transition', () =>
    given(...base, at(10, spawned('a1', 's1')), at(11, ev('SessionLeaseRenewed', { agentId: 'a1', sessionId: 's1' }))).thenAnomaly('invalid-transition'));

  it('a suspended session holds no lease; a resume runs it again from the resume', () =>
    given(
      ...base,
      at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 })),
      at(20, ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })),
      at(100, beat('b1')),
      at(110, ev('SessionResumed', { agentId: 'a1', sessionId: 's1' })),
    ).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', leaseExpiresAt: iso(140) });
    }));

  it('a late start whose lease the clock has already passed ends at once', () =>
    given(...base, at(100, beat('b1')), at(10, ev('SessionStarting', { agentId: 'a1', sessionId: 's1', poolId: 'p1', leaseMs: 30_000 }))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'terminated', terminationReason: 'lease_expired', endedAt: iso(40) });
    }));

  it('sessions without leaseMs never lapse', () =>
    given(...base, at(10, spawned('a1', 's1', { poolId: 'p1' })), at(10_000, beat('b1'))).then((v) => {
      expect(v.sessions.s1).toMatchObject({ state: 'running', leaseMs: null, leaseExpiresAt: null });
    }));
});

describe('suspect before dead (SPEC §7.3)', () => {
  const base = [at(0, agent('a1')), at(10, spawned('a1', 's1'))];
  const suspect = (reason = 'silent') => ev('AgentSuspected', { agentId: 'a1', reason, observed: { lastSeenAt: iso(10) } });

  it('AgentSuspected marks the agent suspect; it keeps its slot', () =>
    given(...base, at(80, suspect())).then((v) => {
      expect(v.agents.a1).toMatchObject({ status: 'running', suspect: { since: iso(80), reason: 'silent' } });
    }));

  it('a second suspicion keeps when it began', () =>
    given(...base, at(80, suspect()), at(90, suspect('disconnected'))).then((v) => {
      expect(v.agents.a1!.suspect).toEqual({ since: iso(80), reason: 'silent' });
    }));

  it.each([
    ['AgentHeartbeat', () => beat('a1')],
    ['AgentConnected', () => ev('AgentConnected', { agentId: 'a1', connectionId: 'c' })],
    ['RunStarted', () => ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 })],
    ['SessionEnded', () => ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' })],
    ['SessionSuspended', () => ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })],
  ])('%s clears it', (_type, next) =>
    given(...base, at(80, suspect()), at(90, next())).then((v) => {
      expect(v.agents.a1!.suspect).toBeNull();
    }));

  it('an agent without a live session cannot be suspect: invalid-transition', () => given(agent('a1'), suspect()).thenAnomaly('invalid-transition'));
});

describe('crash-loop quarantine (SPEC §7.4)', () => {
  const life = (n: number, s: number) => [at(s, spawned('a1', `s${n}`)), at(s + 1, crash('a1'))];

  it('three abnormal ends within ten minutes quarantine the agent, from the third', () =>
    given(at(0, agent('a1')), ...life(1, 0), ...life(2, 100), ...life(3, 200)).then((v) => {
      expect(v.agents.a1!.quarantine).toEqual({ since: iso(201), reason: '3 abnormal ends within 600 s', ends: ['3', '5', '7'] });
      expect(v.quarantined).toEqual(['a1']);
    }));

  it('three spread over more than ten minutes do not', () =>
    given(at(0, agent('a1')), ...life(1, 0), ...life(2, 300), ...life(3, 602)).then((v) => {
      expect(v.agents.a1!.quarantine).toBeNull();
      expect(v.quarantined).toEqual([]);
    }));

  it('failed starts, sessions not found, lapsed leases and restarts count too', () =>
    given(
      at(0, agent('a1')),
      at(1, starting('a1', 's1')),
      at(2, ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'ENOENT' })),
      at(3, spawned('a1', 's2', { leaseMs: 1000 })),
      at(10, spawned('a1', 's3', { host: 'h' })),
      at(11, restart('h', 1)),
    ).then((v) => {
      expect(v.sessions.s2!.terminationReason).toBe('lease_expired');
      expect(v.agents.a1!.quarantine).toEqual({ since: iso(11), reason: '3 abnormal ends within 600 s', ends: ['3', '5', '6'] });
    }));

  it('ends count in event time: a late end older than the window pushes no newer end out', () =>
    given(at(0, agent('a1')), ...life(1, 300), ...life(2, 400), at(402, spawned('a1', 's3')), at(-500, crash('a1')), ...life(4, 499)).then((v) => {
      // 301, 401 and 500 are within ten minutes; the late end at -500 is not, and is dropped.
      expect(v.agents.a1!.quarantine).toEqual({ since: iso(500), reason: '3 abnormal ends within 600 s', ends: ['3', '5', '9'] });
    }));

  it('a late end within the window of the others completes the count: quarantined from it, ends in event-time order', () =>
    given(at(0, agent('a1')), ...life(1, 300), ...life(2, 400), at(402, spawned('a1', 's3')), at(0, crash('a1'))).then((v) => {
      expect(v.agents.a1!.quarantine).toEqual({ since: iso(0), reason: '3 abnormal ends within 600 s', ends: ['7', '3', '5'] });
    }));

  it('a start of a quarantined agent is applied, and recorded as quarantined-start', () =>
    given(at(0, agent('a1')), ...life(1, 0), ...life(2, 100), ...life(3, 200), at(300, spawned('a1', 's4'))).then((v) => {
      expect(v.sessions.s4!.state).toBe('running');
      expect(v.anomalies.byReason['quarantined-start']).toBe(1);
      expect(v.anomalies.recent.at(-1)).toMatchObject({ position: '8', reason: 'quarantined-start' });
    }));

  it('AgentReleased lifts it and restarts the count', () =>
    given(at(0, agent('a1')), ...life(1, 0), ...life(2, 100), ...life(3, 200), at(300, ev('AgentReleased', { agentId: 'a1', reason: 'fixed' })), ...life(4, 310), ...life(5, 320)).then((v) => {
      expect(v.agents.a1!.quarantine).toBeNull();
      expect(v.quarantined).toEqual([]);
      expect(v.anomalies.count).toBe(0);
    }));

  it('the threshold and window are projection options, and another value is another projection', async () => {
    const v = await foldView([at(0, agent('a1')), ...life(1, 0), ...life(2, 100)], { quarantineAfter: 2 });
    expect(v.quarantined).toEqual(['a1']);
    expect(createLifecycleProjection({ quarantineAfter: 2 }).name).toBe('lifecycle-quarantine-after-2');
    expect(createLifecycleProjection({ quarantineWindowMs: 60_000 }).name).toBe('lifecycle-quarantine-window-60000');
    expect(createLifecycleProjection().name).toBe('lifecycle');
  });
});

describe('the invariants hold through all of it', () => {
  it('check() finds nothing after a history with restarts, lapses and a crash loop', async () => {
    const events = [
      pool('p1', 2),
      agent('a1'),
      agent('a2'),
      at(1, restart('h', 1)),
      at(2, spawned('a1', 's1', { host: 'h', poolId: 'p1', pid: 1, epoch: 1, leaseMs: 5000 })),
      at(3, spawned('a2', 's2', { host: 'h', poolId: 'p1', pid: 2 })),
      at(4, restart('h', 2, [{ agentId: 'a1', sessionId: 's1' }])),
      at(20, beat('a2')),
      ...[30, 40, 50].flatMap((s, i) => [at(s, spawned('a2', `c${i}`)), at(s + 1, crash('a2'))]),
    ];
    const state = await foldState(events);
    expect(createLifecycleProjection().check(state)).toEqual([]);
    expect(state.agents.get('a2')!.quarantine).not.toBeNull();
  });
});

describe('changed names what the clock and a restart changed', () => {
  const track = (events: ReturnType<typeof ev>[]) => {
    const projection = createLifecycleProjection();
    const state = projection.initialState();
    const tracker = trackLifecycleChanges(projection, state);
    return record(events).map((e) => tracker.apply(e).changed);
  };

  it('a lease expiring names its session, agent and pool, on the event whose clock passed it', () => {
    const changes = track([at(0, pool('p1', 2)), at(0, agent('a1')), at(0, agent('b1')), at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 1000 })), at(20, beat('b1'))]);
    expect(changes[4]).toEqual({ pools: ['p1'], agents: ['a1', 'b1'], sessions: ['s1'] });
  });

  it('a restart names the sessions it ended or adopted, their agents and pools', () => {
    const changes = track([
      pool('p1', 2),
      agent('a1'),
      agent('a2'),
      spawned('a1', 's1', { poolId: 'p1', host: 'h' }),
      spawned('a2', 's2', { poolId: 'p1', host: 'h' }),
      restart('h', 1, [{ agentId: 'a1', sessionId: 's1' }]),
    ]);
    expect(changes[5]).toEqual({ pools: ['p1'], agents: ['a1', 'a2'], sessions: ['s1', 's2'] });
  });

  it('a quarantine starting names its agent', () => {
    const changes = track([agent('a1'), ...[0, 1, 2].flatMap((i) => [spawned('a1', `s${i}`), crash('a1')])]);
    expect(changes.at(-1)!.agents).toEqual(['a1']);
  });
});

describe('properties over random histories with restarts, leases, suspects and releases', { timeout: 120_000 }, () => {
  const foldSteps = (events: LifecycleEvent[], each: (before: LifecycleState | null, after: LifecycleState, e: RecordedEvent) => void) => {
    const projection = createLifecycleProjection();
    const state = projection.initialState();
    const seen = new Set<string>();
    for (const e of record(events)) {
      // Redeliveries are the reader's to drop (rule 4), as in a replay.
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      const before = e.type === 'OrchestratorStarted' ? cloneLifecycleState(state) : null;
      projection.apply(state, e);
      each(before, state, e);
    }
  };

  it('a lease never frees a slot before its expiry in event time, nor keeps it after', () => {
    fc.assert(
      fc.property(arbitraryHistory(), (events) => {
        foldSteps(events, (_before, state) => {
          const clock = state.newestAtMs!;
          for (const s of state.sessions.values()) {
            if (s.leaseExpiresMs === null) continue;
            const due = s.leaseExpiresMs;
            if (isLive(s.state)) expect(due).toBeGreaterThanOrEqual(clock);
            if (s.terminationReason === 'lease_expired' && s.endedAt === leaseExpiresAt(s)) expect(due).toBeLessThan(clock);
          }
        });
      }),
      { numRuns: runs(150) },
    );
  });

  // The premise of forAgentSessionsKept (no scan of the agent's sessions around these handlers):
  // an event of one of these types changes no session's state and no agent's open sessions, nor
  // whether, since when or why an agent runs, except through what the clock does around it
  // (a lapsed lease, an eviction), which the reducer reports.
  it('an event of a sessions-kept type changes no session state, open sessions or running times but through lapses and evictions', () => {
    fc.assert(
      fc.property(arbitraryHistory(), (events) => {
        const projection = createLifecycleProjection();
        const state = projection.initialState();
        const seen = new Set<string>();
        const touched = new Set<string>();
        const report = {
          evictedSession: (sessionId: string, agentId: string) => void touched.add(sessionId).add(agentId),
          evictedAgent: (agentId: string) => void touched.add(agentId),
          sessionAdopted: () => {},
          sessionEnded: (sessionId: string, agentId: string) => void touched.add(sessionId).add(agentId),
        };
        const agentsOf = (st: LifecycleState) =>
          new Map([...st.agents].map(([id, a]) => [id, JSON.stringify([a.openSessionIds, a.startedAt, a.stoppedAt, a.lastExitReason])]));
        const sessionsOf = (st: LifecycleState) => new Map([...st.sessions].map(([id, x]) => [id, x.state]));
        for (const e of record(events)) {
          if (seen.has(e.id)) continue;
          seen.add(e.id);
          const kept = SESSIONS_KEPT_TYPES.has(e.type);
          const agents = kept ? agentsOf(state) : null;
          const sessions = kept ? sessionsOf(state) : null;
          touched.clear();
          projection.applyReporting(state, e, report);
          if (!kept) continue;
          const after = agentsOf(state);
          for (const [id, before] of agents!) if (!touched.has(id)) expect(after.get(id), `${e.type} agent ${id}`).toBe(before);
          for (const [id, before] of sessions!) if (!touched.has(id)) expect(state.sessions.get(id)?.state, `${e.type} session ${id}`).toBe(before);
        }
      }),
      { numRuns: runs(150) },
    );
  });

  it('a restart frees exactly the live sessions of its host it does not adopt', () => {
    fc.assert(
      fc.property(arbitraryHistory(), (events) => {
        foldSteps(events, (before, after, e) => {
          if (before === null || e.type !== 'OrchestratorStarted') return;
          const d = e.data;
          const stale = (before.hosts.get(d.host)?.epoch ?? 0) >= d.epoch;
          const adopted = new Set((d.adopted ?? []).map((a) => `${a.agentId}/${a.sessionId}`));
          for (const [id, s] of before.sessions) {
            const now = after.sessions.get(id)!;
            // Leases the clock passed lapse first; those are not the restart's.
            if (now.terminationReason === 'lease_expired' && now.endedAt === leaseExpiresAt(now) && now.endedAt !== e.metadata.at) continue;
            const freed = isLive(s.state) && !isLive(now.state);
            const shouldFree = !stale && isLive(s.state) && s.host === d.host && !adopted.has(`${s.agentId}/${id}`);
            expect(freed, `${id}`).toBe(shouldFree);
            if (shouldFree) expect(now.terminationReason).toBe('orchestrator_restarted');
          }
        });
      }),
      { numRuns: runs(150) },
    );
  });
});
