import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { checkInvariants } from '../../src/projections/checkInvariants.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { DEFAULT_RETENTION_MS, initialLifecycleState, isLive, type LifecycleState, type SessionRecord } from '../../src/projections/lifecycleState.js';
import { agent, ended, ev, foldState, pool, spawned, T0 } from '../support/lifecycle.js';

// Every invariant of checkInvariants, one corruption at a time: a valid state folded from a small
// history checks clean, then one fact of the plain state is changed by hand and the exact
// violations are asserted. Where one corruption necessarily breaks several invariants the whole
// list is asserted.

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
/** The event at `s` seconds after T0 (explicit times: the details below quote them). */
const at = <E extends LifecycleEvent>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });

const strayHeartbeat = at(24, ev('AgentHeartbeat', { agentId: 'nobody' }));

/**
 * p1 (max 2, enabled): a1's running s1 (pid 7, host h1, a run in flight) and director d1's s2, which takes no slot;
 * a2's s3 ended in p1. p2 (max 1): a5's terminating s5 (pid 5). p3 (max 3) disabled, empty.
 * a1 also holds suspended s0; a4 holds suspended s4a and s4b; r1 is removed. Two anomalies.
 */
const history: LifecycleEvent[] = [
  at(1, pool('p1', 2, { agentTypes: ['worker'] })),
  at(2, pool('p2', 1)),
  at(3, pool('p3', 3, { enabled: false })),
  at(4, agent('a1')),
  at(5, agent('d1', 'director')),
  at(6, agent('a2')),
  at(7, agent('a4')),
  at(8, agent('a5', 'worker', 'big')),
  at(9, agent('r1')),
  at(10, spawned('a1', 's0')),
  at(11, ev('SessionSuspended', { agentId: 'a1', sessionId: 's0' })),
  at(12, spawned('a1', 's1', { poolId: 'p1', pid: 7, host: 'h1' })),
  at(13, ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 })),
  at(14, spawned('d1', 's2', { poolId: 'p1', pid: 8 })),
  at(15, spawned('a2', 's3', { poolId: 'p1' })),
  at(16, ended('a2', 's3')),
  at(17, spawned('a4', 's4a')),
  at(18, ev('SessionSuspended', { agentId: 'a4', sessionId: 's4a' })),
  at(19, spawned('a4', 's4b')),
  at(20, ev('SessionSuspended', { agentId: 'a4', sessionId: 's4b' })),
  at(21, spawned('a5', 's5', { poolId: 'p2', pid: 5 })),
  at(22, ev('SessionTerminationRequested', { agentId: 'a5', sessionId: 's5' })),
  at(23, ev('AgentRemoved', { agentId: 'r1' })),
  strayHeartbeat,
  // The same id again: a duplicate.
  strayHeartbeat,
];

const base = () => foldState(history);
const session = (s: LifecycleState, id: string): SessionRecord => s.sessions.get(id)!;

/**
 * Folds the base history, corrupts it with `f`, and checks it. A corruption that makes a session
 * live or ends it by hand is one of other facts: liveSince follows it (as the reducer keeps it), so
 * only the invariant under test is broken; `liveSince: 'as-corrupted'` leaves it as `f` left it.
 */
const corrupt = async (f: (s: LifecycleState) => void, options?: { retentionMs?: number; liveSince?: 'follows' | 'as-corrupted' }) => {
  const s = await base();
  f(s);
  if (options?.liveSince !== 'as-corrupted') {
    for (const [id, x] of s.sessions) {
      if (isLive(x.state) && !s.liveSince.has(id)) s.liveSince.set(id, { position: '99', type: 'AgentSpawned', at: iso(99) });
      if (!isLive(x.state)) s.liveSince.delete(id);
    }
  }
  return options?.retentionMs === undefined ? checkInvariants(s) : checkInvariants(s, { retentionMs: options.retentionMs });
};

const ghostSession = (sessionId: string, agentId: string, poolId: string | null): SessionRecord => ({
  sessionId,
  agentId,
  poolId,
  state: 'running',
  pid: null,
  host: null,
  startedAt: iso(30),
  endedAt: null,
  terminatingSince: null,
  terminationReason: null,
  epoch: null,
  leaseMs: null,
  leaseExpiresMs: null,
});

describe('checkInvariants: valid states', () => {
  it('the initial state breaks nothing', () => {
    expect(checkInvariants(initialLifecycleState())).toEqual([]);
  });

  it('the base state is what the corruptions below start from, and breaks nothing', async () => {
    const s = await base();
    expect([...s.sessions.keys()]).toEqual(['s0', 's1', 's2', 's3', 's4a', 's4b', 's5']);
    expect(s.sessions.get('s5')!.state).toBe('terminating');
    expect(s.agents.get('a1')!.openSessionIds).toEqual(['s0', 's1']);
    expect(s.agents.get('a4')!.openSessionIds).toEqual(['s4a', 's4b']);
    expect(s.agents.get('r1')!.removedAt).toBe(iso(23));
    expect(s.anomalies).toMatchObject({ count: 2, byReason: { 'unknown-agent': 1, duplicate: 1 } });
    expect(s.retiring.map((r) => [r.dueMs, r.id, r.agent])).toEqual([
      [T0 + 16_000, 's3', false],
      [T0 + 23_000, 'r1', true],
    ]);
    expect(checkInvariants(s)).toEqual([]);
    expect(checkInvariants(s, {})).toEqual([]);
    expect(checkInvariants(s, { retentionMs: 1 })).toEqual([
      { invariant: 'retention', detail: `session s3 ended at ${iso(16)}, past the window, and is still kept` },
    ]);
  });

  it('a state folded by a projection with a short window checks clean with that window', async () => {
    const s = await foldState([...history, at(100, ev('AgentHeartbeat', { agentId: 'a1' }))], { retentionMs: 60_000 });
    // s3 ended 84 s before the newest event: still in a 60 s window? No: it left the state.
    expect(s.sessions.has('s3')).toBe(false);
    expect(s.evictedSessions.has('s3')).toBe(true);
    expect(createLifecycleProjection({ retentionMs: 60_000 }).check(s)).toEqual([]);
    expect(checkInvariants(s, { retentionMs: 60_000 })).toEqual([]);
  });
});

describe('retire-heap', () => {
  it('a valid heap that is not sorted is in heap order (children compare with their parent only)', async () => {
    expect(
      await corrupt((s) => {
        s.retiring = [
          { dueMs: 1, id: 's3', agent: false },
          { dueMs: 5, id: 'r1', agent: true },
          { dueMs: 2, id: 'x', agent: false },
          { dueMs: 6, id: 'y', agent: false },
          { dueMs: 5, id: 'z', agent: false },
        ];
      }),
    ).toEqual([]);
  });

  it('equal due times are in heap order', async () => {
    expect(
      await corrupt((s) => {
        s.retiring = [
          { dueMs: 3, id: 's3', agent: false },
          { dueMs: 3, id: 'r1', agent: true },
        ];
      }),
    ).toEqual([]);
  });

  it('each child due before its parent is reported at its index', async () => {
    expect(
      await corrupt((s) => {
        s.retiring = [
          { dueMs: 9, id: 's3', agent: false },
          { dueMs: 10, id: 'r1', agent: true },
          { dueMs: 4, id: 'x', agent: false },
          { dueMs: 11, id: 'y', agent: false },
          { dueMs: 9, id: 'z', agent: false },
          { dueMs: 3, id: 'w', agent: false },
        ];
      }),
    ).toEqual([
      { invariant: 'retire-heap', detail: 'retirement queue out of heap order at 2' },
      { invariant: 'retire-heap', detail: 'retirement queue out of heap order at 4' },
      { invariant: 'retire-heap', detail: 'retirement queue out of heap order at 5' },
    ]);
  });

  it('a second entry due before the first', async () => {
    expect(await corrupt((s) => s.retiring.reverse())).toEqual([{ invariant: 'retire-heap', detail: 'retirement queue out of heap order at 1' }]);
  });
});

describe('sessions', () => {
  it('session-key: a session kept under another id', async () => {
    expect(
      await corrupt((s) => {
        const s3 = session(s, 's3');
        s.sessions.delete('s3');
        s.sessions.set('sX', s3);
      }),
    ).toEqual([{ invariant: 'session-key', detail: 'session s3 is kept under sX' }]);
  });

  it('session-key: a live session kept under another id is reported, not a crash', async () => {
    expect(
      await corrupt((s) => {
        const s5 = session(s, 's5');
        s.sessions.delete('s5');
        s.sessions.set('sX', s5);
      }),
    ).toEqual([
      { invariant: 'session-key', detail: 'session s5 is kept under sX' },
      // The view looks s5 up by its id and does not find it: a5 shows idle.
      { invariant: 'agent-status', detail: 'agent a5 is idle with 1 live sessions' },
      // What made s5 live is remembered under its own id, which the state no longer holds.
      { invariant: 'live-since', detail: 'liveSince remembers s5, which is not in the state' },
      { invariant: 'running-set', detail: 'running is [a1,d1], agents with a live session are [a1,a5,d1]' },
      { invariant: 'pool-derived', detail: 'pool p2 lists [], live sessions say [a5]' },
      { invariant: 'pool-count', detail: 'pool p2 counts 0, expected 1' },
      { invariant: 'pool-slots', detail: 'pool p2 has 1 free slots, expected 0' },
      { invariant: 'pool-by-type', detail: 'pool p2 activeByType sums to 0, expected 1' },
    ]);
  });

  it('no-phantoms: a session of an agent the state does not know', async () => {
    expect(await corrupt((s) => (session(s, 's3').agentId = 'ghost'))).toEqual([
      { invariant: 'no-phantoms', detail: 'session s3 belongs to unknown agent ghost' },
    ]);
  });

  it('no-phantoms: a session of an agent that left the state is no phantom', async () => {
    expect(
      await corrupt((s) => {
        session(s, 's3').agentId = 'ghost';
        s.evictedAgents.add('ghost');
      }),
    ).toEqual([]);
  });

  it('terminal-has-end: a terminal session without endedAt', async () => {
    expect(await corrupt((s) => (session(s, 's3').endedAt = null))).toEqual([
      { invariant: 'terminal-has-end', detail: 'session s3 is terminated with endedAt null' },
    ]);
  });

  it('terminal-has-end: a failed session without endedAt', async () => {
    expect(
      await corrupt((s) => {
        session(s, 's3').state = 'failed';
        session(s, 's3').endedAt = null;
      }),
    ).toEqual([{ invariant: 'terminal-has-end', detail: 'session s3 is failed with endedAt null' }]);
  });

  it('terminal-has-end: a live session with an endedAt (long past: the window applies to terminal sessions only)', async () => {
    expect(await corrupt((s) => (session(s, 's1').endedAt = '1960-01-01T00:00:00.000Z'))).toEqual([
      { invariant: 'terminal-has-end', detail: 'session s1 is running with endedAt 1960-01-01T00:00:00.000Z' },
    ]);
  });

  it('pid-only-while-live: a terminated session with a pid', async () => {
    expect(await corrupt((s) => (session(s, 's3').pid = 9))).toEqual([
      { invariant: 'pid-only-while-live', detail: 'session s3 is terminated with pid 9' },
    ]);
  });

  it('pid-only-while-live: a suspended session with a pid', async () => {
    expect(await corrupt((s) => (session(s, 's4a').pid = 4))).toEqual([
      { invariant: 'pid-only-while-live', detail: 'session s4a is suspended with pid 4' },
    ]);
  });

  it('pid-only-while-live: starting and terminating sessions may have a pid', async () => {
    expect(
      await corrupt((s) => {
        session(s, 's1').state = 'starting';
        session(s, 's5').pid = 55;
      }),
    ).toEqual([]);
  });

  it('retire-queued: a terminal session missing from the retirement queue', async () => {
    expect(await corrupt((s) => (s.retiring = s.retiring.filter((r) => r.id !== 's3')))).toEqual([
      { invariant: 'retire-queued', detail: 'terminal session s3 is not queued to leave' },
    ]);
  });

  it('retire-queued: a session is not queued by an agent entry of the same id', async () => {
    expect(await corrupt((s) => (s.retiring[0]!.agent = true))).toEqual([
      { invariant: 'retire-queued', detail: 'terminal session s3 is not queued to leave' },
    ]);
  });

  it('evicted-once: a session both kept and evicted', async () => {
    expect(await corrupt((s) => s.evictedSessions.add('s3'))).toEqual([
      { invariant: 'evicted-once', detail: 'session s3 is both kept and evicted' },
    ]);
  });

  it('evicted-once: a live session both kept and evicted', async () => {
    expect(await corrupt((s) => s.evictedSessions.add('s1'))).toEqual([
      { invariant: 'evicted-once', detail: 'session s1 is both kept and evicted' },
    ]);
  });

  it('live-since: the base state remembers the event that made each live session live, and no other', async () => {
    const s = await base();
    expect([...s.liveSince]).toEqual([
      ['s1', { position: '12', type: 'AgentSpawned', at: iso(12) }],
      ['s2', { position: '14', type: 'AgentSpawned', at: iso(14) }],
      ['s5', { position: '21', type: 'AgentSpawned', at: iso(21) }],
    ]);
  });

  it('live-since: a live session without one', async () => {
    expect(await corrupt((s) => s.liveSince.delete('s1'), { liveSince: 'as-corrupted' })).toEqual([
      { invariant: 'live-since', detail: 'session s1 is running without a liveSince' },
    ]);
  });

  it('live-since: a terminating session without one', async () => {
    expect(await corrupt((s) => s.liveSince.delete('s5'), { liveSince: 'as-corrupted' })).toEqual([
      { invariant: 'live-since', detail: 'session s5 is terminating without a liveSince' },
    ]);
  });

  it('live-since: a suspended and an ended session remembered', async () => {
    const since = { position: '1', type: 'AgentSpawned', at: iso(1) };
    const found = await corrupt(
      (s) => {
        s.liveSince.set('s0', since);
        s.liveSince.set('s3', since);
      },
      { liveSince: 'as-corrupted' },
    );
    expect(found).toEqual([
      { invariant: 'live-since', detail: 'session s0 is suspended with a liveSince' },
      { invariant: 'live-since', detail: 'session s3 is terminated with a liveSince' },
    ]);
  });

  it('live-since: a session the state does not hold remembered', async () => {
    expect(await corrupt((s) => s.liveSince.set('gone', { position: '1', type: 'AgentSpawned', at: iso(1) }), { liveSince: 'as-corrupted' })).toEqual([
      { invariant: 'live-since', detail: 'liveSince remembers gone, which is not in the state' },
    ]);
  });
});

describe('retention', () => {
  const endedMs = T0 + 16_000;

  it('a terminal session ended exactly at the window edge is kept', async () => {
    expect(await corrupt((s) => (s.newestAtMs = endedMs + DEFAULT_RETENTION_MS))).toEqual([]);
  });

  it('one ms past the edge it should have left', async () => {
    expect(await corrupt((s) => (s.newestAtMs = endedMs + DEFAULT_RETENTION_MS + 1))).toEqual([
      { invariant: 'retention', detail: `session s3 ended at ${iso(16)}, past the window, and is still kept` },
    ]);
  });

  it('the retentionMs option replaces the default window', async () => {
    const newest = (s: LifecycleState) => (s.newestAtMs = endedMs + 1_000);
    expect(await corrupt(newest, { retentionMs: 1_000 })).toEqual([]);
    expect(await corrupt(newest, { retentionMs: 999 })).toEqual([
      { invariant: 'retention', detail: `session s3 ended at ${iso(16)}, past the window, and is still kept` },
    ]);
    expect(await corrupt(newest)).toEqual([]);
  });

  it('a longer window than the default keeps what the default would not', async () => {
    const newest = (s: LifecycleState) => (s.newestAtMs = endedMs + DEFAULT_RETENTION_MS + 5);
    expect(await corrupt(newest, { retentionMs: DEFAULT_RETENTION_MS + 5 })).toEqual([]);
    expect(await corrupt(newest, {})).toHaveLength(1);
  });

  it('without a clock nothing is past the window, however old', async () => {
    expect(
      await corrupt((s) => {
        s.newestAtMs = null;
        session(s, 's3').endedAt = '1960-01-01T00:00:00.000Z';
      }),
    ).toEqual([]);
  });

  it('only sessions are checked against the window (a removed agent leaves on its own entry)', async () => {
    expect(await corrupt((s) => (s.agents.get('r1')!.removedAt = '1960-01-01T00:00:00.000Z'))).toEqual([]);
  });
});

describe('agents', () => {
  it('agent-key: an agent kept under another id', async () => {
    expect(
      await corrupt((s) => {
        const r1 = s.agents.get('r1')!;
        s.agents.delete('r1');
        s.agents.set('rX', r1);
      }),
    ).toEqual([{ invariant: 'agent-key', detail: 'agent r1 is kept under rX' }]);
  });

  it('evicted-once: an agent both kept and evicted', async () => {
    expect(await corrupt((s) => s.evictedAgents.add('a2'))).toEqual([{ invariant: 'evicted-once', detail: 'agent a2 is both kept and evicted' }]);
  });

  it('retire-queued: a removed agent missing from the retirement queue', async () => {
    expect(await corrupt((s) => (s.retiring = s.retiring.filter((r) => r.id !== 'r1')))).toEqual([
      { invariant: 'retire-queued', detail: 'removed agent r1 is not queued to leave' },
    ]);
  });

  it('retire-queued: an agent is not queued by a session entry of the same id', async () => {
    expect(await corrupt((s) => (s.retiring[1]!.agent = false))).toEqual([
      { invariant: 'retire-queued', detail: 'removed agent r1 is not queued to leave' },
    ]);
  });

  it('open-session-index: an index missing an open session', async () => {
    expect(await corrupt((s) => (s.agents.get('a4')!.openSessionIds = ['s4b']))).toEqual([
      { invariant: 'open-session-index', detail: 'agent a4 indexes [s4b] but its open sessions are [s4a,s4b]' },
    ]);
  });

  it('open-session-index: an empty index of an agent with open sessions', async () => {
    expect(await corrupt((s) => (s.agents.get('a4')!.openSessionIds = []))).toEqual([
      { invariant: 'open-session-index', detail: 'agent a4 indexes [] but its open sessions are [s4a,s4b]' },
    ]);
  });

  it('open-session-index: an index naming a terminal session too', async () => {
    expect(await corrupt((s) => s.agents.get('a4')!.openSessionIds.push('s3'))).toEqual([
      { invariant: 'open-session-index', detail: 'agent a4 indexes [s4a,s4b,s3] but its open sessions are [s4a,s4b]' },
    ]);
  });

  it('open-session-index: an index with one id right and one wrong', async () => {
    expect(await corrupt((s) => (s.agents.get('a4')!.openSessionIds = ['s4a', 's4c']))).toEqual([
      { invariant: 'open-session-index', detail: 'agent a4 indexes [s4a,s4c] but its open sessions are [s4a,s4b]' },
    ]);
  });

  it('open-session-index: an index in another order (of suspended sessions) is the same index', async () => {
    expect(await corrupt((s) => s.agents.get('a4')!.openSessionIds.reverse())).toEqual([]);
  });

  it('open-session-index: an agent without sessions indexing one', async () => {
    expect(await corrupt((s) => (s.agents.get('a2')!.openSessionIds = ['s4a']))).toEqual([
      { invariant: 'open-session-index', detail: 'agent a2 indexes [s4a] but its open sessions are []' },
    ]);
  });

  it('current-session: the live session is not the last of the index', async () => {
    expect(await corrupt((s) => s.agents.get('a1')!.openSessionIds.reverse())).toEqual([
      { invariant: 'current-session', detail: "agent a1's live session s1 is not its current one" },
    ]);
  });

  it('one-live-session: an agent with two live sessions', async () => {
    expect(
      await corrupt((s) => {
        session(s, 's4a').state = 'running';
        session(s, 's4b').state = 'starting';
      }),
    ).toEqual([{ invariant: 'one-live-session', detail: 'agent a4 has 2 live sessions: s4a, s4b' }]);
  });

  it('one-live-session: three live sessions', async () => {
    // With more than one live session there is no one pid to expect; the view shows the last one's.
    expect(await corrupt((s) => (session(s, 's0').state = 'terminating'))).toEqual([
      { invariant: 'one-live-session', detail: 'agent a1 has 2 live sessions: s0, s1' },
      { invariant: 'agent-pid', detail: 'agent a1 reports pid 7, its live session has null' },
    ]);
    expect(
      await corrupt((s) => {
        session(s, 's0').state = 'running';
        s.agents.get('a1')!.openSessionIds.push('s9');
        s.sessions.set('s9', ghostSession('s9', 'a1', 'p1'));
      }),
    ).toEqual([
      // The view reads the pid of s9, the last live one indexed: null, as expected of several.
      { invariant: 'one-live-session', detail: 'agent a1 has 3 live sessions: s0, s1, s9' },
    ]);
  });

  it('agent-pid: with two live sessions no pid is expected, even one they share with the view', async () => {
    expect(
      await corrupt((s) => {
        session(s, 's0').state = 'terminating';
        session(s, 's0').pid = 7;
      }),
    ).toEqual([
      { invariant: 'one-live-session', detail: 'agent a1 has 2 live sessions: s0, s1' },
      { invariant: 'agent-pid', detail: 'agent a1 reports pid 7, its live session has null' },
    ]);
  });

  it('agent-pid: the view takes its pid from an indexed session of another agent', async () => {
    expect(
      await corrupt((s) => {
        // s5 (a5's, pid 5) indexed by a1 too, last: the view's a1 reads its pid from it.
        s.agents.get('a1')!.openSessionIds.push('s5');
        // Moved to p1, a1's and a5's pools agree: the view counts both there through s5.
        session(s, 's5').poolId = 'p1';
      }),
    ).toEqual([
      { invariant: 'open-session-index', detail: 'agent a1 indexes [s0,s1,s5] but its open sessions are [s0,s1]' },
      { invariant: 'current-session', detail: "agent a1's live session s1 is not its current one" },
      { invariant: 'agent-pid', detail: 'agent a1 reports pid 5, its live session has 7' },
    ]);
  });

  it('agent-pid and agent-status: an idle agent whose index names a live session of another agent', async () => {
    expect(await corrupt((s) => s.agents.get('a4')!.openSessionIds.push('s5'))).toEqual([
      { invariant: 'open-session-index', detail: 'agent a4 indexes [s4a,s4b,s5] but its open sessions are [s4a,s4b]' },
      { invariant: 'agent-pid', detail: 'agent a4 reports pid 5, its live session has null' },
      { invariant: 'agent-status', detail: 'agent a4 is running with 0 live sessions' },
      { invariant: 'running-set', detail: 'running is [a1,a4,a5,d1], agents with a live session are [a1,a5,d1]' },
      { invariant: 'pool-derived', detail: 'pool p2 lists [a4,a5], live sessions say [a5]' },
      { invariant: 'pool-count', detail: 'pool p2 counts 2, expected 1' },
      { invariant: 'pool-over', detail: 'pool p2 overCapacityBy 1' },
      { invariant: 'pool-by-type', detail: 'pool p2 activeByType sums to 2, expected 1' },
    ]);
  });

  it('a live session missing from its agent index breaks the index, the status, the pid and the running set', async () => {
    expect(await corrupt((s) => (s.agents.get('a5')!.openSessionIds = []))).toEqual([
      { invariant: 'open-session-index', detail: 'agent a5 indexes [] but its open sessions are [s5]' },
      { invariant: 'current-session', detail: "agent a5's live session s5 is not its current one" },
      { invariant: 'agent-pid', detail: 'agent a5 reports pid null, its live session has 5' },
      { invariant: 'agent-status', detail: 'agent a5 is idle with 1 live sessions' },
      { invariant: 'running-set', detail: 'running is [a1,d1], agents with a live session are [a1,a5,d1]' },
      { invariant: 'pool-derived', detail: 'pool p2 lists [], live sessions say [a5]' },
      { invariant: 'pool-count', detail: 'pool p2 counts 0, expected 1' },
      { invariant: 'pool-slots', detail: 'pool p2 has 1 free slots, expected 0' },
      { invariant: 'pool-by-type', detail: 'pool p2 activeByType sums to 0, expected 1' },
    ]);
  });

  it('agent-status: a removed agent is not running, whatever sessions it holds (no invariant forbids the live one)', async () => {
    // AgentRemoved ends every session of the agent, so no reducer leaves this; the checks above only
    // compare status with liveness, which for a removed agent is 'removed' either way.
    expect(
      await corrupt((s) => {
        s.sessions.set('sr', ghostSession('sr', 'r1', null));
        s.agents.get('r1')!.openSessionIds = ['sr'];
      }),
    ).toEqual([]);
  });

  it('run-outlives-session: a run in a terminal session', async () => {
    expect(await corrupt((s) => (s.agents.get('a2')!.run = { sessionId: 's3', generation: 0 }))).toEqual([
      { invariant: 'run-outlives-session', detail: 'agent a2 has a run in s3, which is not live' },
    ]);
  });

  it('run-outlives-session: a run in a session the state does not hold', async () => {
    expect(await corrupt((s) => (s.agents.get('a2')!.run = { sessionId: 'gone', generation: 3 }))).toEqual([
      { invariant: 'run-outlives-session', detail: 'agent a2 has a run in gone, which is not live' },
    ]);
  });

  it('run-outlives-session: a run in a suspended session (not busy: the session is not live)', async () => {
    expect(await corrupt((s) => (s.agents.get('a1')!.run = { sessionId: 's0', generation: 0 }))).toEqual([
      { invariant: 'run-outlives-session', detail: 'agent a1 has a run in s0, which is not live' },
    ]);
  });

  it('a run in a terminating session is fine', async () => {
    expect(await corrupt((s) => (s.agents.get('a5')!.run = { sessionId: 's5', generation: 0 }))).toEqual([]);
  });
});

describe('host-session-index', () => {
  it('the base state indexes its one live session with a host, under that host', async () => {
    const s = await base();
    expect(s.liveOnHost).toEqual(new Map([['h1', new Set(['s1'])]]));
  });

  it('an index missing a live session', async () => {
    expect(await corrupt((s) => s.liveOnHost.clear())).toEqual([
      { invariant: 'host-session-index', detail: 'host h1 indexes [] but its live sessions are [s1]' },
    ]);
  });

  it('an index naming a session that is not live on that host', async () => {
    expect(await corrupt((s) => s.liveOnHost.get('h1')!.add('s0'))).toEqual([
      { invariant: 'host-session-index', detail: 'host h1 indexes [s0,s1] but its live sessions are [s1]' },
    ]);
  });

  it('an empty entry for a host with no live session', async () => {
    expect(await corrupt((s) => s.liveOnHost.set('h2', new Set()))).toEqual([
      { invariant: 'host-session-index', detail: 'host h2 indexes [] but its live sessions are []' },
    ]);
  });

  it('a session moved to another host without its index', async () => {
    expect(await corrupt((s) => (session(s, 's1').host = 'h2'))).toEqual([
      { invariant: 'host-session-index', detail: 'host h2 indexes [] but its live sessions are [s1]' },
      { invariant: 'host-session-index', detail: 'host h1 indexes [s1] but its live sessions are []' },
    ]);
  });
});

describe('running and busy sets', () => {
  it('running-set: a live session of an agent that left the state', async () => {
    expect(
      await corrupt((s) => {
        s.sessions.set('sg', ghostSession('sg', 'ghost', null));
        s.evictedAgents.add('ghost');
      }),
    ).toEqual([{ invariant: 'running-set', detail: 'running is [a1,a5,d1], agents with a live session are [a1,a5,d1,ghost]' }]);
  });

  it('busy-implies-running: an idle agent with a run in another agent live session', async () => {
    expect(await corrupt((s) => (s.agents.get('a2')!.run = { sessionId: 's1', generation: 0 }))).toEqual([
      { invariant: 'busy-implies-running', detail: 'agent a2 is busy without a live session' },
    ]);
  });
});

describe('pools', () => {
  const ghosts = (s: LifecycleState, poolId: string, ...ids: string[]) => {
    for (const id of ids) {
      s.sessions.set(`s-${id}`, ghostSession(`s-${id}`, id, poolId));
      s.evictedAgents.add(id);
    }
  };
  const running = (ids: string) => ({ invariant: 'running-set', detail: `running is [a1,a5,d1], agents with a live session are [${ids}]` });

  it('a pool full to capacity, an empty one and a disabled one check clean', async () => {
    expect(
      await corrupt((s) => {
        s.pools.get('p1')!.maxSize = 1;
        s.pools.get('p3')!.enabled = true;
      }),
    ).toEqual([]);
  });

  it('pool-derived, pool-count, pool-slots, pool-by-type: a live session the view does not count', async () => {
    expect(await corrupt((s) => ghosts(s, 'p1', 'g1'))).toEqual([
      running('a1,a5,d1,g1'),
      { invariant: 'pool-derived', detail: 'pool p1 lists [a1], live sessions say [a1,g1]' },
      { invariant: 'pool-count', detail: 'pool p1 counts 1, expected 2' },
      { invariant: 'pool-slots', detail: 'pool p1 has 1 free slots, expected 0' },
      { invariant: 'pool-by-type', detail: 'pool p1 activeByType sums to 1, expected 2' },
    ]);
  });

  it('pool-over: more live sessions than slots', async () => {
    expect(await corrupt((s) => ghosts(s, 'p1', 'g1', 'g2'))).toEqual([
      running('a1,a5,d1,g1,g2'),
      { invariant: 'pool-derived', detail: 'pool p1 lists [a1], live sessions say [a1,g1,g2]' },
      { invariant: 'pool-count', detail: 'pool p1 counts 1, expected 3' },
      { invariant: 'pool-slots', detail: 'pool p1 has 1 free slots, expected 0' },
      { invariant: 'pool-over', detail: 'pool p1 overCapacityBy 0' },
      { invariant: 'pool-by-type', detail: 'pool p1 activeByType sums to 1, expected 3' },
    ]);
  });

  it('a disabled pool has no free slots either way: no pool-slots', async () => {
    expect(await corrupt((s) => ghosts(s, 'p3', 'g1'))).toEqual([
      running('a1,a5,d1,g1'),
      { invariant: 'pool-derived', detail: 'pool p3 lists [], live sessions say [g1]' },
      { invariant: 'pool-count', detail: 'pool p3 counts 0, expected 1' },
      { invariant: 'pool-by-type', detail: 'pool p3 activeByType sums to 0, expected 1' },
    ]);
  });

  it('a director session takes no slot in the check either', async () => {
    expect(
      await corrupt((s) => {
        // d1's session counted by the view's rule and the check's alike: d1 remains a director.
        session(s, 's2').poolId = 'p2';
      }),
    ).toEqual([]);
  });

  it('a live session of the same pool counted once per agent', async () => {
    expect(
      await corrupt((s) => {
        session(s, 's0').state = 'running';
        session(s, 's0').poolId = 'p1';
      }),
    ).toEqual([
      { invariant: 'one-live-session', detail: 'agent a1 has 2 live sessions: s0, s1' },
      { invariant: 'agent-pid', detail: 'agent a1 reports pid 7, its live session has null' },
    ]);
  });

  it('pool-slots: the free slots expected are those the live sessions leave', async () => {
    expect(
      await corrupt((s) => {
        s.pools.get('p1')!.maxSize = 5;
        ghosts(s, 'p1', 'g1');
      }),
    ).toEqual([
      running('a1,a5,d1,g1'),
      { invariant: 'pool-derived', detail: 'pool p1 lists [a1], live sessions say [a1,g1]' },
      { invariant: 'pool-count', detail: 'pool p1 counts 1, expected 2' },
      { invariant: 'pool-slots', detail: 'pool p1 has 4 free slots, expected 3' },
      { invariant: 'pool-by-type', detail: 'pool p1 activeByType sums to 1, expected 2' },
    ]);
  });
});

describe('anomalies', () => {
  it('anomaly-count: a count that is not the sum of byReason', async () => {
    expect(await corrupt((s) => (s.anomalies.count = 3))).toEqual([{ invariant: 'anomaly-count', detail: 'anomalies.count 3 but byReason sums to 2' }]);
    expect(await corrupt((s) => (s.anomalies.byReason['stale-pid'] = 4))).toEqual([{ invariant: 'anomaly-count', detail: 'anomalies.count 2 but byReason sums to 6' }]);
  });

  it('a reason present but undefined counts as none', async () => {
    expect(await corrupt((s) => ((s.anomalies.byReason as Record<string, number | undefined>)['stale-pid'] = undefined))).toEqual([]);
  });

  it('anomaly-recent: 100 recent anomalies are fine, 101 are one too many', async () => {
    const fill = (n: number) => (s: LifecycleState) => {
      s.anomalies.recent = Array.from({ length: n }, (_, i) => ({ position: String(i), eventId: null, type: null, reason: 'duplicate' as const }));
    };
    expect(await corrupt(fill(100))).toEqual([]);
    expect(await corrupt(fill(101))).toEqual([{ invariant: 'anomaly-recent', detail: 'anomalies.recent holds 101 entries' }]);
  });
});
