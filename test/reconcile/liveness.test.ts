import { describe, expect, it } from 'vitest';
import { decide } from '../../src/reconcile/decide.js';
import { correctionId } from '../../src/reconcile/correctionId.js';
import { reconcileOnce } from '../../src/reconcile/reconciler.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { ev, foldView } from '../support/lifecycle.js';
import { at, given } from './support.js';

// The reconciler's liveness rules (SPEC §7.2 lease expiry on a quiet log, §7.3 suspect before dead).
// `given … when(now) … then` also checks every correction decodes, applies without an anomaly, and
// that deciding again on the corrected log finds nothing.

// Every event at an explicit time: the fold's clock is the newest `at` it has seen.
const pool = (poolId: string, maxSize = 1) => ev('PoolCreated', { poolId, name: poolId, maxSize }, { at: 0 });
const agent = (agentId: string) => ev('AgentRegistered', { agentId, role: 'worker' }, { at: 0 });

const leased = (leaseMs: number, s = 10) => [
  pool('p1', 2),
  agent('a1'),
  ev('OrchestratorStarted', { host: 'h1', epoch: 1 }, { at: 1 }),
  ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: 4242, host: 'h1', epoch: 1, leaseMs }, { at: s }),
];
const noSuspicion = { suspectAfterMs: null };

describe('lease expiry on a quiet log (SPEC §7.2)', () => {
  it('nothing at exactly the expiry; one ms past: SessionEnded "lease_expired" stamped at the expiry, with what it observed', async () => {
    await given(...leased(30_000)).when(40, {}, noSuspicion).then(({ decisions }) => expect(decisions).toEqual([]));
    const { decisions, after } = await given(...leased(30_000)).when(40.001, {}, noSuspicion).then(() => {});
    expect(decisions).toEqual([
      {
        rule: 'lease-expired',
        agentId: 'a1',
        sessionId: 's1',
        event: {
          id: correctionId({ rule: 'lease-expired', agentId: 'a1', sessionId: 's1', pid: null, fact: at(40) }),
          type: 'SessionEnded',
          data: { agentId: 'a1', sessionId: 's1', reason: 'lease_expired', epoch: 1 },
          metadata: {
            at: at(40),
            source: 'rollcall-reconciler',
            observed: { rule: 'lease-expired', now: at(40.001), leaseExpiresAt: at(40), leaseMs: 30_000, overdueMs: 1, lastSeenAt: at(10), connection: 'unknown', pid: 4242 },
          },
        },
      },
    ]);
    expect(after.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'lease_expired', endedAt: at(40) });
    expect(after.pools['p1']!.status.activeAgentIds).toEqual([]);
  });

  it('the log reads the same whether the correction or any later event ends the lease', async () => {
    const withCorrection = await given(...leased(30_000)).when(500, {}, noSuspicion).then(() => {});
    const byTheFold = await foldView([...leased(30_000), ev('AgentHeartbeat', { agentId: 'a1' }, { at: 500 })]);
    expect(withCorrection.after.sessions['s1']).toEqual(byTheFold.sessions['s1']);
    expect(withCorrection.after.agents['a1']!.lastExitReason).toBe(byTheFold.agents['a1']!.lastExitReason);
  });

  it('a heartbeat renews it: the reconciler measures from the renewed expiry', async () => {
    const events = [...leased(30_000), ev('AgentHeartbeat', { agentId: 'a1' }, { at: 35 })];
    await given(...events).when(60, {}, noSuspicion).then(({ decisions }) => expect(decisions).toEqual([]));
    await given(...events).when(66, {}, noSuspicion).then(({ decisions }) => expect(decisions.map((d) => d.event.metadata.at)).toEqual([at(65)]));
  });

  it('takes precedence over a dead pid (the lease ended it first, in event time)', async () => {
    await given(...leased(30_000))
      .when(100, { host: 'h1', pids: { 4242: { alive: false } } }, noSuspicion)
      .then(({ decisions }) => expect(decisions.map((d) => d.rule)).toEqual(['lease-expired']));
  });

  it('leaseExpiry: false leaves it to the next event of the log; a session without a lease is never ended by it', async () => {
    await given(...leased(30_000)).when(100, {}, { ...noSuspicion, leaseExpiry: false }).then(({ decisions }) => expect(decisions).toEqual([]));
    await given(pool('p1'), agent('a1'), ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1' }, { at: 10 })).when(100_000, {}, noSuspicion).then(({ decisions }) => expect(decisions).toEqual([]));
  });

  it('several reconcilers with different clocks store one end (the same id and the same event)', async () => {
    const view = await foldView(leased(30_000));
    const [early, late] = [decide(view, {}, at(41), noSuspicion), decide(view, {}, at(900), noSuspicion)];
    expect(early[0]!.event.id).toBe(late[0]!.event.id);
    expect(early[0]!.event.data).toEqual(late[0]!.event.data);
    expect(early[0]!.event.metadata.at).toBe(late[0]!.event.metadata.at);

    const store = openMemoryStore();
    await store.appendBatch(leased(30_000));
    const passes = await Promise.all([41, 42, 43].map((s) => reconcileOnce(store, { observe: () => ({}), host: 'h1', now: at(s), config: noSuspicion, fenceRevision: false })));
    expect(passes.reduce((n, p) => n + p.appended.length, 0)).toBe(1);
    const ends: string[] = [];
    for await (const e of store.readStream('agent-a1')) if (e.type === 'SessionEnded') ends.push(e.id);
    expect(ends).toEqual([early[0]!.event.id]);
  });

  it('a pass that also suspects another agent (at `now`) stores the lapse first: the replay ends it at its expiry, with no anomaly', async () => {
    const store = openMemoryStore();
    // a0 sorts before a1: its stream would be written first were the appends not ordered by rule.
    await store.appendBatch([...leased(30_000), ev('AgentRegistered', { agentId: 'a0', role: 'worker' }, { at: 0 }), ev('AgentSpawned', { agentId: 'a0', sessionId: 's0', poolId: 'p1' }, { at: 12 })]);
    const pass = await reconcileOnce(store, { observe: () => ({}), host: 'h1', now: at(200) });
    expect(pass.appended.map((d) => [d.rule, d.agentId])).toEqual([['lease-expired', 'a1'], ['suspect', 'a0']]);
    const order: string[] = [];
    for await (const e of store.readAll()) order.push(e.type);
    expect(order.slice(-2)).toEqual(['SessionEnded', 'AgentSuspected']);
    const after = await reconcileOnce(store, { observe: () => ({}), host: 'h1', now: at(200) });
    expect(after.view.anomalies.count).toBe(0);
    expect(after.view.sessions['s1']).toMatchObject({ state: 'terminated', terminationReason: 'lease_expired', endedAt: at(40) });
    expect(after.decisions).toEqual([]);
  });

  it('a lapse the reconciler appends counts toward quarantine like the fold\'s own', async () => {
    const events = [pool('p1', 2), agent('a1')];
    for (const [i, s] of [10, 100, 200].entries()) events.push(ev('AgentSpawned', { agentId: 'a1', sessionId: `s${i}`, poolId: 'p1', leaseMs: 5_000 }, { at: s }));
    // s0 and s1 lapse in the fold (the next spawn moves the clock); s2 lapses on a quiet log.
    const { after } = await given(...events).when(300, {}, noSuspicion).then(({ decisions }) => expect(decisions.map((d) => d.sessionId)).toEqual(['s2']));
    expect(after.quarantined).toEqual(['a1']);
    expect(after.agents['a1']!.quarantine).toMatchObject({ since: at(205), ends: ['4', '5', '6'] });
  });
});

describe('AgentSuspected (SPEC §7.3)', () => {
  // The reconciler's defaults (`given` turns suspicion off for the SPEC §4 specs).
  const defaults = { suspectAfterMs: 60_000 };
  const running = [pool('p1', 2), agent('a1'), ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', pid: 4242, host: 'h1' }, { at: 10 })];

  it('no sign of life for more than 60 s: suspected with what it saw; it keeps its slot', async () => {
    await given(...running).when(70, {}, defaults).then(({ decisions }) => expect(decisions).toEqual([]));
    const { decisions, after } = await given(...running).when(70.001, {}, defaults).then(() => {});
    expect(decisions.map((d) => [d.rule, d.event.type, d.event.data])).toEqual([
      ['suspect', 'AgentSuspected', {
        agentId: 'a1', reason: 'no_sign_of_life',
        observed: { silentSince: at(10), silentForMs: 60_001, suspectAfterMs: 60_000, connection: 'unknown', lastSeenAt: at(10), now: at(70.001) },
      }],
    ]);
    expect(after.agents['a1']!.suspect).toEqual({ since: at(70.001), reason: 'no_sign_of_life' });
    expect(after.pools['p1']!.status.activeAgentIds).toEqual(['a1']);
    expect(after.running).toEqual(['a1']);
  });

  it('an agent already suspect is not suspected again; after a sign of life a new silence is a new suspicion (a new id)', async () => {
    const first = decide(await foldView(running), {}, at(80));
    const suspected = [...running, first[0]!.event];
    await given(...suspected).when(500, {}, defaults).then(({ decisions }) => expect(decisions).toEqual([]));
    const revived = [...suspected, ev('AgentHeartbeat', { agentId: 'a1' }, { at: 90 })];
    const { decisions } = await given(...revived).when(151, {}, defaults).then(() => {});
    expect(decisions.map((d) => d.event.data)).toEqual([expect.objectContaining({ reason: 'no_sign_of_life', observed: expect.objectContaining({ silentSince: at(90) }) })]);
    expect(decisions[0]!.event.id).not.toBe(first[0]!.event.id);
  });

  it('silence is counted from the session\'s start at the earliest: an idle hour before it is no silence', async () => {
    const events = [pool('p1'), agent('a1'), ev('AgentHeartbeat', { agentId: 'a1' }, { at: 0 }), ev('SessionStarting', { agentId: 'a1', sessionId: 's1', poolId: 'p1' }, { at: 3600 })];
    await given(...events).when(3630, {}, defaults).then(({ decisions }) => expect(decisions).toEqual([]));
    await given(...events).when(3661, {}, defaults).then(({ decisions }) => expect(decisions.map((d) => d.event.data)).toEqual([expect.objectContaining({ reason: 'no_sign_of_life' })]));
  });

  it('disconnected but still within its grace: suspected; past the grace it is a crash, not a suspicion', async () => {
    const events = [pool('p1'), agent('a1'), ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }, { at: 5 }), ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1' }, { at: 10 }), ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' }, { at: 20 })];
    await given(...events).when(30, {}, defaults).then(({ decisions }) =>
      expect(decisions.map((d) => [d.rule, d.event.data])).toEqual([
        ['suspect', { agentId: 'a1', reason: 'disconnected_within_grace', observed: expect.objectContaining({ absentSince: at(20), absentForMs: 10_000, connection: 'disconnected' }) }],
      ]),
    );
    await given(...events).when(51, {}, defaults).then(({ decisions }) => expect(decisions.map((d) => d.rule)).toEqual(['agent-disconnected']));
  });

  it('a lease with less than a fifth of it left: suspected; a fifth exactly: not yet', async () => {
    // leaseMs 50 s from t=10: expires at 60; a fifth is 10 s.
    const events = [pool('p1'), agent('a1'), ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', leaseMs: 50_000 }, { at: 10 })];
    await given(...events).when(50, {}, defaults).then(({ decisions }) => expect(decisions).toEqual([]));
    await given(...events).when(51, {}, defaults).then(({ decisions }) =>
      expect(decisions.map((d) => d.event.data)).toEqual([{ agentId: 'a1', reason: 'lease_running_out', observed: expect.objectContaining({ leaseExpiresAt: at(60), leaseMs: 50_000, leftMs: 9_000 }) }]),
    );
  });

  it('observed gone (not just disconnected) within its grace: suspected, dated by the observation', async () => {
    // Nothing in the log says a1 left: only the orchestrator's observation does.
    await given(...running).when(30, { agents: { a1: { connection: 'gone', disconnectedSince: at(20) } } }, defaults).then(({ decisions }) =>
      expect(decisions.map((d) => [d.rule, d.event.data])).toEqual([
        ['suspect', { agentId: 'a1', reason: 'disconnected_within_grace', observed: expect.objectContaining({ absentSince: at(20), absentForMs: 10_000, connection: 'gone' }) }],
      ]),
    );
  });

  it('a lease with exactly 0 ms left is still running out; a lapsed one is not (with the lapse rule off, nothing is decided)', async () => {
    const events = [pool('p1'), agent('a1'), ev('AgentSpawned', { agentId: 'a1', sessionId: 's1', poolId: 'p1', leaseMs: 50_000 }, { at: 10 })];
    await given(...events).when(60, {}, defaults).then(({ decisions }) =>
      expect(decisions.map((d) => [d.rule, d.event.data])).toEqual([
        ['suspect', { agentId: 'a1', reason: 'lease_running_out', observed: expect.objectContaining({ leaseExpiresAt: at(60), leaseMs: 50_000, leftMs: 0 }) }],
      ]),
    );
    await given(...events).when(61, {}, { ...defaults, leaseExpiry: false }).then(({ decisions }) => expect(decisions).toEqual([]));
  });

  it('an agent something else was decided for is not also suspected; suspectAfterMs null turns the rule off', async () => {
    await given(...running).when(100, { host: 'h1', pids: { 4242: { alive: false } } }, defaults).then(({ decisions }) => expect(decisions.map((d) => d.rule)).toEqual(['dead-pid']));
    await given(...running).when(10_000, {}, noSuspicion).then(({ decisions }) => expect(decisions).toEqual([]));
    await given(...running).when(100, {}, { suspectAfterMs: 200_000 }).then(({ decisions }) => expect(decisions).toEqual([]));
  });

  it('an agent without a live session is never suspected', async () => {
    await given(pool('p1'), agent('a1'), ev('SessionStarting', { agentId: 'a1', sessionId: 's1', poolId: 'p1' }, { at: 10 }), ev('SessionStartFailed', { agentId: 'a1', sessionId: 's1', reason: 'x' }, { at: 20 })).when(10_000, {}, defaults).then(({ decisions }) => expect(decisions).toEqual([]));
  });

  it('two reconcilers at different moments of the same silence store one suspicion', async () => {
    const store = openMemoryStore();
    await store.appendBatch(running);
    const passes = await Promise.all([80, 81, 95].map((s) => reconcileOnce(store, { observe: () => ({}), host: 'h1', now: at(s), fenceRevision: false })));
    expect(passes.reduce((n, p) => n + p.appended.length, 0)).toBe(1);
    let suspicions = 0;
    for await (const e of store.readStream('agent-a1')) if (e.type === 'AgentSuspected') suspicions++;
    expect(suspicions).toBe(1);
  });
});
