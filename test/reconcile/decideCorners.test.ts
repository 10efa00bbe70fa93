import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import type { AgentJson, ProjectionJson, SessionJson } from '../../src/projections/lifecycleView.js';
import { correctionId } from '../../src/reconcile/correctionId.js';
import { RECONCILER_SOURCE, decide, onObservedHost, pidFactOf, type Decision, type Observations, type PidObservation } from '../../src/reconcile/decide.js';
import type { ReconcileConfigInput } from '../../src/reconcile/reconcileConfig.js';
import { T0, ev, foldView } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

// decide is pure over a ProjectionJson: these build views by hand, so that every corner (an agent
// missing from the view, a removed agent with a live session, two live sessions of one agent, a
// starting session with a pid) is reachable, and pin whole decisions with toEqual.

/** ISO time `ms` milliseconds after T0. */
const t = (ms: number): string => new Date(T0 + ms).toISOString();
const SEC = 1000;
const MIN = 60 * SEC;

const session = (sessionId: string, agentId: string, over: Partial<SessionJson> = {}): SessionJson => ({
  sessionId, agentId, poolId: null, state: 'running', pid: null, host: null,
  startedAt: t(0), endedAt: null, terminatingSince: null, terminationReason: null, epoch: null, leaseMs: null, leaseExpiresAt: null, ...over,
});

const agentJson = (agentId: string, over: Partial<AgentJson> = {}): AgentJson => ({
  agentId, name: null, role: 'worker', type: 'worker', status: 'running', currentSessionId: null, pid: null, host: null,
  generation: 0, busy: false, connection: null, startedAt: t(0), stoppedAt: null, lastSeenAt: null, lastExitReason: null, suspect: null, quarantine: null, ...over,
});

/** A view holding these agents and sessions, in the order given (insertion order is the keys' order). */
const viewOf = (agents: AgentJson[], sessions: SessionJson[]): ProjectionJson => ({
  position: String(agents.length + sessions.length),
  pools: {},
  agents: Object.fromEntries(agents.map((a) => [a.agentId, a])),
  sessions: Object.fromEntries(sessions.map((s) => [s.sessionId, s])),
  running: [],
  busy: [],
  hosts: {},
  quarantined: [],
  anomalies: { count: 0, byReason: {}, recent: [] },
});

const dead = (detail?: string): PidObservation => (detail === undefined ? { alive: false } : { alive: false, detail });
const pids = (entries: Record<number, PidObservation>, host?: string): Observations => (host === undefined ? { pids: entries } : { host, pids: entries });
const disconnectedSince = (since: string) => ({ connectionId: 'c1', state: 'disconnected' as const, since });
const connectedSince = (since: string) => ({ connectionId: 'c1', state: 'connected' as const, since });

/** The decision decide must make, built independently of it. */
const expected = (
  nowMs: number,
  d: { rule: Decision['rule']; agentId: string; sessionId: string; pid: number | null; fact: string | null; type: string; data: Record<string, unknown>; observed: Record<string, unknown> },
): Decision => ({
  rule: d.rule,
  agentId: d.agentId,
  sessionId: d.sessionId,
  event: {
    id: correctionId({ rule: d.rule, agentId: d.agentId, sessionId: d.sessionId, pid: d.pid, fact: d.fact }),
    type: d.type,
    data: d.data,
    metadata: { at: t(nowMs), source: 'rollcall-reconciler', observed: { rule: d.rule, ...d.observed } },
  } as unknown as Decision['event'],
});

// The SPEC §4 rules, with suspicion (§7.3, test/reconcile/liveness.test.ts) off.
const run = (view: ProjectionJson, obs: Observations, nowMs: number, config?: ReconcileConfigInput) => decide(view, obs, t(nowMs), { suspectAfterMs: null, ...config });
const rulesOf = (ds: Decision[]) => ds.map((d) => [d.rule, d.agentId, d.sessionId]);

describe('onObservedHost / pidFactOf', () => {
  it.each([
    [null, undefined, true],
    [null, null, true],
    [null, 'me', true],
    ['me', 'me', true],
    ['me', undefined, false],
    ['me', null, false],
    ['other', 'me', false],
    ['', 'me', false],
  ] as const)('session host %j, observed on %j → %s', (host, observed, covered) => {
    const obs: Observations = observed === undefined ? {} : { host: observed };
    expect(onObservedHost(session('s1', 'a1', { host }), obs)).toBe(covered);
  });

  it('pidFactOf gives the very fact observed for the session’s pid on its host', () => {
    const fact = dead('zombie (state Z)');
    const obs = pids({ 42: fact, 43: { alive: true } }, 'me');
    expect(pidFactOf(session('s1', 'a1', { pid: 42, host: 'me' }), obs)).toBe(fact);
    expect(pidFactOf(session('s1', 'a1', { pid: 42 }), obs)).toBe(fact);
    expect(pidFactOf(session('s1', 'a1', { pid: 44, host: 'me' }), obs)).toBeUndefined();
    expect(pidFactOf(session('s1', 'a1', { pid: 42, host: 'other' }), obs)).toBeUndefined();
    expect(pidFactOf(session('s1', 'a1', { pid: 42 }), { host: 'me' })).toBeUndefined();
    expect(pidFactOf(session('s1', 'a1', { pid: 42 }), {})).toBeUndefined();
  });

  it('a session without a pid has no pid fact, even if the observations have an entry keyed "null"', () => {
    const odd = { host: 'me', pids: { null: dead() } as unknown as Record<number, PidObservation> };
    expect(pidFactOf(session('s1', 'a1', { pid: null }), odd)).toBeUndefined();
  });
});

describe('decide: `now`', () => {
  const view = viewOf([agentJson('a1')], [session('s1', 'a1', { state: 'starting' })]);

  it.each(['yesterday', '', '2026-11-20', '2026-11-20T10:00:00', '2026-11-20 10:00:00Z', 'Fri, 20 Nov 2026 10:00:00 GMT'])('rejects %j with a usage error naming it', (now) => {
    let caught: unknown;
    try {
      decide(view, {}, now);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RollcallError);
    expect((caught as RollcallError).code).toBe('usage');
    expect((caught as RollcallError).message).toBe(`reconcile: now must be an ISO-8601 time with a zone, got "${now}"`);
  });

  it('accepts a zone offset, measures from the instant it names, and records `now` verbatim', () => {
    // 11:10:00.001+01:00 is T0 + 10 min + 1 ms.
    const ds = decide(view, {}, '2026-11-20T11:10:00.001+01:00', { suspectAfterMs: null });
    expect(ds.map((d) => d.rule)).toEqual(['start-timeout']);
    expect(ds[0]!.event.metadata).toEqual({
      at: '2026-11-20T11:10:00.001+01:00', source: RECONCILER_SOURCE,
      observed: { rule: 'start-timeout', startedAt: t(0), startingForMs: 600_001, timeoutMs: 600_000, connection: 'unknown', lastSeenAt: null },
    });
    expect(decide(view, {}, '2026-11-20T11:10:00.000+01:00', { suspectAfterMs: null })).toEqual([]);
  });

  it('RECONCILER_SOURCE is the documented metadata.source', () => {
    expect(RECONCILER_SOURCE).toBe('rollcall-reconciler');
  });

  it('an empty view decides nothing; so does a view with no live session', () => {
    expect(run(viewOf([], []), {}, 0)).toEqual([]);
    const ended = ['suspended', 'terminated', 'failed'] as const;
    const view2 = viewOf(
      [agentJson('a1', { connection: disconnectedSince(t(0)) })],
      ended.map((state, i) => session(`s${i}`, 'a1', { state, pid: 40 + i, startedAt: t(0), terminatingSince: t(0) })),
    );
    expect(run(view2, pids({ 40: dead(), 41: dead(), 42: dead() }), 60 * MIN)).toEqual([]);
  });

  it('without a config it uses the defaults', () => {
    const view2 = viewOf([agentJson('a1')], [session('s1', 'a1', { state: 'starting' })]);
    expect(run(view2, {}, 10 * MIN + 1)).toEqual(run(view2, {}, 10 * MIN + 1, {}));
    expect(run(view2, {}, 10 * MIN + 1)).toHaveLength(1);
    expect(run(view2, {}, 10 * MIN)).toEqual([]);
  });
});

describe('decide: dead pid', () => {
  const a1 = agentJson('a1', { startedAt: t(1000), lastSeenAt: t(2000), connection: connectedSince(t(500)) });
  const s1 = session('s1', 'a1', { pid: 42, host: 'me', startedAt: t(1000) });

  it('a dead pid of a running session on this host → exactly this AgentCrashed', () => {
    expect(run(viewOf([a1], [s1]), pids({ 42: dead('no such process (ESRCH)') }, 'me'), 5000)).toEqual([
      expected(5000, {
        rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: t(1000), type: 'AgentCrashed',
        data: { agentId: 'a1', reason: 'Process no longer alive (PID check)', pid: 42 },
        observed: { pid: 42, host: 'me', alive: false, detail: 'no such process (ESRCH)', sessionState: 'running', lastSeenAt: t(2000) },
      }),
    ]);
  });

  it('its id is the fixed vector of (dead-pid, agent, session, pid, agent startedAt)', () => {
    const view = viewOf([agentJson('a1', { startedAt: '2026-11-20T10:00:01.000Z' })], [session('s1', 'a1', { pid: 42 })]);
    expect(run(view, pids({ 42: dead() }), 5000)[0]!.event.id).toBe('f4c8d5a3-460a-54d3-ac2e-a1dcc2ecde53');
  });

  it('no detail observed → detail null; no lastSeenAt anywhere → null', () => {
    const view = viewOf([agentJson('a1', { startedAt: null })], [session('s1', 'a1', { pid: 42, state: 'starting' })]);
    expect(run(view, pids({ 42: dead() }), 5000)).toEqual([
      expected(5000, {
        rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: null, type: 'AgentCrashed',
        data: { agentId: 'a1', reason: 'Process no longer alive (PID check)', pid: 42 },
        observed: { pid: 42, host: null, alive: false, detail: null, sessionState: 'starting', lastSeenAt: null },
      }),
    ]);
  });

  it('an observed heartbeat is the lastSeenAt recorded, over the log’s', () => {
    const [d] = run(viewOf([a1], [s1]), { host: 'me', pids: { 42: dead() }, agents: { a1: { lastHeartbeatAt: t(3000) } } }, 5000);
    expect(d!.event.metadata['observed']).toMatchObject({ lastSeenAt: t(3000) });
  });

  it('a terminating session: dead pid wins, at once, with its state recorded', () => {
    const s = { ...s1, state: 'terminating' as const, terminatingSince: t(1500) };
    const ds = run(viewOf([a1], [s]), pids({ 42: dead() }, 'me'), 2000);
    expect(rulesOf(ds)).toEqual([['dead-pid', 'a1', 's1']]);
    expect(ds[0]!.event.metadata['observed']).toMatchObject({ sessionState: 'terminating' });
  });

  it('dead pid takes precedence over every other rule on the same session (one correction each)', () => {
    const gone = { ...a1, connection: disconnectedSince(t(0)), lastSeenAt: t(0) };
    const late = 60 * MIN;
    for (const s of [s1, { ...s1, state: 'terminating' as const, terminatingSince: t(0) }, { ...s1, state: 'starting' as const }]) {
      expect(rulesOf(run(viewOf([gone], [s]), pids({ 42: dead() }, 'me'), late))).toEqual([['dead-pid', 'a1', 's1']]);
    }
  });

  it('an alive pid, a pid that could not be checked, or a fact about another pid fire nothing', () => {
    const view = viewOf([a1], [s1]);
    expect(run(view, pids({ 42: { alive: true } }, 'me'), 60 * MIN)).toEqual([]);
    expect(run(view, pids({ 42: { alive: null, detail: 'cannot check: EPERM' } }, 'me'), 60 * MIN)).toEqual([]);
    expect(run(view, pids({ 43: dead() }, 'me'), 60 * MIN)).toEqual([]);
    expect(run(view, { host: 'me' }, 60 * MIN)).toEqual([]);
  });

  it('pid facts from another host, or from an unnamed host, do not touch a session on a named host', () => {
    const view = viewOf([a1], [s1]);
    expect(run(view, pids({ 42: dead() }, 'other'), 5000)).toEqual([]);
    expect(run(view, pids({ 42: dead() }), 5000)).toEqual([]);
    expect(run(view, { host: null, pids: { 42: dead() } }, 5000)).toEqual([]);
  });

  it('a session without a host is covered by any observer', () => {
    const view = viewOf([a1], [{ ...s1, host: null }]);
    expect(rulesOf(run(view, pids({ 42: dead() }, 'anywhere'), 5000))).toEqual([['dead-pid', 'a1', 's1']]);
    expect(rulesOf(run(view, pids({ 42: dead() }), 5000))).toEqual([['dead-pid', 'a1', 's1']]);
  });

  it('pidCheck: false turns it off; pidCheck: true is the default', () => {
    const view = viewOf([a1], [s1]);
    expect(run(view, pids({ 42: dead() }, 'me'), 5000, { pidCheck: false })).toEqual([]);
    expect(run(view, pids({ 42: dead() }, 'me'), 5000, { pidCheck: true })).toEqual(run(view, pids({ 42: dead() }, 'me'), 5000));
  });

  it('uses the configured reason', () => {
    const [d] = run(viewOf([a1], [s1]), pids({ 42: dead() }, 'me'), 5000, { reasons: { deadPid: 'pid gone' } });
    expect(d!.event.data).toEqual({ agentId: 'a1', reason: 'pid gone', pid: 42 });
  });

  it('a session whose agent is missing from the view still gets it, with no stint (fact null)', () => {
    expect(run(viewOf([], [s1]), pids({ 42: dead('x') }, 'me'), 5000)).toEqual([
      expected(5000, {
        rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: null, type: 'AgentCrashed',
        data: { agentId: 'a1', reason: 'Process no longer alive (PID check)', pid: 42 },
        observed: { pid: 42, host: 'me', alive: false, detail: 'x', sessionState: 'running', lastSeenAt: null },
      }),
    ]);
  });

  it('directors are checked like any agent', async () => {
    const view = await foldView([
      ev('AgentRegistered', { agentId: 'd1', role: 'director' }, { at: 0 }),
      ev('AgentSpawned', { agentId: 'd1', sessionId: 'sd', pid: 7 }, { at: 1 }),
    ]);
    const ds = run(view, pids({ 7: dead() }), 5000);
    expect(rulesOf(ds)).toEqual([['dead-pid', 'd1', 'sd']]);
    expect(ds[0]!.event.data).toEqual({ agentId: 'd1', reason: 'Process no longer alive (PID check)', pid: 7 });
  });

  it('a reused pid on a resumed session is a new stint: a new id for the same pid', () => {
    const before = run(viewOf([{ ...a1, startedAt: t(1000) }], [s1]), pids({ 42: dead() }, 'me'), 9000);
    const after = run(viewOf([{ ...a1, startedAt: t(8000) }], [s1]), pids({ 42: dead() }, 'me'), 9000);
    expect(before[0]!.event.id).toBe(correctionId({ rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: t(1000) }));
    expect(after[0]!.event.id).toBe(correctionId({ rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: t(8000) }));
    expect(before[0]!.event.id).not.toBe(after[0]!.event.id);
  });
});

describe('decide: agent disconnected past its grace', () => {
  // Disconnected since 10 s; its last heartbeat at 5 s.
  const a1 = agentJson('a1', { startedAt: t(1000), lastSeenAt: t(5000), connection: disconnectedSince(t(10_000)) });
  const running = session('s1', 'a1', { pid: 42, startedAt: t(1000) });
  const starting = session('s1', 'a1', { state: 'starting', startedAt: t(1000) });

  it('at exactly the grace: nothing; one ms past: AgentCrashed with the pid, and exactly this record', () => {
    const view = viewOf([a1], [running]);
    expect(run(view, {}, 40_000)).toEqual([]);
    expect(run(view, {}, 40_001)).toEqual([
      expected(40_001, {
        rule: 'agent-disconnected', agentId: 'a1', sessionId: 's1', pid: 42, fact: t(1000), type: 'AgentCrashed',
        data: { agentId: 'a1', reason: 'agent_disconnected', pid: 42 },
        observed: { connection: 'disconnected', absentSince: t(10_000), absentForMs: 30_001, graceMs: 30_000, lastSeenAt: t(5000), pid: 42 },
      }),
    ]);
  });

  it('a starting session without a pid: AgentCrashed without a pid (it applies to every live session)', () => {
    expect(run(viewOf([a1], [starting]), {}, 40_001)).toEqual([
      expected(40_001, {
        rule: 'agent-disconnected', agentId: 'a1', sessionId: 's1', pid: null, fact: t(1000), type: 'AgentCrashed',
        data: { agentId: 'a1', reason: 'agent_disconnected' },
        observed: { connection: 'disconnected', absentSince: t(10_000), absentForMs: 30_001, graceMs: 30_000, lastSeenAt: t(5000), pid: null },
      }),
    ]);
  });

  it('the pid-less id is the fixed vector of (agent-disconnected, agent, session, null, agent startedAt)', () => {
    const view = viewOf([{ ...a1, startedAt: '2026-11-20T10:00:01.000Z' }], [starting]);
    expect(run(view, {}, 40_001)[0]!.event.id).toBe('a806a79c-bb16-5b9c-9483-16e7f9fb82ee');
  });

  it('an agent observed gone counts too, and its connection is recorded as gone', () => {
    const view = viewOf([{ ...a1, connection: connectedSince(t(0)) }], [running]);
    const obs: Observations = { agents: { a1: { connection: 'gone', disconnectedSince: t(20_000) } } };
    expect(run(view, obs, 50_000)).toEqual([]);
    expect(run(view, obs, 50_001)).toEqual([
      expected(50_001, {
        rule: 'agent-disconnected', agentId: 'a1', sessionId: 's1', pid: 42, fact: t(1000), type: 'AgentCrashed',
        data: { agentId: 'a1', reason: 'agent_disconnected', pid: 42 },
        observed: { connection: 'gone', absentSince: t(20_000), absentForMs: 30_001, graceMs: 30_000, lastSeenAt: t(5000), pid: 42 },
      }),
    ]);
  });

  it('a connected agent, or one whose connection nobody tracks, is never crashed for absence', () => {
    expect(run(viewOf([{ ...a1, connection: connectedSince(t(0)) }], [running]), {}, 600 * MIN)).toEqual([]);
    expect(run(viewOf([{ ...a1, connection: null }], [running]), {}, 600 * MIN)).toEqual([]);
    expect(run(viewOf([a1], [running]), { agents: { a1: { connection: 'connected' } } }, 600 * MIN)).toEqual([]);
  });

  it('a terminating session is left to the terminating timeout', () => {
    const terminating = { ...running, state: 'terminating' as const, terminatingSince: t(20_000) };
    expect(run(viewOf([a1], [terminating]), {}, 5 * MIN)).toEqual([]);
  });

  describe('absent since the latest evidence: disconnect observed, heartbeat observed, last seen, or the logged disconnect', () => {
    const at = (view: ProjectionJson, obs: Observations, nowMs: number) => run(view, obs, nowMs).map((d) => d.event.metadata['observed']);
    const base = agentJson('a1', { lastSeenAt: null, connection: null });

    it.each([
      ['observed disconnect', { ...base, lastSeenAt: t(1000) }, { connection: 'gone' as const, disconnectedSince: t(4000), lastHeartbeatAt: t(2000) }],
      ['observed heartbeat', { ...base, lastSeenAt: t(1000) }, { connection: 'gone' as const, disconnectedSince: t(2000), lastHeartbeatAt: t(4000) }],
      ['log lastSeenAt', { ...base, lastSeenAt: t(4000), connection: disconnectedSince(t(2000)) }, { disconnectedSince: t(1000), lastHeartbeatAt: t(3000) }],
      ['logged disconnect', { ...base, lastSeenAt: t(2000), connection: disconnectedSince(t(4000)) }, { disconnectedSince: t(1000), lastHeartbeatAt: t(3000) }],
    ])('%s is the latest: the grace runs from it', (_name, agent, obs) => {
      const view = viewOf([agent], [running]);
      expect(at(view, { agents: { a1: obs } }, 34_000)).toEqual([]);
      expect(at(view, { agents: { a1: obs } }, 34_001)).toEqual([expect.objectContaining({ absentSince: t(4000), absentForMs: 30_001 })]);
    });

    it('a connected record’s `since` is no evidence of absence', () => {
      const view = viewOf([{ ...base, connection: connectedSince(t(9000)) }], [running]);
      expect(at(view, { agents: { a1: { connection: 'gone', disconnectedSince: t(4000) } } }, 34_001)).toEqual([
        expect.objectContaining({ connection: 'gone', absentSince: t(4000), absentForMs: 30_001 }),
      ]);
    });

    it('of two candidates naming the same instant, the first (the observation) is recorded verbatim', () => {
      const view = viewOf([{ ...base, lastSeenAt: t(4000), connection: disconnectedSince(t(4000)) }], [running]);
      const sameInstant = '2026-11-20T11:00:04+01:00';
      expect(at(view, { agents: { a1: { disconnectedSince: sameInstant } } }, 34_001)).toEqual([
        expect.objectContaining({ absentSince: sameInstant, absentForMs: 30_001 }),
      ]);
    });

    it('times before 1970 (negative epoch ms) date an absence like any other', () => {
      const view = viewOf([{ ...base, lastSeenAt: '1969-12-31T23:59:00.000Z', connection: disconnectedSince('1969-12-31T23:59:00.000Z') }], [running]);
      expect(decide(view, {}, '1969-12-31T23:59:30.000Z', { suspectAfterMs: null })).toEqual([]);
      expect(decide(view, {}, '1969-12-31T23:59:30.001Z', { suspectAfterMs: null }).map((d) => d.event.metadata['observed'])).toEqual([
        expect.objectContaining({ absentSince: '1969-12-31T23:59:00.000Z', absentForMs: 30_001 }),
      ]);
    });

    it('an unparseable time in the view is no evidence', () => {
      const view = viewOf([{ ...base, lastSeenAt: t(4000), connection: disconnectedSince('not a time') }], [running]);
      expect(at(view, { agents: { a1: { connection: 'disconnected' } } }, 34_001)).toEqual([expect.objectContaining({ absentSince: t(4000) })]);
    });

    it.each([
      ['disconnectedSince', 'garbage'],
      ['lastHeartbeatAt', '2026-11-20T10:00:00'],
      ['lastHeartbeatAt', '2026-11-20'],
      ['disconnectedSince', ''],
    ])('an observed %s that is not an ISO time with a zone (%j) is a usage error naming it, never read in local time', (field, value) => {
      const view = viewOf([base], [running]);
      expect(() => decide(view, { agents: { a1: { connection: 'disconnected', [field]: value } } }, t(40_000))).toThrow(
        expect.objectContaining({ code: 'usage', message: `reconcile: observations.agents["a1"].${field} must be an ISO-8601 time with a zone, got ${JSON.stringify(value)}` }),
      );
    });

    it('an observed time with an offset is read as that instant', () => {
      const view = viewOf([base], [running]);
      const since = new Date(Date.parse(t(4000))).toISOString().replace('Z', '+00:00');
      expect(at(view, { agents: { a1: { connection: 'disconnected', disconnectedSince: since } } }, 34_001)).toEqual([expect.objectContaining({ absentSince: since })]);
    });

    it('when nothing dates the absence, nothing is decided, however late', () => {
      const view = viewOf([base], [running]);
      expect(run(view, { agents: { a1: { connection: 'gone' } } }, 10_000 * MIN)).toEqual([]);
      expect(run(viewOf([base], [starting]), { agents: { a1: { connection: 'gone' } } }, 5 * MIN)).toEqual([]);
    });

    it('an agent missing from the view, observed gone: dated by the observation, no stint, no lastSeenAt', () => {
      expect(run(viewOf([], [running]), { agents: { a1: { connection: 'gone', disconnectedSince: t(4000) } } }, 34_001)).toEqual([
        expected(34_001, {
          rule: 'agent-disconnected', agentId: 'a1', sessionId: 's1', pid: 42, fact: null, type: 'AgentCrashed',
          data: { agentId: 'a1', reason: 'agent_disconnected', pid: 42 },
          observed: { connection: 'gone', absentSince: t(4000), absentForMs: 30_001, graceMs: 30_000, lastSeenAt: null, pid: 42 },
        }),
      ]);
    });

    it('an observed heartbeat is also the lastSeenAt recorded', () => {
      const view = viewOf([a1], [running]);
      expect(at(view, { agents: { a1: { lastHeartbeatAt: t(9000) } } }, 40_001)).toEqual([
        expect.objectContaining({ absentSince: t(10_000), lastSeenAt: t(9000) }),
      ]);
    });
  });

  it('a configured grace, a grace of 0 (any absence past the instant), and null (off)', () => {
    const view = viewOf([a1], [running]);
    expect(run(view, {}, 70_000, { disconnectGraceMs: 60_000 })).toEqual([]);
    expect(run(view, {}, 70_001, { disconnectGraceMs: 60_000 }).map((d) => d.event.metadata['observed'])).toEqual([
      expect.objectContaining({ absentForMs: 60_001, graceMs: 60_000 }),
    ]);
    expect(run(view, {}, 10_000, { disconnectGraceMs: 0 })).toEqual([]);
    expect(run(view, {}, 10_001, { disconnectGraceMs: 0 }).map((d) => d.event.metadata['observed'])).toEqual([
      expect.objectContaining({ absentForMs: 1, graceMs: 0 }),
    ]);
    expect(run(view, {}, 10_000 * MIN, { disconnectGraceMs: null })).toEqual([]);
  });

  it('uses the configured reason', () => {
    const [d] = run(viewOf([a1], [running]), {}, 40_001, { reasons: { agentDisconnected: 'lost' } });
    expect(d!.event.data).toEqual({ agentId: 'a1', reason: 'lost', pid: 42 });
  });

  it('a starting session with a pid, past both the grace and the start timeout, gets only the disconnect correction', () => {
    const s = session('s1', 'a1', { state: 'starting', pid: 42, startedAt: t(0) });
    expect(rulesOf(run(viewOf([a1], [s]), {}, 20 * MIN))).toEqual([['agent-disconnected', 'a1', 's1']]);
    expect(run(viewOf([a1], [s]), {}, 20 * MIN)[0]!.event.data).toEqual({ agentId: 'a1', reason: 'agent_disconnected', pid: 42 });
  });

  it('without a pid it is one correction for the agent: its other live sessions get none (the first by id does)', () => {
    const view = viewOf([a1], [
      session('s2', 'a1', { state: 'starting', startedAt: t(0) }),
      session('s1', 'a1', { state: 'starting', startedAt: t(0) }),
    ]);
    expect(rulesOf(run(view, {}, 20 * MIN))).toEqual([['agent-disconnected', 'a1', 's1']]);
  });

  it('a pid-carrying session before it is corrected on its own; the pid-less one then ends the rest', () => {
    const view = viewOf([a1], [
      session('s3', 'a1', { state: 'starting', startedAt: t(0) }),
      session('s2', 'a1', { state: 'starting', startedAt: t(0) }),
      session('s1', 'a1', { pid: 41, startedAt: t(0) }),
    ]);
    const ds = run(view, {}, 20 * MIN);
    expect(rulesOf(ds)).toEqual([['agent-disconnected', 'a1', 's1'], ['agent-disconnected', 'a1', 's2']]);
    expect(ds.map((d) => d.event.data)).toEqual([
      { agentId: 'a1', reason: 'agent_disconnected', pid: 41 },
      { agentId: 'a1', reason: 'agent_disconnected' },
    ]);
  });

  it('the pid-less stop ends only that agent’s sessions: the next agent is still decided', () => {
    const view = viewOf([a1, agentJson('b1')], [
      session('s1', 'a1', { state: 'starting', startedAt: t(0) }),
      session('s2', 'a1', { state: 'starting', startedAt: t(0) }),
      session('t1', 'b1', { pid: 9 }),
    ]);
    expect(rulesOf(run(view, pids({ 9: dead() }), 20 * MIN))).toEqual([['agent-disconnected', 'a1', 's1'], ['dead-pid', 'b1', 't1']]);
  });
});

describe('decide: stuck terminating', () => {
  const a1 = agentJson('a1', { startedAt: t(1000), lastSeenAt: t(5000), connection: disconnectedSince(t(110_000)) });
  const s1 = session('s1', 'a1', { state: 'terminating', pid: 42, startedAt: t(1000), terminatingSince: t(100_000) });

  it('at exactly the timeout: nothing; one ms past: SessionEnded, exactly this record', () => {
    const view = viewOf([a1], [s1]);
    expect(run(view, {}, 100_000 + 10 * MIN)).toEqual([]);
    expect(run(view, {}, 100_001 + 10 * MIN)).toEqual([
      expected(100_001 + 10 * MIN, {
        rule: 'stuck-terminating', agentId: 'a1', sessionId: 's1', pid: 42, fact: t(100_000), type: 'SessionEnded',
        data: { agentId: 'a1', sessionId: 's1', reason: 'agent_unavailable' },
        observed: {
          terminatingSince: t(100_000), terminatingForMs: 600_001, timeoutMs: 600_000,
          agent: 'disconnected', connection: 'disconnected', lastSeenAt: t(5000), pid: 42, alive: null,
        },
      }),
    ]);
  });

  it('its id is the fixed vector of (stuck-terminating, agent, session, pid, terminatingSince), whatever the stint', () => {
    const view = viewOf([{ ...a1, startedAt: t(77) }], [s1]);
    expect(run(view, {}, 100_001 + 10 * MIN)[0]!.event.id).toBe('7c8962fa-a0ac-5459-b558-f75a4a410c8d');
  });

  const late = 100_000 + 60 * MIN;
  const why = (agents: AgentJson[], obs: Observations, config?: ReconcileConfigInput) =>
    run(viewOf(agents, [s1]), obs, late, config).map((d) => {
      const o = d.event.metadata['observed'] as Record<string, unknown>;
      return [o['agent'], o['connection'], o['alive']];
    });
  const connected = { ...a1, connection: connectedSince(t(0)) };
  const untracked = { ...a1, connection: null };

  it.each([
    ['its agent is missing from the view', [], {}, [['unknown-agent', 'unknown', null]]],
    ['its agent was removed (even while connected)', [{ ...connected, status: 'removed' as const }], {}, [['removed', 'connected', null]]],
    ['its agent was removed and is disconnected', [{ ...a1, status: 'removed' as const }], {}, [['removed', 'disconnected', null]]],
    ['its agent is disconnected (the pid alive)', [a1], pids({ 42: { alive: true } }), [['disconnected', 'disconnected', true]]],
    ['its agent is observed gone', [connected], { agents: { a1: { connection: 'gone' as const } } }, [['gone', 'gone', null]]],
    ['its agent is observed disconnected', [connected], { agents: { a1: { connection: 'disconnected' as const } } }, [['disconnected', 'disconnected', null]]],
  ])('ends it when %s', (_name, agents, obs, out) => {
    expect(why(agents, obs)).toEqual(out);
  });

  it('ends it when its pid is dead and the pid rule is off (connection untracked)', () => {
    expect(why([untracked], pids({ 42: dead() }), { pidCheck: false })).toEqual([['pid-dead', 'unknown', false]]);
  });

  it.each([
    ['its agent is connected', [connected], {}],
    ['its agent is connected and its pid alive', [connected], pids({ 42: { alive: true } })],
    ['its agent is observed connected', [a1], { agents: { a1: { connection: 'connected' as const } } }],
    ['nothing is known (no connection, no pid fact)', [untracked], {}],
    ['its pid is alive', [untracked], pids({ 42: { alive: true } })],
    ['its pid could not be checked', [untracked], pids({ 42: { alive: null, detail: 'cannot check' } })],
  ])('leaves it while %s (it may yet stop it)', (_name, agents, obs) => {
    expect(why(agents as AgentJson[], { host: 'me', ...obs })).toEqual([]);
  });

  it('a dead pid seen on another host than the session’s is no reason; seen on its own host it is', () => {
    const view = viewOf([untracked], [{ ...s1, host: 'node-b' }]);
    expect(run(view, pids({ 42: dead() }, 'node-a'), late, { pidCheck: false })).toEqual([]);
    expect(run(view, pids({ 42: dead() }), late, { pidCheck: false })).toEqual([]);
    expect(run(view, pids({ 42: dead() }, 'node-b'), late, { pidCheck: false }).map((d) => d.event.metadata['observed'])).toEqual([
      expect.objectContaining({ agent: 'pid-dead', alive: false }),
    ]);
  });

  it('a connected agent’s session without a pid is not ended for a pid entry keyed "null"', () => {
    const view = viewOf([connected], [{ ...s1, pid: null }]);
    const odd = { pids: { null: dead() } as unknown as Record<number, PidObservation> };
    expect(run(view, odd, late, { pidCheck: false })).toEqual([]);
  });

  it('a configured timeout, a timeout of 0, and null (off)', () => {
    const view = viewOf([a1], [s1]);
    expect(run(view, {}, 100_000 + 5 * MIN, { terminatingTimeoutMs: 5 * MIN })).toEqual([]);
    expect(run(view, {}, 100_001 + 5 * MIN, { terminatingTimeoutMs: 5 * MIN }).map((d) => d.rule)).toEqual(['stuck-terminating']);
    expect(run(view, {}, 100_000, { terminatingTimeoutMs: 0 })).toEqual([]);
    expect(run(view, {}, 100_001, { terminatingTimeoutMs: 0 }).map((d) => d.event.metadata['observed'])).toEqual([
      expect.objectContaining({ terminatingForMs: 1, timeoutMs: 0 }),
    ]);
    expect(run(view, { agents: { a1: { connection: 'gone' } } }, 10_000 * MIN, { terminatingTimeoutMs: null })).toEqual([]);
  });

  it('a terminating session with no terminatingSince is never timed out', () => {
    expect(run(viewOf([a1], [{ ...s1, terminatingSince: null }]), {}, 10_000 * MIN)).toEqual([]);
  });

  it('uses the configured reason', () => {
    const [d] = run(viewOf([a1], [s1]), {}, late, { reasons: { stuckTerminating: 'gave up' } });
    expect(d!.event.data).toEqual({ agentId: 'a1', sessionId: 's1', reason: 'gave up' });
  });

  it('a terminating session without a pid: pid null in the id and the record', () => {
    const [d] = run(viewOf([a1], [{ ...s1, pid: null }]), {}, late);
    expect(d!.event.id).toBe(correctionId({ rule: 'stuck-terminating', agentId: 'a1', sessionId: 's1', pid: null, fact: t(100_000) }));
    expect(d!.event.metadata['observed']).toMatchObject({ pid: null, alive: null });
  });
});

describe('decide: start timeout', () => {
  const a1 = agentJson('a1', { startedAt: t(1000), lastSeenAt: null, connection: null });
  const s1 = session('s1', 'a1', { state: 'starting', startedAt: t(0) });

  it('at exactly the timeout: nothing; one ms past: SessionStartFailed, exactly this record (the fixed id)', () => {
    const view = viewOf([a1], [s1]);
    expect(run(view, {}, 10 * MIN)).toEqual([]);
    const ds = run(view, {}, 10 * MIN + 1);
    expect(ds).toEqual([
      expected(10 * MIN + 1, {
        rule: 'start-timeout', agentId: 'a1', sessionId: 's1', pid: null, fact: t(0), type: 'SessionStartFailed',
        data: { agentId: 'a1', sessionId: 's1', reason: 'start_timeout' },
        observed: { startedAt: t(0), startingForMs: 600_001, timeoutMs: 600_000, connection: 'unknown', lastSeenAt: null },
      }),
    ]);
  });

  it('the id ignores any pid the session has (a start is not a process), and uses the session’s startedAt', () => {
    const [d] = run(viewOf([a1], [{ ...s1, pid: 42 }]), {}, 10 * MIN + 1);
    expect(d!.event.id).toBe(correctionId({ rule: 'start-timeout', agentId: 'a1', sessionId: 's1', pid: null, fact: t(0) }));
    const [e] = run(viewOf([a1], [{ ...s1, startedAt: null }]), {}, 10 * MIN + 1, {});
    expect(e).toBeUndefined();
  });

  it('the fixed vector with no startedAt fact', () => {
    expect(correctionId({ rule: 'start-timeout', agentId: 'a1', sessionId: 's1', pid: null, fact: null })).toBe('8056fb6d-8e22-52b6-b14b-d9603f0a3a44');
  });

  it('records the connection and lastSeenAt as known (log, then observation)', () => {
    const view = viewOf([{ ...a1, lastSeenAt: t(100), connection: connectedSince(t(50)) }], [s1]);
    expect(run(view, {}, 10 * MIN + 1)[0]!.event.metadata['observed']).toEqual({
      rule: 'start-timeout', startedAt: t(0), startingForMs: 600_001, timeoutMs: 600_000, connection: 'connected', lastSeenAt: t(100),
    });
    expect(run(view, { agents: { a1: { connection: 'connected', lastHeartbeatAt: t(200) } } }, 10 * MIN + 1)[0]!.event.metadata['observed']).toMatchObject({
      connection: 'connected', lastSeenAt: t(200),
    });
  });

  it('a disconnected agent with the disconnect rule off still gets the start timeout', () => {
    const view = viewOf([{ ...a1, connection: disconnectedSince(t(0)) }], [s1]);
    expect(run(view, {}, 10 * MIN + 1, { disconnectGraceMs: null }).map((d) => [d.rule, d.event.metadata['observed']])).toEqual([
      ['start-timeout', expect.objectContaining({ connection: 'disconnected' })],
    ]);
  });

  it('a configured timeout, 0, and null (off)', () => {
    const view = viewOf([a1], [s1]);
    expect(run(view, {}, MIN, { startingTimeoutMs: MIN })).toEqual([]);
    expect(run(view, {}, MIN + 1, { startingTimeoutMs: MIN }).map((d) => d.event.metadata['observed'])).toEqual([
      expect.objectContaining({ startingForMs: MIN + 1, timeoutMs: MIN }),
    ]);
    expect(run(view, {}, 0, { startingTimeoutMs: 0 })).toEqual([]);
    expect(run(view, {}, 1, { startingTimeoutMs: 0 })).toHaveLength(1);
    expect(run(view, {}, 10_000 * MIN, { startingTimeoutMs: null })).toEqual([]);
  });

  it('uses the configured reason', () => {
    const [d] = run(viewOf([a1], [s1]), {}, 10 * MIN + 1, { reasons: { startTimeout: 'too slow' } });
    expect(d!.event.data).toEqual({ agentId: 'a1', sessionId: 's1', reason: 'too slow' });
  });

  it('a running session, however old, is not a stuck start', () => {
    const view = viewOf([{ ...a1, connection: connectedSince(t(0)) }], [{ ...s1, state: 'running', pid: 42 }]);
    expect(run(view, pids({ 42: { alive: true } }), 600 * MIN)).toEqual([]);
    expect(run(viewOf([a1], [{ ...s1, state: 'running' }]), {}, 600 * MIN)).toEqual([]);
  });

  it('a terminating session, however old, is not a stuck start', () => {
    const view = viewOf([{ ...a1, connection: connectedSince(t(0)) }], [{ ...s1, state: 'terminating', terminatingSince: t(0) }]);
    expect(run(view, {}, 600 * MIN)).toEqual([]);
  });
});

describe('decide: order and scope', () => {
  it('agents in code-unit order, and each agent’s sessions in code-unit order, whatever the view’s order', () => {
    const ids = ['e', 'B', 'a', '_', 'aa', 'Z', 'c'];
    const view = viewOf(
      ids.map((id) => agentJson(id)),
      ids.flatMap((id) => [session(`${id}-s2`, id, { state: 'starting' }), session(`${id}-s10`, id, { pid: 7 }), session(`${id}-s1`, id, { pid: 7 })]),
    );
    const ds = run(view, pids({ 7: dead() }), 20 * MIN);
    const sorted = ['B', 'Z', '_', 'a', 'aa', 'c', 'e'];
    expect(ds.map((d) => [d.agentId, d.sessionId, d.rule])).toEqual(
      sorted.flatMap((id) => [[id, `${id}-s1`, 'dead-pid'], [id, `${id}-s10`, 'dead-pid'], [id, `${id}-s2`, 'start-timeout']]),
    );
  });

  it('agents are ordered by their own ids, not by their sessions’ ids', () => {
    const view = viewOf([agentJson('b'), agentJson('a')], [
      session('a-session', 'b', { state: 'starting' }),
      session('z-session', 'a', { state: 'starting' }),
    ]);
    expect(rulesOf(run(view, {}, 20 * MIN))).toEqual([['start-timeout', 'a', 'z-session'], ['start-timeout', 'b', 'a-session']]);
  });

  it('a suspended, terminated or failed session is never corrected', () => {
    const a1 = agentJson('a1', { connection: disconnectedSince(t(0)) });
    for (const state of ['suspended', 'terminated', 'failed'] as const) {
      const view = viewOf([a1], [session('s1', 'a1', { state, pid: 42, startedAt: t(0), terminatingSince: t(0) })]);
      expect(run(view, pids({ 42: dead() }), 600 * MIN)).toEqual([]);
    }
  });

  it('observations about agents are read as own entries only (an inherited entry is no observation)', () => {
    const a1 = agentJson('a1', { connection: connectedSince(t(0)), lastSeenAt: t(0) });
    const view = viewOf([a1], [session('s1', 'a1', { pid: 42 })]);
    const inherited = Object.create({ a1: { connection: 'gone', disconnectedSince: t(0) } }) as Record<string, never>;
    expect(run(view, { agents: inherited }, 600 * MIN)).toEqual([]);
    expect(run(view, { agents: { a1: { connection: 'gone', disconnectedSince: t(0) } } }, 600 * MIN).map((d) => d.rule)).toEqual(['agent-disconnected']);
  });

  it('does not modify the view or the observations', () => {
    const a1 = agentJson('a1', { connection: disconnectedSince(t(0)) });
    const view = viewOf([a1, agentJson('b1')], [session('s1', 'a1', { pid: 1 }), session('s2', 'b1', { state: 'starting' })]);
    const obs: Observations = { host: 'me', pids: { 1: { alive: true } }, agents: { a1: { lastHeartbeatAt: t(5) } } };
    const copies = [structuredClone(view), structuredClone(obs)];
    expect(run(view, obs, 600 * MIN)).toHaveLength(2);
    expect([view, obs]).toEqual(copies);
  });
});

describe('decide: thresholds, as properties', () => {
  const limit = fc.integer({ min: 0, max: 100 * 24 * 3600 * 1000 });
  /** An age at, around or far from the limit. */
  const ageFor = (l: number) => fc.oneof(fc.constantFrom(l - 1, l, l + 1, 0, -1), fc.integer({ min: -1000, max: 2 * l + 1000 }));

  it('start timeout fires iff the session is older than the limit, with its exact age', () =>
    fc.assert(
      fc.property(limit.chain((l) => fc.tuple(fc.constant(l), ageFor(l))), ([l, age]) => {
        const view = viewOf([agentJson('a1')], [session('s1', 'a1', { state: 'starting', startedAt: t(0) })]);
        const ds = run(view, {}, age, { startingTimeoutMs: l });
        expect(ds.map((d) => d.event.metadata['observed'])).toEqual(age > l ? [expect.objectContaining({ startingForMs: age, timeoutMs: l })] : []);
      }),
      { numRuns: runs(300) },
    ));

  it('the disconnect grace fires iff the absence is longer than the grace, with its exact length', () =>
    fc.assert(
      fc.property(limit.chain((l) => fc.tuple(fc.constant(l), ageFor(l))), ([l, age]) => {
        const view = viewOf([agentJson('a1', { connection: disconnectedSince(t(0)) })], [session('s1', 'a1', { pid: 3 })]);
        const ds = run(view, {}, age, { disconnectGraceMs: l });
        expect(ds.map((d) => d.event.metadata['observed'])).toEqual(age > l ? [expect.objectContaining({ absentForMs: age, graceMs: l })] : []);
      }),
      { numRuns: runs(300) },
    ));

  it('the terminating timeout fires iff it has been terminating longer than the limit, with its exact duration', () =>
    fc.assert(
      fc.property(limit.chain((l) => fc.tuple(fc.constant(l), ageFor(l))), ([l, age]) => {
        const view = viewOf([agentJson('a1', { status: 'removed' })], [session('s1', 'a1', { state: 'terminating', terminatingSince: t(0) })]);
        const ds = run(view, {}, age, { terminatingTimeoutMs: l });
        expect(ds.map((d) => d.event.metadata['observed'])).toEqual(age > l ? [expect.objectContaining({ terminatingForMs: age, timeoutMs: l })] : []);
      }),
      { numRuns: runs(300) },
    ));
});
