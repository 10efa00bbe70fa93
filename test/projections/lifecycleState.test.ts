import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { defineProjection } from '../../src/projections/defineProjection.js';
import { createLifecycleProjection, lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import {
  DEFAULT_RETENTION_MS,
  cloneLifecycleState,
  initialLifecycleState,
  isLive,
  isTerminal,
  type SessionStateName,
} from '../../src/projections/lifecycleState.js';
import { agent, ended, ev, foldState, pool, spawned, T0 } from '../support/lifecycle.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends LifecycleEvent>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const H = 3600;

/** A state with a pool, a running agent with a connection and a run, a kept terminal session, evicted ids of both kinds, and an anomaly. */
const history: LifecycleEvent[] = [
  at(1, pool('p1', 2, { agentTypes: ['worker'] })),
  at(2, agent('a1', 'worker', 'v')),
  at(3, agent('gone')),
  at(4, ev('AgentRemoved', { agentId: 'gone' })),
  at(5, spawned('a1', 'old', { poolId: 'p1' })),
  at(6, ended('a1', 'old')),
  // Past the window of `old` and `gone`: both leave the state, remembered.
  at(7 + 25 * H, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' })),
  at(8 + 25 * H, spawned('a1', 's1', { poolId: 'p1', pid: 4, host: 'h' })),
  // Supersedes s1, which stays in the state (terminal, in the window).
  at(9 + 25 * H, spawned('a1', 's2')),
  at(10 + 25 * H, ev('RunStarted', { agentId: 'a1', sessionId: 's2', generation: 2 })),
  at(11 + 25 * H, ev('AgentHeartbeat', { agentId: 'nobody' })),
];

describe('lifecycle state basics', () => {
  it('the default window is a day', () => {
    expect(DEFAULT_RETENTION_MS).toBe(86_400_000);
  });

  it.each<[SessionStateName, boolean, boolean]>([
    ['starting', true, false],
    ['running', true, false],
    ['terminating', true, false],
    ['suspended', false, false],
    ['terminated', false, true],
    ['failed', false, true],
  ])('%s: live %s, terminal %s', (state, live, terminal) => {
    expect(isLive(state)).toBe(live);
    expect(isTerminal(state)).toBe(terminal);
  });

  it('the initial state is empty, and a fresh one each time', () => {
    const a = initialLifecycleState();
    expect(a).toMatchObject({ position: null, newestAt: null, newestAtMs: null, retiring: [], anomalies: { count: 0, byReason: {}, recent: [] } });
    expect([a.pools.size, a.agents.size, a.sessions.size, a.evictedSessions.size, a.evictedAgents.size]).toEqual([0, 0, 0, 0, 0]);
    const b = initialLifecycleState();
    a.pools.set('p', { poolId: 'p', name: 'p', maxSize: 1, agentTypes: [], enabled: true });
    a.evictedAgents.add('x');
    a.anomalies.recent.push({ position: '1', eventId: null, type: null, reason: 'duplicate' });
    expect([b.pools.size, b.evictedAgents.has('x'), b.anomalies.recent.length]).toEqual([0, false, 0]);
  });

  it('defineProjection returns its argument', () => {
    const p = { name: 'n', version: 1, initialState: () => 0, apply: () => {} };
    expect(defineProjection(p)).toBe(p);
  });
});

describe('cloneLifecycleState', () => {
  it('is equal to its source and shares nothing with it', async () => {
    const s = await foldState(history);
    expect(s.evictedSessions.has('old')).toBe(true);
    expect(s.evictedAgents.has('gone')).toBe(true);
    const before = JSON.stringify(lifecycleProjection.toJSON!(s));
    const c = cloneLifecycleState(s);
    expect(c).toEqual(s);
    expect(JSON.stringify(lifecycleProjection.toJSON!(c))).toBe(before);

    c.position = 99n;
    c.pools.get('p1')!.agentTypes.push('x');
    c.pools.delete('p1');
    const a = c.agents.get('a1')!;
    a.openSessionIds.push('zz');
    a.run!.generation = 7;
    a.connection!.state = 'disconnected';
    c.sessions.get('s1')!.state = 'failed';
    c.sessions.clear();
    c.evictedSessions.add('new-session');
    c.evictedAgents.add('new-agent');
    c.retiring.push({ dueMs: 1, id: 'x', agent: false });
    c.anomalies.byReason['duplicate'] = 3;
    c.anomalies.recent[0]!.reason = 'duplicate';
    c.anomalies.count = 5;

    expect(JSON.stringify(lifecycleProjection.toJSON!(s))).toBe(before);
    expect(s.evictedSessions.has('new-session')).toBe(false);
    expect(s.evictedAgents.has('new-agent')).toBe(false);
    expect(c.evictedSessions.has('old')).toBe(true);
    expect(c.evictedAgents.has('gone')).toBe(true);
  });
});

describe('the lifecycle snapshot encoding', () => {
  it('sessions, retire heap, leases and liveSince as columns over one string table; ids sets encoded, positions as strings', async () => {
    const s = await foldState(history);
    const json = JSON.parse(JSON.stringify(lifecycleProjection.toJSON!(s))) as Record<string, unknown>;
    const newest = iso(11 + 25 * H);
    const strings = ['s1', 'a1', 'p1', 'terminated', 'h', iso(8 + 25 * H), iso(9 + 25 * H), 'superseded', 's2', 'running', '9', 'AgentSpawned'];
    const int32 = (...v: number[]) => Buffer.from(new Int32Array(v).buffer).toString('base64');
    const float64 = (...v: number[]) => Buffer.from(new Float64Array(v).buffer).toString('base64');
    expect(json).toEqual({
      position: '11',
      newestAt: newest,
      newestAtMs: Date.parse(newest),
      pools: [{ poolId: 'p1', name: 'p1', maxSize: 2, agentTypes: ['worker'], enabled: true }],
      agents: [
        {
          agentId: 'a1',
          name: null,
          role: 'worker',
          type: 'worker:v',
          removedAt: null,
          generation: 2,
          run: { sessionId: 's2', generation: 2 },
          connection: { connectionId: 'c1', state: 'connected', since: iso(7 + 25 * H) },
          // Running again since s1 started; the exit it remembers is the one before.
          startedAt: iso(8 + 25 * H),
          stoppedAt: null,
          lastSeenAt: iso(10 + 25 * H),
          lastExitReason: 'done',
          suspect: null,
          quarantine: null,
          abnormalEnds: [],
          openSessionIds: ['s2'],
        },
      ],
      hosts: [],
      // Each string once, each after a DEL.
      strings: strings.map((x) => `\x7f${x}`).join(''),
      sessions: {
        count: 2,
        // sessionId, agentId, poolId, state, host, startedAt, endedAt, terminatingSince, terminationReason
        refs: int32(0, 1, 2, 3, 4, 5, 6, -1, 7, 8, 1, -1, 9, -1, 6, -1, -1, -1),
        // pid, epoch, leaseMs, leaseExpiresMs: null is NaN
        numbers: float64(NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN),
      },
      // s1 (index 0) due at its end, not an agent's entry: 2 × 0 + 0.
      retiring: { count: 1, refs: int32(0), numbers: float64(Date.parse(iso(9 + 25 * H))) },
      leases: { count: 0, refs: '', numbers: '' },
      evictedSessions: s.evictedSessions.encode(),
      evictedAgents: s.evictedAgents.encode(),
      // s2 made live by event 9, an AgentSpawned at the time s1 ended: sessionId, position, type, at.
      liveSince: { count: 1, refs: int32(8, 10, 11, 6), numbers: '' },
      anomalies: { count: 1, byReason: { 'unknown-agent': 1 }, recent: [{ position: '11', eventId: history[10]!.id, type: 'AgentHeartbeat', reason: 'unknown-agent' }] },
    });
  });

  it('a string holding a DEL keeps the table as an array; a column of the wrong length or an index outside the table is unreadable', async () => {
    const s = await foldState(history);
    s.sessions.get('s1')!.terminationReason = 'odd\x7freason';
    const json = JSON.parse(JSON.stringify(lifecycleProjection.toJSON!(s))) as { strings: unknown; sessions: { refs: string } };
    expect(Array.isArray(json.strings)).toBe(true);
    expect(lifecycleProjection.fromJSON!(json)).toEqual(s);
    const short = { ...json, sessions: { ...json.sessions, refs: json.sessions.refs.slice(0, 8) } };
    expect(() => lifecycleProjection.fromJSON!(short)).toThrow(/packed column holds \d+ bytes/);
    const outside = { ...json, sessions: { ...json.sessions, refs: Buffer.from(new Int32Array(18).fill(99).buffer).toString('base64') } };
    expect(() => lifecycleProjection.fromJSON!(outside)).toThrow('string index 99 is outside the table');
  });

  it('decodes back to an equal state that goes on like the original', async () => {
    const s = await foldState(history);
    const back = lifecycleProjection.fromJSON!(JSON.parse(JSON.stringify(lifecycleProjection.toJSON!(s))));
    expect(back).toEqual(s);
    expect(back.position).toBe(11n);
    expect(back.evictedSessions.has('old')).toBe(true);
    expect(back.evictedAgents.has('gone')).toBe(true);
    expect(back.retiring).toEqual([{ dueMs: Date.parse(iso(9 + 25 * H)), id: 's1', agent: false }]);
    // A removed agent's entry decodes as an agent entry.
    const removed = await foldState([at(1, agent('r')), at(2, ev('AgentRemoved', { agentId: 'r' }))]);
    expect(lifecycleProjection.fromJSON!(JSON.parse(JSON.stringify(lifecycleProjection.toJSON!(removed)))).retiring).toEqual([{ dueMs: T0 + 2000, id: 'r', agent: true }]);
  });

  it('an empty state round-trips with a null position', () => {
    const s = initialLifecycleState();
    const json = lifecycleProjection.toJSON!(s) as { position: unknown };
    expect(json.position).toBeNull();
    expect(lifecycleProjection.fromJSON!(JSON.parse(JSON.stringify(json)))).toEqual(s);
  });

  it('the projection is versioned and its clone is the deep clone', async () => {
    expect(lifecycleProjection.version).toBe(10);
    expect(createLifecycleProjection().retentionMs).toBe(DEFAULT_RETENTION_MS);
    expect(createLifecycleProjection({ retentionMs: 5 }).retentionMs).toBe(5);
    const s = await foldState(history);
    const c = lifecycleProjection.clone!(s);
    c.evictedSessions.add('q');
    expect(s.evictedSessions.has('q')).toBe(false);
  });
});
