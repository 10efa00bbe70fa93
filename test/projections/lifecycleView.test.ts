import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { agentStatus } from '../../src/projections/agentStatus.js';
import { initialLifecycleState, type AgentRecord, type SessionRecord } from '../../src/projections/lifecycleState.js';
import { anomaliesJson, byCodeUnit, idRecord, lifecycleView, occupiedPool, sessionJson, type SessionJson } from '../../src/projections/lifecycleView.js';
import { agent, ended, ev, foldState, pool, spawned, T0 } from '../support/lifecycle.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends LifecycleEvent>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });

const stray = at(25, ev('AgentHeartbeat', { agentId: 'nobody' }));
/**
 * pB (max 3): B, a, _ and __proto__ (one over), plus director d (no slot). pA (max 3) disabled,
 * holding constructor. pC (max 2) empty. B, a and _ run something. z ran and stopped; r is removed.
 */
const history: LifecycleEvent[] = [
  at(1, pool('pB', 3, { agentTypes: ['worker'] })),
  at(2, pool('pA', 3, { enabled: false })),
  at(3, agent('B')),
  at(4, agent('a', 'worker', 'x')),
  at(5, agent('_')),
  at(6, agent('d', 'director')),
  at(7, agent('__proto__')),
  at(8, ev('AgentRegistered', { agentId: 'constructor', role: 'worker', name: 'Con' })),
  at(9, spawned('B', 'sB', { poolId: 'pB', pid: 11, host: 'hB' })),
  at(10, spawned('a', 'sa', { poolId: 'pB' })),
  at(11, spawned('_', 's_', { poolId: 'pB' })),
  at(12, spawned('__proto__', 'sp', { poolId: 'pB' })),
  at(13, spawned('d', 'sd', { poolId: 'pB' })),
  at(14, ev('RunStarted', { agentId: 'B', sessionId: 'sB', generation: 0 })),
  at(15, ev('RunStarted', { agentId: 'a', sessionId: 'sa', generation: 0 })),
  at(16, ev('RunStarted', { agentId: '_', sessionId: 's_', generation: 0 })),
  at(17, spawned('constructor', 'sc', { poolId: 'pA' })),
  at(18, ev('AgentConnected', { agentId: 'B', connectionId: 'c1' })),
  at(19, pool('pC', 2)),
  at(20, agent('z')),
  at(21, spawned('z', 'sz')),
  at(22, ended('z', 'sz', 'done')),
  at(23, agent('r')),
  at(24, ev('AgentRemoved', { agentId: 'r' })),
  stray,
];

const session = (sessionId: string, agentId: string, poolId: string | null, startedAt: number, extra: Partial<SessionRecord> = {}): SessionRecord => ({
  sessionId,
  agentId,
  poolId,
  state: 'running',
  pid: null,
  host: null,
  startedAt: iso(startedAt),
  endedAt: null,
  terminatingSince: null,
  terminationReason: null,
  epoch: null,
  leaseMs: null,
  leaseExpiresMs: null,
  ...extra,
});

/** A session as the view shows it (its lease expiry as ISO, not ms). */
const sessionView = (sessionId: string, agentId: string, poolId: string | null, startedAt: number, extra: Partial<SessionJson> = {}): SessionJson => {
  const { leaseExpiresMs: _ms, ...rest } = session(sessionId, agentId, poolId, startedAt);
  return { ...rest, leaseExpiresAt: null, ...extra };
};

const agentView = (agentId: string, extra: Record<string, unknown>) => ({
  agentId,
  name: null,
  role: 'worker',
  type: 'worker',
  status: 'running',
  currentSessionId: null,
  pid: null,
  host: null,
  generation: 0,
  busy: false,
  connection: null,
  startedAt: null,
  stoppedAt: null,
  lastSeenAt: null,
  lastExitReason: null,
  suspect: null,
  quarantine: null,
  ...extra,
});

const expected = {
  position: '25',
  pools: {
    pB: {
      poolId: 'pB',
      name: 'pB',
      maxSize: 3,
      agentTypes: ['worker'],
      enabled: true,
      status: { activeCount: 4, availableSlots: 0, overCapacityBy: 1, activeByType: { worker: 3, 'worker:x': 1 }, activeAgentIds: ['B', '_', '__proto__', 'a'] },
    },
    pA: {
      poolId: 'pA',
      name: 'pA',
      maxSize: 3,
      agentTypes: [],
      enabled: false,
      status: { activeCount: 1, availableSlots: 0, overCapacityBy: 0, activeByType: { worker: 1 }, activeAgentIds: ['constructor'] },
    },
    pC: {
      poolId: 'pC',
      name: 'pC',
      maxSize: 2,
      agentTypes: [],
      enabled: true,
      status: { activeCount: 0, availableSlots: 2, overCapacityBy: 0, activeByType: {}, activeAgentIds: [] },
    },
  },
  agents: {
    B: agentView('B', {
      currentSessionId: 'sB',
      pid: 11,
      host: 'hB',
      busy: true,
      connection: { connectionId: 'c1', state: 'connected', since: iso(18) },
      startedAt: iso(9),
      lastSeenAt: iso(18),
    }),
    a: agentView('a', { type: 'worker:x', currentSessionId: 'sa', busy: true, startedAt: iso(10), lastSeenAt: iso(15) }),
    _: agentView('_', { currentSessionId: 's_', busy: true, startedAt: iso(11), lastSeenAt: iso(16) }),
    d: agentView('d', { role: 'director', type: 'director', currentSessionId: 'sd', startedAt: iso(13), lastSeenAt: iso(13) }),
    ['__proto__']: agentView('__proto__', { currentSessionId: 'sp', startedAt: iso(12), lastSeenAt: iso(12) }),
    constructor: agentView('constructor', { name: 'Con', currentSessionId: 'sc', startedAt: iso(17), lastSeenAt: iso(17) }),
    z: agentView('z', { status: 'idle', startedAt: iso(21), stoppedAt: iso(22), lastSeenAt: iso(21), lastExitReason: 'done' }),
    r: agentView('r', { status: 'removed' }),
  },
  sessions: {
    sB: sessionView('sB', 'B', 'pB', 9, { pid: 11, host: 'hB' }),
    sa: sessionView('sa', 'a', 'pB', 10),
    s_: sessionView('s_', '_', 'pB', 11),
    sp: sessionView('sp', '__proto__', 'pB', 12),
    sd: sessionView('sd', 'd', 'pB', 13),
    sc: sessionView('sc', 'constructor', 'pA', 17),
    sz: sessionView('sz', 'z', null, 21, { state: 'terminated', endedAt: iso(22), terminationReason: 'done' }),
  },
  // Code-unit order: upper case, then '_', then lower case.
  running: ['B', '_', '__proto__', 'a', 'constructor', 'd'],
  busy: ['B', '_', 'a'],
  hosts: {},
  quarantined: [],
  anomalies: { count: 1, byReason: { 'unknown-agent': 1 }, recent: [{ position: '25', eventId: stray.id, type: 'AgentHeartbeat', reason: 'unknown-agent' }] },
};

/** Plain JSON, own keys only (a `__proto__` key of a null-prototype record becomes an ordinary one). */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('lifecycleView', () => {
  it('the view of the initial state', () => {
    expect(lifecycleView(initialLifecycleState())).toEqual({
      position: null,
      pools: {},
      agents: {},
      sessions: {},
      running: [],
      busy: [],
      hosts: {},
      quarantined: [],
      anomalies: { count: 0, byReason: {}, recent: [] },
    });
  });

  it('the whole view of a small state', async () => {
    const v = lifecycleView(await foldState(history));
    // Through JSON, as replay --json prints it: the __proto__ agent is an ordinary key.
    expect(plain(v)).toEqual(plain(expected));
    expect(JSON.stringify(Object.keys(v.agents))).toBe(JSON.stringify(['B', 'a', '_', 'd', '__proto__', 'constructor', 'z', 'r']));
  });

  it('records keyed by ids have no prototype: __proto__ and constructor are own keys', async () => {
    const v = lifecycleView(await foldState(history));
    for (const part of [v.pools, v.agents, v.sessions, v.pools['pB']!.status.activeByType]) expect(Object.getPrototypeOf(part)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(v.agents, '__proto__')?.value).toMatchObject({ agentId: '__proto__', status: 'running' });
    expect(Object.getOwnPropertyDescriptor(v.agents, 'constructor')?.value).toMatchObject({ agentId: 'constructor', name: 'Con' });
  });

  it('a role named __proto__ is an ordinary key of activeByType', async () => {
    const v = lifecycleView(await foldState([at(1, pool('p', 2)), at(2, agent('x', '__proto__')), at(3, spawned('x', 's', { poolId: 'p' }))]));
    expect(Object.entries(v.pools['p']!.status.activeByType)).toEqual([['__proto__', 1]]);
  });

  it('the position is the last event processed, as a string', async () => {
    const s = await foldState(history.slice(0, 3));
    expect(lifecycleView(s).position).toBe('3');
    s.position = 12345678901234567890n;
    expect(lifecycleView(s).position).toBe('12345678901234567890');
  });

  it('the view is a copy: changing it changes neither the state nor a later view', async () => {
    const s = await foldState(history);
    const v = lifecycleView(s);
    const before = plain(v);
    v.agents['B']!.connection!.state = 'disconnected';
    v.agents['B']!.status = 'idle';
    v.pools['pB']!.agentTypes.push('other');
    v.pools['pB']!.status.activeAgentIds.push('ghost');
    v.sessions['sB']!.state = 'failed';
    v.anomalies.recent[0]!.reason = 'duplicate';
    v.anomalies.byReason['duplicate'] = 9;
    v.running.push('ghost');
    expect(plain(lifecycleView(s))).toEqual(before);
    expect(s.agents.get('B')!.connection!.state).toBe('connected');
    expect(s.pools.get('pB')!.agentTypes).toEqual(['worker']);
    expect(s.sessions.get('sB')!.state).toBe('running');
    expect(s.anomalies).toEqual({ count: 1, byReason: { 'unknown-agent': 1 }, recent: [{ position: '25', eventId: stray.id, type: 'AgentHeartbeat', reason: 'unknown-agent' }] });
  });

  it('a run of an older generation than the agent is not busy', async () => {
    const v = lifecycleView(
      await foldState([
        at(1, agent('a1')),
        at(2, spawned('a1', 's1', { pid: 3 })),
        at(3, ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 })),
        // A repeated spawn of the running session raises the generation and keeps the run.
        at(4, spawned('a1', 's1', { pid: 4, generation: 2 })),
      ]),
    );
    expect(v.agents['a1']).toMatchObject({ generation: 2, busy: false, pid: 4, status: 'running' });
    expect(v.busy).toEqual([]);
    expect(v.running).toEqual(['a1']);
  });

  it('a terminating session is live: it counts in its pool, with its pid', async () => {
    const v = lifecycleView(
      await foldState([
        at(1, pool('p', 1)),
        at(2, agent('a1')),
        at(3, spawned('a1', 's1', { poolId: 'p', pid: 9, host: 'h' })),
        at(4, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })),
      ]),
    );
    expect(v.pools['p']!.status).toEqual({ activeCount: 1, availableSlots: 0, overCapacityBy: 0, activeByType: { worker: 1 }, activeAgentIds: ['a1'] });
    expect(v.agents['a1']).toMatchObject({ status: 'running', pid: 9, host: 'h', currentSessionId: 's1' });
    expect(v.sessions['s1']).toMatchObject({ state: 'terminating', terminatingSince: iso(4) });
  });

  it('a suspended session is not live: no slot, no pid, but still the current session', async () => {
    const v = lifecycleView(
      await foldState([at(1, pool('p', 1)), at(2, agent('a1')), at(3, spawned('a1', 's1', { poolId: 'p', pid: 9 })), at(4, ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }))]),
    );
    expect(v.pools['p']!.status).toEqual({ activeCount: 0, availableSlots: 1, overCapacityBy: 0, activeByType: {}, activeAgentIds: [] });
    expect(v.agents['a1']).toMatchObject({ status: 'idle', pid: null, host: null, currentSessionId: 's1', lastExitReason: 'suspended', stoppedAt: iso(4) });
    expect(v.running).toEqual([]);
  });
});

describe('the view helpers', () => {
  it('byCodeUnit orders by UTF-16 code unit', () => {
    expect(byCodeUnit('a', 'a')).toBe(0);
    expect(byCodeUnit('B', 'a')).toBe(-1);
    expect(byCodeUnit('a', 'B')).toBe(1);
    expect(['b', 'a', 'B', '_', 'A', 'ä'].sort(byCodeUnit)).toEqual(['A', 'B', '_', 'a', 'b', 'ä']);
  });

  it('idRecord has no prototype', () => {
    const r = idRecord<number>();
    expect(Object.getPrototypeOf(r)).toBeNull();
    r['__proto__'] = 1;
    expect(Object.keys(r)).toEqual(['__proto__']);
  });

  it('sessionJson: the fields the state keeps, in the order of the view, the lease expiry (epoch ms) as ISO last', () => {
    const s = session('s', 'a', 'p', 1, { pid: 3 });
    expect(JSON.stringify(sessionJson(s))).toBe(JSON.stringify(sessionView('s', 'a', 'p', 1, { pid: 3 })));
    const leased = session('s', 'a', 'p', 1, { leaseMs: 30_000, leaseExpiresMs: Date.parse(iso(31)) });
    expect(JSON.stringify(sessionJson(leased))).toBe(JSON.stringify(sessionView('s', 'a', 'p', 1, { leaseMs: 30_000, leaseExpiresAt: iso(31) })));
    expect(Object.keys(sessionJson(leased))).toEqual([
      'sessionId', 'agentId', 'poolId', 'state', 'pid', 'host', 'startedAt', 'endedAt', 'terminatingSince', 'terminationReason', 'epoch', 'leaseMs', 'leaseExpiresAt',
    ]);
  });

  it('occupiedPool: the live session pool, except for directors and pool-less or missing sessions', () => {
    const a = { role: 'worker' } as AgentRecord;
    const d = { role: 'director' } as AgentRecord;
    expect(occupiedPool(a, session('s', 'a', 'p', 1))).toBe('p');
    expect(occupiedPool(a, session('s', 'a', null, 1))).toBeNull();
    expect(occupiedPool(a, undefined)).toBeNull();
    expect(occupiedPool(d, session('s', 'd', 'p', 1))).toBeNull();
  });

  it('anomaliesJson copies the anomalies', () => {
    const s = initialLifecycleState();
    s.anomalies = { count: 1, byReason: { duplicate: 1 }, recent: [{ position: '1', eventId: 'e', type: 't', reason: 'duplicate' }] };
    const j = anomaliesJson(s);
    expect(j).toEqual(s.anomalies);
    expect(j.byReason).not.toBe(s.anomalies.byReason);
    expect(j.recent[0]).not.toBe(s.anomalies.recent[0]);
  });
});

describe('agentStatus', () => {
  const rec = (extra: Partial<AgentRecord>): AgentRecord => ({
    agentId: 'a',
    name: null,
    role: 'worker',
    type: 'worker',
    removedAt: null,
    generation: 1,
    run: null,
    connection: null,
    startedAt: null,
    stoppedAt: null,
    lastSeenAt: null,
    lastExitReason: null,
    suspect: null,
    quarantine: null,
    abnormalEnds: [],
    openSessionIds: [],
    ...extra,
  });
  const sessions = new Map<string, SessionRecord>([
    ['s1', session('s1', 'a', null, 1)],
    ['s2', session('s2', 'a', null, 2, { state: 'suspended' })],
    ['s3', session('s3', 'a', null, 3, { state: 'starting' })],
  ]);

  it('the live session is the last live one indexed; the current one the last indexed', () => {
    const st = agentStatus(sessions, rec({ openSessionIds: ['s1', 's3', 's2', 'gone'] }));
    expect(st.live?.sessionId).toBe('s3');
    expect(st.currentSessionId).toBe('gone');
    expect(st.status).toBe('running');
  });

  it('no open session: idle, no current session', () => {
    expect(agentStatus(sessions, rec({}))).toEqual({ status: 'idle', live: undefined, currentSessionId: null, busy: false });
  });

  it('removed wins over running', () => {
    expect(agentStatus(sessions, rec({ removedAt: iso(1), openSessionIds: ['s1'] })).status).toBe('removed');
  });

  it('busy: a run of the current generation in a live session', () => {
    const busy = (run: AgentRecord['run']) => agentStatus(sessions, rec({ run, openSessionIds: ['s1'] })).busy;
    expect(busy({ sessionId: 's1', generation: 1 })).toBe(true);
    expect(busy({ sessionId: 's3', generation: 1 })).toBe(true);
    expect(busy({ sessionId: 's1', generation: 0 })).toBe(false);
    expect(busy({ sessionId: 's1', generation: 2 })).toBe(false);
    expect(busy({ sessionId: 's2', generation: 1 })).toBe(false);
    expect(busy({ sessionId: 'gone', generation: 1 })).toBe(false);
    expect(busy(null)).toBe(false);
  });
});
