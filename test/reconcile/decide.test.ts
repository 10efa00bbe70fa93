import { describe, expect, it } from 'vitest';
import { decide } from '../../src/reconcile/decide.js';
import { uuidV5 } from '../../src/events/eventId.js';
import { correctionId } from '../../src/reconcile/correctionId.js';
import { agent, ev, foldView, pool } from '../support/lifecycle.js';
import { MIN, at, given, nothing } from './support.js';

const connected = (s: number, connectionId = 'c1') => ev('AgentConnected', { agentId: 'a1', connectionId }, { at: s });
const disconnected = (s: number, connectionId = 'c1') => ev('AgentDisconnected', { agentId: 'a1', connectionId }, { at: s });
const heartbeat = (s: number) => ev('AgentHeartbeat', { agentId: 'a1' }, { at: s });
const terminationRequested = (s: number) => ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }, { at: s });
const setup = (s = 0) => [ev('PoolCreated', { poolId: 'p1', name: 'p1', maxSize: 1 }, { at: s }), ev('AgentRegistered', { agentId: 'a1', role: 'worker', variant: 'ephemeral' }, { at: s })];
const spawnAt = (s: number, pid = 42) => ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid }, { at: s });
const dead = (pid = 42, detail = 'no such process (ESRCH)') => ({ pids: { [pid]: { alive: false, detail } } });
const alive = (pid = 42) => ({ pids: { [pid]: { alive: true } } });

describe('rule: a dead pid of a live session → AgentCrashed (PID check)', () => {
  it('crashes the running session whose pid is dead and frees its pool slot', () =>
    given(...setup(), spawnAt(1)).when(5, dead()).then(({ decisions, after }) => {
      expect(decisions).toHaveLength(1);
      expect(decisions[0]).toMatchObject({
        rule: 'dead-pid', agentId: 'a1', sessionId: 's1',
        event: { type: 'AgentCrashed', data: { agentId: 'a1', reason: 'Process no longer alive (PID check)', pid: 42 } },
      });
      expect(decisions[0]!.event.metadata['observed']).toMatchObject({ pid: 42, alive: false, detail: 'no such process (ESRCH)', lastSeenAt: at(1) });
      expect(after.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'Process no longer alive (PID check)', endedAt: at(5) });
      expect(after.running).toEqual([]);
      expect(after.pools['p1']!.status).toMatchObject({ activeCount: 0, availableSlots: 1, activeAgentIds: [] });
      expect(after.agents['a1']).toMatchObject({ status: 'idle', pid: null, lastExitReason: 'Process no longer alive (PID check)' });
    }));

  it('a zombie counts as dead, and what was seen is recorded', () =>
    given(...setup(), spawnAt(1)).when(5, dead(42, 'zombie (state Z)')).then(({ decisions }) => {
      expect(decisions.map((d) => d.rule)).toEqual(['dead-pid']);
      expect(decisions[0]!.event.metadata['observed']).toMatchObject({ detail: 'zombie (state Z)' });
    }));

  it('also crashes a terminating session whose process is gone, without waiting for the terminating timeout', () =>
    given(...setup(), spawnAt(1), terminationRequested(2)).when(5, dead()).then(({ decisions, after }) => {
      expect(decisions.map((d) => d.rule)).toEqual(['dead-pid']);
      expect(after.sessions['s1']!.state).toBe('terminated');
    }));

  it('does not touch a session whose pid is alive', () => given(...setup(), spawnAt(1)).when(10 * MIN, alive()).then(nothing));

  it('does not guess about a pid nobody checked', () => given(...setup(), spawnAt(1)).when(10 * MIN, dead(7)).then(nothing));

  it('does not crash the current process for the death of an older pid of the same session', () =>
    given(...setup(), spawnAt(1, 42), spawnAt(2, 43)).when(5, dead(42)).then(nothing));

  it('is off with pidCheck: false', () => given(...setup(), spawnAt(1)).when(5, dead(), { pidCheck: false }).then(nothing));
});

describe('rule: an agent disconnected past its grace period with a live session → AgentCrashed agent_disconnected', () => {
  const history = [...setup(), connected(0), spawnAt(1), disconnected(10)];

  it('crashes the running session (with its pid) 30 s after the disconnect', () =>
    given(...history).when(41).then(({ decisions, after }) => {
      expect(decisions).toHaveLength(1);
      expect(decisions[0]).toMatchObject({
        rule: 'agent-disconnected', sessionId: 's1',
        event: { type: 'AgentCrashed', data: { agentId: 'a1', reason: 'agent_disconnected', pid: 42 } },
      });
      expect(decisions[0]!.event.metadata['observed']).toMatchObject({ connection: 'disconnected', absentSince: at(10), absentForMs: 31_000, graceMs: 30_000 });
      expect(after.running).toEqual([]);
      expect(after.pools['p1']!.status.availableSlots).toBe(1);
      // Connection state is a separate fact: the crash does not rewrite it.
      expect(after.agents['a1']!.connection).toMatchObject({ state: 'disconnected', connectionId: 'c1' });
    }));

  it('leaves it alone within the grace period (30 s is not more than 30 s)', () => given(...history).when(40).then(nothing));

  it('leaves it alone when the agent reconnected within the grace period', () =>
    given(...history, connected(20, 'c2')).when(10 * MIN).then(nothing));

  it('a heartbeat after the disconnect restarts the grace period', async () => {
    await given(...history, heartbeat(30)).when(55).then(nothing);
    await given(...history, heartbeat(30)).when(61).then(({ decisions }) => expect(decisions.map((d) => d.rule)).toEqual(['agent-disconnected']));
  });

  it('a disconnect of an old connection (ignored by the projection) changes nothing', () =>
    given(...setup(), connected(0, 'c1'), connected(5, 'c2'), spawnAt(6), disconnected(10, 'c1')).when(10 * MIN).then(nothing));

  it('believes the orchestrator when it observes a disconnect the log does not have yet', async () => {
    const obs = { agents: { a1: { connection: 'disconnected' as const, disconnectedSince: at(100) } } };
    await given(...setup(), connected(0), spawnAt(1)).when(120, obs).then(nothing);
    await given(...setup(), connected(0), spawnAt(1)).when(131, obs).then(({ decisions }) => {
      expect(decisions.map((d) => d.rule)).toEqual(['agent-disconnected']);
    });
  });

  it('believes the orchestrator when it observes the agent connected again', () =>
    given(...history).when(10 * MIN, { agents: { a1: { connection: 'connected' } } }).then(nothing));

  it('an observed heartbeat newer than the log keeps the agent within its grace', () =>
    given(...history).when(100, { agents: { a1: { lastHeartbeatAt: at(90) } } }).then(nothing));

  it('crashes a starting session without a pid, which applies to all live sessions of the agent', () =>
    given(...setup(), connected(0), ev('SessionStarting', { agentId: 'a1', sessionId: 's1', poolId: 'p1' }, { at: 1 }), disconnected(10))
      .when(41)
      .then(({ decisions, after }) => {
        expect(decisions).toHaveLength(1);
        expect(decisions[0]!.event).toMatchObject({ type: 'AgentCrashed', data: { agentId: 'a1', reason: 'agent_disconnected' } });
        expect(decisions[0]!.event.data).not.toHaveProperty('pid');
        expect(after.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'agent_disconnected' });
      }));

  it('does nothing for a disconnected agent without a live session', () =>
    given(...setup(), connected(0), spawnAt(1), ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' }, { at: 5 }), disconnected(10))
      .when(10 * MIN)
      .then(nothing));

  it('leaves a terminating session to the terminating timeout (it was asked to stop; that is no crash)', () =>
    given(...history, terminationRequested(11)).when(5 * MIN).then(nothing));

  it('honours a configured grace period, and can be turned off', async () => {
    await given(...history).when(100, {}, { disconnectGraceMs: 120_000 }).then(nothing);
    await given(...history).when(131, {}, { disconnectGraceMs: 120_000 }).then(({ decisions }) => expect(decisions).toHaveLength(1));
    await given(...history).when(60 * MIN, {}, { disconnectGraceMs: null }).then(nothing);
  });
});

describe('rule: terminating for more than 10 min with the agent disconnected or gone → SessionEnded agent_unavailable', () => {
  const stuck = [...setup(), connected(0), spawnAt(1), terminationRequested(100), disconnected(110)];

  it('ends the session after 10 minutes, freeing its slot', () =>
    given(...stuck).when(100 + 10 * MIN + 1).then(({ decisions, after }) => {
      expect(decisions).toHaveLength(1);
      expect(decisions[0]).toMatchObject({
        rule: 'stuck-terminating', sessionId: 's1',
        event: { type: 'SessionEnded', data: { agentId: 'a1', sessionId: 's1', reason: 'agent_unavailable' } },
      });
      expect(decisions[0]!.event.metadata['observed']).toMatchObject({ terminatingSince: at(100), agent: 'disconnected', timeoutMs: 600_000 });
      expect(after.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'agent_unavailable' });
      expect(after.pools['p1']!.status).toMatchObject({ activeCount: 0, availableSlots: 1 });
    }));

  it('not before 10 minutes', () => given(...stuck).when(100 + 10 * MIN).then(nothing));

  it('not while the agent is still connected (it may yet stop the session)', () =>
    given(...setup(), connected(0), spawnAt(1), terminationRequested(100)).when(100 + 60 * MIN).then(nothing));

  it('not when nothing says the agent is gone (no connection tracked, pid not checked)', () =>
    given(...setup(), spawnAt(1), terminationRequested(100)).when(100 + 60 * MIN).then(nothing));

  it('when the orchestrator observes the agent gone', () =>
    given(...setup(), connected(0), spawnAt(1), terminationRequested(100))
      .when(100 + 11 * MIN, { agents: { a1: { connection: 'gone' } } })
      .then(({ decisions }) => {
        expect(decisions.map((d) => d.rule)).toEqual(['stuck-terminating']);
        expect(decisions[0]!.event.metadata['observed']).toMatchObject({ agent: 'gone' });
      }));

  it('when its pid is dead and the pid rule is off', () =>
    given(...setup(), connected(0), spawnAt(1), terminationRequested(100))
      .when(100 + 11 * MIN, dead(), { pidCheck: false })
      .then(({ decisions }) => {
        expect(decisions.map((d) => d.rule)).toEqual(['stuck-terminating']);
        expect(decisions[0]!.event.metadata['observed']).toMatchObject({ agent: 'pid-dead', alive: false });
      }));

  it('honours a configured timeout', () =>
    given(...stuck).when(100 + 5 * MIN + 1, {}, { terminatingTimeoutMs: 5 * 60_000 }).then(({ decisions }) => expect(decisions).toHaveLength(1)));
});

describe('rule: starting for more than 10 min → SessionStartFailed start_timeout', () => {
  const reserved = [...setup(), ev('SessionStarting', { agentId: 'a1', sessionId: 's1', poolId: 'p1' }, { at: 0 })];

  it('fails the start and frees the reserved slot', () =>
    given(...reserved).when(10 * MIN + 1).then(({ decisions, after }) => {
      expect(decisions).toHaveLength(1);
      expect(decisions[0]).toMatchObject({
        rule: 'start-timeout',
        event: { type: 'SessionStartFailed', data: { agentId: 'a1', sessionId: 's1', reason: 'start_timeout' } },
      });
      expect(after.sessions['s1']).toMatchObject({ state: 'failed', terminationReason: 'start_timeout' });
      expect(after.pools['p1']!.status).toMatchObject({ activeCount: 0, availableSlots: 1 });
    }));

  it('not while it is younger than the timeout', () => given(...reserved).when(10 * MIN).then(nothing));

  it('not once it is running', () => given(...reserved, spawnAt(5 * MIN)).when(60 * MIN).then(nothing));

  it('can be turned off', () => given(...reserved).when(60 * MIN, {}, { startingTimeoutMs: null }).then(nothing));
});

describe('decide as a whole', () => {
  it('decides for several agents in agent-id order, one correction per session', async () => {
    const events = [
      pool('p1', 3), agent('b'), agent('a'), agent('c'),
      ev('AgentSpawned', { agentId: 'b', sessionId: 'sb', pid: 2, poolId: 'p1' }, { at: 1 }),
      ev('AgentSpawned', { agentId: 'a', sessionId: 'sa', pid: 1, poolId: 'p1' }, { at: 1 }),
      ev('SessionStarting', { agentId: 'c', sessionId: 'sc', poolId: 'p1' }, { at: 1 }),
    ];
    await given(...events).when(20 * MIN, { pids: { 1: { alive: false }, 2: { alive: false } } }).then(({ decisions, after }) => {
      expect(decisions.map((d) => [d.agentId, d.rule])).toEqual([['a', 'dead-pid'], ['b', 'dead-pid'], ['c', 'start-timeout']]);
      expect(after.pools['p1']!.status).toMatchObject({ activeCount: 0, availableSlots: 3 });
    });
  });

  it('rejects a `now` that is not an ISO time', async () => {
    const view = await foldView([agent('a1')]);
    expect(() => decide(view, {}, 'yesterday')).toThrow(/ISO-8601/);
  });
});

describe('correction ids', () => {
  it('are RFC 9562 version-5 UUIDs (the RFC test vector)', () => {
    const dns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex');
    expect(uuidV5('www.example.com', dns)).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('depend on the projection fact, not on the clock or on what else was observed', async () => {
    const view = await foldView([...setup(), spawnAt(1)]);
    const one = decide(view, dead(42, 'zombie (state Z)'), at(5));
    const two = decide(view, { ...dead(42, 'no such process (ESRCH)'), agents: { a1: { lastHeartbeatAt: at(3) } } }, at(500));
    expect(one[0]!.event.id).toBe(two[0]!.event.id);
    expect(one[0]!.event.metadata.at).not.toBe(two[0]!.event.metadata.at);
    expect(one[0]!.event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('differ for a new stint of the same session even when the pid is reused', async () => {
    const first = await foldView([...setup(), spawnAt(1)]);
    const resumed = await foldView([
      ...setup(), spawnAt(1),
      ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }, { at: 2 }),
      ev('SessionResumed', { agentId: 'a1', sessionId: 's1', pid: 42 }, { at: 3 }),
    ]);
    expect(decide(first, dead(), at(5))[0]!.event.id).not.toBe(decide(resumed, dead(), at(5))[0]!.event.id);
  });

  it('differ by rule, agent, session, pid and fact', () => {
    const base = { rule: 'dead-pid', agentId: 'a1', sessionId: 's1', pid: 42, fact: at(1) };
    const ids = new Set([
      correctionId(base),
      correctionId({ ...base, rule: 'agent-disconnected' }),
      correctionId({ ...base, agentId: 'a2' }),
      correctionId({ ...base, sessionId: 's2' }),
      correctionId({ ...base, pid: 43 }),
      correctionId({ ...base, fact: at(2) }),
    ]);
    expect(ids.size).toBe(6);
  });
});
