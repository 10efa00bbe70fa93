import { describe, expect, it, vi } from 'vitest';
import { RollcallError } from '../../src/errors.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { auditAgent } from '../../src/inspect/auditAgent.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { dedupeIds } from '../../src/replay/dedupeIds.js';
import { InvalidRecord, type ReplayItem } from '../../src/replay/replayItem.js';
import { agent, ended, ev, pool, record, spawned, starting, T0 } from '../support/lifecycle.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
/** The event at `s` seconds after T0 (explicit: the texts below quote the times). */
const at = <E extends LifecycleEvent>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const DAY = 24 * 3600;
const RECONCILE = 'if the process is gone, `rollcall reconcile` appends the event that ends it';

/** Audits `agentId` over `events` positioned 1..n, as one chunk. */
const audit = (events: LifecycleEvent[], agentId = 'a1') => auditAgent(createLifecycleProjection(), [record(events)], agentId);
const changesOf = async (events: LifecycleEvent[], agentId = 'a1') => (await audit(events, agentId)).entries.map((e) => e.changes);
const explanationOf = async (events: LifecycleEvent[], agentId = 'a1') => (await audit(events, agentId)).explanation;

describe('auditAgent: the timeline', () => {
  const timeline = [
    at(1, pool('p1', 2)),
    at(2, agent('a1')),
    at(3, agent('b1')),
    at(4, spawned('a1', 's1', { poolId: 'p1', pid: 7, host: 'h1' })),
    at(5, ev('AgentHeartbeat', { agentId: 'b1' })),
    at(6, ev('RunStarted', { agentId: 'a1', sessionId: 's1', generation: 0 })),
    at(7, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })),
    // Not the run in flight: ignored.
    at(8, ev('RunFinished', { agentId: 'a1', sessionId: 's1', generation: 5 })),
    at(9, ev('AgentHeartbeat', { agentId: 'a1' })),
  ];

  it('lists only the events naming the agent, each with what it changed and its anomaly', async () => {
    const a = await audit(timeline);
    expect(a.agentId).toBe('a1');
    expect(a.entries).toEqual([
      {
        position: '2',
        at: iso(2),
        eventId: timeline[1]!.id,
        type: 'AgentRegistered',
        data: { agentId: 'a1', role: 'worker' },
        // A new agent's null fields appearing are not news.
        changes: ['status: (none) → idle', 'generation: (none) → 0', 'busy: (none) → false'],
        anomaly: null,
      },
      {
        position: '4',
        at: iso(4),
        eventId: timeline[3]!.id,
        type: 'AgentSpawned',
        data: { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: 7, host: 'h1' },
        changes: [
          'status: idle → running',
          'currentSessionId: null → s1',
          'pid: null → 7',
          'host: null → h1',
          `lastSeenAt: null → ${iso(4)}`,
          's1.state: (none) → running',
          's1.pid: (none) → 7',
          's1.poolId: (none) → p1',
        ],
        anomaly: null,
      },
      {
        position: '6',
        at: iso(6),
        eventId: timeline[5]!.id,
        type: 'RunStarted',
        data: { agentId: 'a1', sessionId: 's1', generation: 0 },
        changes: ['busy: false → true', `lastSeenAt: ${iso(4)} → ${iso(6)}`],
        anomaly: null,
      },
      {
        position: '7',
        at: iso(7),
        eventId: timeline[6]!.id,
        type: 'SessionTerminationRequested',
        data: { agentId: 'a1', sessionId: 's1' },
        changes: ['s1.state: running → terminating'],
        anomaly: null,
      },
      {
        position: '8',
        at: iso(8),
        eventId: timeline[7]!.id,
        type: 'RunFinished',
        data: { agentId: 'a1', sessionId: 's1', generation: 5 },
        changes: [],
        anomaly: 'invalid-transition',
      },
      {
        position: '9',
        at: iso(9),
        eventId: timeline[8]!.id,
        type: 'AgentHeartbeat',
        data: { agentId: 'a1' },
        changes: [`lastSeenAt: ${iso(6)} → ${iso(9)}`],
        anomaly: null,
      },
    ]);
  });

  it('ends with the agent and its sessions as the projection shows them', async () => {
    const a = await audit([...timeline, at(10, spawned('b1', 'sb', { poolId: 'p1' }))]);
    expect(a.agent).toEqual({
      agentId: 'a1',
      name: null,
      role: 'worker',
      type: 'worker',
      status: 'running',
      currentSessionId: 's1',
      pid: 7,
      host: 'h1',
      generation: 0,
      busy: true,
      connection: null,
      startedAt: iso(4),
      stoppedAt: null,
      lastSeenAt: iso(9),
      lastExitReason: null,
      suspect: null,
      quarantine: null,
    });
    // Only its own sessions (b1's sb is in view too).
    expect(a.sessions).toEqual([
      {
        sessionId: 's1',
        agentId: 'a1',
        poolId: 'p1',
        state: 'terminating',
        pid: 7,
        host: 'h1',
        startedAt: iso(4),
        endedAt: null,
        terminatingSince: iso(7),
        terminationReason: null,
        epoch: null,
        leaseMs: null,
        leaseExpiresAt: null,
      },
    ]);
  });

  it('explains a terminating session: the request, pid and host, its pool, and the last accepted event for it', async () => {
    expect(await explanationOf(timeline)).toEqual([
      `counted as running because session s1 is terminating (termination requested at ${iso(7)}, no end event since), pid 7 on h1`,
      'it holds a slot in pool p1 (1/2 used)',
      // Not the ignored RunFinished at 8, nor the heartbeat at 9, which names no session.
      `last event for that session: SessionTerminationRequested at position 7 (${iso(7)})`,
      RECONCILE,
    ]);
  });
});

describe('auditAgent: what a change line reports', () => {
  it('a superseded session, named by no event but open before it, changes with the new one', async () => {
    expect(await changesOf([at(1, agent('a1')), at(2, spawned('a1', 's1', { pid: 1 })), at(3, spawned('a1', 's2', { pid: 2 }))])).toEqual([
      ['status: (none) → idle', 'generation: (none) → 0', 'busy: (none) → false'],
      ['status: idle → running', 'currentSessionId: null → s1', 'pid: null → 1', `lastSeenAt: null → ${iso(2)}`, 's1.state: (none) → running', 's1.pid: (none) → 1'],
      [
        'currentSessionId: s1 → s2',
        'pid: 1 → 2',
        `lastSeenAt: ${iso(2)} → ${iso(3)}`,
        's1.state: running → terminated',
        's1.pid: 1 → null',
        's1.terminationReason: null → superseded',
        's2.state: (none) → running',
        's2.pid: (none) → 2',
      ],
    ]);
  });

  it('an event naming no session reports the open sessions it ended', async () => {
    const changes = await changesOf([at(1, agent('a1')), at(2, spawned('a1', 's1', { pid: 7 })), at(3, ev('AgentStopped', { agentId: 'a1', reason: 'bye' }))]);
    expect(changes[2]).toEqual([
      'status: running → idle',
      'currentSessionId: s1 → null',
      'pid: 7 → null',
      'lastExitReason: null → bye',
      's1.state: running → terminated',
      's1.pid: 7 → null',
      's1.terminationReason: null → bye',
    ]);
  });

  it('connections are shown as id and state; generations as numbers', async () => {
    const changes = await changesOf([
      at(1, agent('a1')),
      at(2, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' })),
      at(3, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })),
      at(4, starting('a1', 's1', 'p9')),
      at(5, ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 3 })),
    ]);
    expect(changes.slice(1)).toEqual([
      ['connection: null → c1 connected', `lastSeenAt: null → ${iso(2)}`],
      ['connection: c1 connected → c1 disconnected'],
      ['status: idle → running', 'currentSessionId: null → s1', 's1.state: (none) → starting', 's1.poolId: (none) → p9'],
      ['status: running → idle', 'currentSessionId: s1 → null', 'generation: 0 → 3', 'lastExitReason: null → reset', 's1.state: starting → terminated', 's1.terminationReason: null → reset'],
    ]);
  });

  it('an agent leaving the state on its own (late) event: every field disappears, null ones included', async () => {
    const a = await audit([at(1, agent('a1')), at(2, ev('AgentRemoved', { agentId: 'a1' })), at(3 + DAY, ev('AgentHeartbeat', { agentId: 'a1' }))]);
    expect(a.entries.map((e) => [e.type, e.changes, e.anomaly])).toEqual([
      ['AgentRegistered', ['status: (none) → idle', 'generation: (none) → 0', 'busy: (none) → false'], null],
      ['AgentRemoved', ['status: idle → removed'], null],
      [
        'AgentHeartbeat',
        [
          'status: removed → (none)',
          'currentSessionId: null → (none)',
          'pid: null → (none)',
          'host: null → (none)',
          'generation: 0 → (none)',
          'busy: false → (none)',
          'connection: null → (none)',
          'lastExitReason: null → (none)',
          'lastSeenAt: null → (none)',
        ],
        'removed-agent',
      ],
    ]);
    expect(a.agent).toBeNull();
    expect(a.sessions).toEqual([]);
    expect(a.explanation).toEqual(['the agent is not in the projection (never registered, or removed and past the retention window)']);
  });
});

describe('auditAgent: the explanation', () => {
  it('an agent no event names', async () => {
    const a = await audit([at(1, agent('b1')), at(2, spawned('b1', 's1'))]);
    expect(a).toEqual({ agentId: 'a1', entries: [], agent: null, sessions: [], explanation: ['no event in the log names this agent'] });
  });

  it('an empty log', async () => {
    expect(await explanationOf([])).toEqual(['no event in the log names this agent']);
  });

  it('an agent named but never registered', async () => {
    const a = await audit([at(1, ev('AgentHeartbeat', { agentId: 'a1' }))]);
    expect(a.entries.map((e) => [e.position, e.changes, e.anomaly])).toEqual([['1', [], 'unknown-agent']]);
    expect(a.explanation).toEqual(['the agent is not in the projection (never registered, or removed and past the retention window)']);
  });

  it('an agent removed and past the window by the time of another agent event', async () => {
    const a = await audit([at(1, agent('a1')), at(2, ev('AgentRemoved', { agentId: 'a1' })), at(3 + DAY, agent('b1'))]);
    expect(a.entries.map((e) => e.type)).toEqual(['AgentRegistered', 'AgentRemoved']);
    expect(a.agent).toBeNull();
    expect(a.explanation).toEqual(['the agent is not in the projection (never registered, or removed and past the retention window)']);
  });

  it('an idle agent that never ran', async () => {
    expect(await explanationOf([at(1, agent('a1'))])).toEqual(['not counted: idle, no live session']);
  });

  it('an idle agent that ran: its last exit', async () => {
    expect(await explanationOf([at(1, agent('a1')), at(2, spawned('a1', 's1')), at(3, ended('a1', 's1', 'done'))])).toEqual([
      `not counted: idle, no live session (last exit: done at ${iso(3)})`,
    ]);
  });

  it('an agent removed while running', async () => {
    expect(await explanationOf([at(1, agent('a1')), at(2, spawned('a1', 's1')), at(3, ev('AgentRemoved', { agentId: 'a1' }))])).toEqual([
      `not counted: removed, no live session (last exit: agent_removed at ${iso(3)})`,
    ]);
  });

  it('an agent removed while idle', async () => {
    expect(await explanationOf([at(1, agent('a1')), at(2, ev('AgentRemoved', { agentId: 'a1' }))])).toEqual(['not counted: removed, no live session']);
  });

  it('a running session without pid, host or pool', async () => {
    expect(await explanationOf([at(1, agent('a1')), at(2, spawned('a1', 's1'))])).toEqual([
      'counted as running because session s1 is running',
      `last event for that session: AgentSpawned at position 2 (${iso(2)})`,
      RECONCILE,
    ]);
  });

  it('a starting session', async () => {
    expect(await explanationOf([at(1, agent('a1')), at(2, starting('a1', 's1'))])).toEqual([
      'counted as running because session s1 is starting',
      `last event for that session: SessionStarting at position 2 (${iso(2)})`,
      RECONCILE,
    ]);
  });

  it('a pid without a host, and a host without a pid', async () => {
    expect((await explanationOf([at(1, agent('a1')), at(2, spawned('a1', 's1', { pid: 42 }))]))[0]).toBe('counted as running because session s1 is running, pid 42');
    expect((await explanationOf([at(1, agent('a1')), at(2, spawned('a1', 's1', { host: 'box' }))]))[0]).toBe('counted as running because session s1 is running on box');
  });

  it('a terminating session without pid or host', async () => {
    expect((await explanationOf([at(1, agent('a1')), at(2, starting('a1', 's1')), at(3, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }))]))[0]).toBe(
      `counted as running because session s1 is terminating (termination requested at ${iso(3)}, no end event since)`,
    );
  });

  it('a pool that was deleted', async () => {
    expect(await explanationOf([at(1, pool('p1', 2)), at(2, agent('a1')), at(3, spawned('a1', 's1', { poolId: 'p1' })), at(4, ev('PoolDeleted', { poolId: 'p1' }))])).toEqual([
      'counted as running because session s1 is running',
      'its pool p1 is not in the projection (deleted or never created)',
      `last event for that session: AgentSpawned at position 3 (${iso(3)})`,
      RECONCILE,
    ]);
  });

  it('a director in a pool takes no slot of it', async () => {
    expect(await explanationOf([at(1, pool('p1', 3)), at(2, agent('a1', 'director')), at(3, spawned('a1', 's1', { poolId: 'p1' }))])).toEqual([
      'counted as running because session s1 is running',
      'it holds a slot in pool p1 (0/3 used)',
      `last event for that session: AgentSpawned at position 3 (${iso(3)})`,
      RECONCILE,
    ]);
  });

  it('the last event for the live session, not one for a session it superseded', async () => {
    const e = await explanationOf([
      at(1, agent('a1')),
      at(2, spawned('a1', 's1')),
      at(3, ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' })),
      at(4, spawned('a1', 's2')),
      at(5, ended('a1', 's1', 'cleanup')),
    ]);
    expect(e).toEqual([
      'counted as running because session s2 is running',
      `last event for that session: AgentSpawned at position 4 (${iso(4)})`,
      RECONCILE,
    ]);
  });
});

describe('auditAgent: only the agent own sessions', () => {
  it('an event of a1 naming a2\'s session is an anomaly, and a2\'s session its clock ends is not in a1\'s timeline', async () => {
    const a = await audit([
      at(1, agent('a1')),
      at(1, agent('a2')),
      at(2, spawned('a2', 's2', { leaseMs: 5_000 })),
      // Moves the clock past s2's lease (s2 ends) and names s2 under the wrong agent.
      at(20, ev('SessionSuspended', { agentId: 'a1', sessionId: 's2' })),
    ]);
    expect(a.entries.map((e) => [e.position, e.changes, e.anomaly])).toEqual([
      ['1', ['status: (none) → idle', 'generation: (none) → 0', 'busy: (none) → false'], null],
      ['4', [], 'session-agent-mismatch'],
    ]);
  });
});

describe('auditAgent: the source', () => {
  it('an undecodable item stops the audit with its error', async () => {
    const error = new RollcallError('invalid-event', 'line 2: bad');
    const items: ReplayItem[] = [...record([at(1, agent('a1'))]), new InvalidRecord(error, 2n, null, null)];
    await expect(auditAgent(createLifecycleProjection(), [items], 'a1')).rejects.toBe(error);
    await expect(auditAgent(createLifecycleProjection(), [items], 'nobody')).rejects.toBe(error);
  });

  it('redeliveries: of the agent own events an entry with the duplicate anomaly, of others nothing', async () => {
    const regA = at(1, agent('a1'));
    const regB = at(2, agent('b1'));
    const beat = at(3, ev('AgentHeartbeat', { agentId: 'a1' }));
    const events = [regA, regB, regB, beat, beat];
    const a = await auditAgent(createLifecycleProjection(), dedupeIds([record(events)]), 'a1');
    expect(a.entries.map((e) => [e.position, e.eventId, e.type, e.changes, e.anomaly])).toEqual([
      ['1', regA.id, 'AgentRegistered', ['status: (none) → idle', 'generation: (none) → 0', 'busy: (none) → false'], null],
      // b1's redelivery (position 3) was applied first: its anomaly is not this event's.
      ['4', beat.id, 'AgentHeartbeat', [`lastSeenAt: null → ${iso(3)}`], null],
      ['5', beat.id, 'AgentHeartbeat', [], 'duplicate'],
    ]);
    expect(a.agent?.lastSeenAt).toBe(iso(3));
  });

  it('events of other agents are applied before the agent next one (the eviction they cause is seen)', async () => {
    const a = await audit([
      at(1, agent('a1')),
      at(2, spawned('a1', 's1')),
      at(3, ended('a1', 's1')),
      // Moves the clock past the window: s1 leaves the state.
      at(4 + DAY, agent('b1')),
      at(5 + DAY, ev('SessionReset', { agentId: 'a1', sessionId: 's1', generation: 1 })),
    ]);
    expect(a.entries.at(-1)).toMatchObject({ position: '5', changes: [], anomaly: 'invalid-transition' });
    expect(a.agent?.generation).toBe(0);
    expect(a.sessions).toEqual([]);
  });

  it('chunks from an async source, split anywhere', async () => {
    const events = record([at(1, pool('p1', 1)), at(2, agent('a1')), at(3, spawned('a1', 's1', { poolId: 'p1' }))]);
    async function* source() {
      yield events.slice(0, 1);
      yield [];
      yield events.slice(1);
    }
    const a = await auditAgent(createLifecycleProjection(), source(), 'a1');
    expect(a.entries.map((e) => e.position)).toEqual(['2', '3']);
    expect(a.explanation[1]).toBe('it holds a slot in pool p1 (1/1 used)');
  });

  it('an agent that falls silent: the events after its last are folded a chunk at a time, each before the next chunk is read', async () => {
    const beat = (s: number) => at(s, ev('AgentHeartbeat', { agentId: 'b1' }));
    const events = [at(1, agent('a1')), at(2, agent('b1')), beat(3), beat(4), beat(5), beat(6)];
    const projection = createLifecycleProjection();
    const apply = vi.spyOn(projection, 'apply');
    /** Events applied when each chunk is asked for, and at the end of the source. */
    const appliedWhenAsked: number[] = [];
    const recorded = record(events);
    async function* source() {
      for (let i = 0; i < recorded.length; i += 2) {
        appliedWhenAsked.push(apply.mock.calls.length);
        yield recorded.slice(i, i + 2);
      }
      appliedWhenAsked.push(apply.mock.calls.length);
    }
    const chunked = await auditAgent(projection, source(), 'a1');
    // Not the whole tail in one synchronous fold at the end (a server shares its thread with it).
    expect(appliedWhenAsked).toEqual([0, 2, 4, 6]);
    expect(chunked).toEqual(await audit(events));
  });
});
