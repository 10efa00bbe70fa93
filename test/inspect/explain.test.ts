import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explainAgentIn, explainIn, explainPoolIn } from '../../src/projections/explainState.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { foldEvents } from '../../src/replay/foldEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { defaultReconcileConfig } from '../../src/reconcile/reconcileConfig.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { agent, ev, pool, record, spawned, starting, T0 } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends { metadata: { at: string } }>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const rules = { rules: defaultReconcileConfig };
const projection = createLifecycleProjection();
/** The state after `events`, stopped at `until`/`asOf` as any replay stops. */
const stateOf = async (events: LifecycleEvent[], stop: { until?: bigint; asOf?: string } = {}) => (await foldEvents(projection, [record(events)], stop)).state;
const poolOf = async (events: LifecycleEvent[], { rules: r, ...stop }: { rules: typeof defaultReconcileConfig; until?: bigint; asOf?: string } = rules) =>
  explainPoolIn(await stateOf(events, stop), 'p1', r);
const explainAgent = async (events: LifecycleEvent[], agentId: string, r = defaultReconcileConfig) => explainAgentIn(await stateOf(events), agentId, r);
const base = [at(0, pool('p1', 3)), at(0, agent('a1')), at(0, agent('a2'))];

describe('explain pool: every holder and what would free its slot (SPEC §7.5)', () => {
  it('a healthy session: only its own end frees it', async () => {
    const answer = await poolOf([...base, at(10, spawned('a1', 's1', { poolId: 'p1' }))]);
    expect(answer).toMatchObject({ poolId: 'p1', used: 1, max: 3, enabled: true, position: '4', asOf: iso(10) });
    expect(answer.holders).toEqual([
      expect.objectContaining({ agentId: 'a1', sessionId: 's1', state: 'running', since: { position: '4', type: 'AgentSpawned', at: iso(10) }, releasedBy: [{ rule: 'own-end', detail: 'healthy: only its own end frees it' }] }),
    ]);
  });

  it('a lease frees it at its expiry', async () => {
    const answer = await poolOf([...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 30_000 }))]);
    expect(answer.holders[0]!.releasedBy).toEqual([{ rule: 'lease', at: iso(40) }]);
  });

  it('a pid on a host: the pid check, and a restart of that host when it has an orchestrator', async () => {
    const answer = await poolOf([...base, at(1, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })), at(10, spawned('a1', 's1', { poolId: 'p1', pid: 4242, host: 'h1', epoch: 1 }))]);
    expect(answer.holders[0]).toMatchObject({ host: 'h1', epoch: 1, pid: 4242 });
    expect(answer.holders[0]!.releasedBy).toEqual([
      { rule: 'pid-check', detail: 'pid 4242 on h1', requires: 'the process exits' },
      { rule: 'orchestrator-restart', detail: 'a restart of h1 that does not adopt it', requires: 'the orchestrator restarts' },
    ]);
  });

  it('a terminating session: the terminating timeout, which requires the agent disconnected', async () => {
    const answer = await poolOf([...base, at(10, spawned('a1', 's1', { poolId: 'p1' })), at(20, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }))]);
    expect(answer.holders[0]!.releasedBy).toEqual([{ rule: 'terminating-timeout', at: iso(620), requires: 'agent disconnected' }]);
  });

  it('a disconnected agent: the disconnect grace, earliest first before a lease', async () => {
    const answer = await poolOf([
      ...base,
      at(5, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' })),
      at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 60_000 })),
      at(20, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })),
    ]);
    expect(answer.holders[0]!.releasedBy).toEqual([
      { rule: 'disconnect-grace', at: iso(50) },
      { rule: 'lease', at: iso(70) },
    ]);
  });

  it('a starting session: the start timeout', async () => {
    const answer = await poolOf([...base, at(10, starting('a1', 's1', 'p1'))]);
    expect(answer.holders[0]!.releasedBy).toEqual([{ rule: 'start-timeout', at: iso(610) }]);
  });

  it('suspect and quarantine are shown on the holder', async () => {
    const crashes = [0, 1, 2].flatMap((i) => [at(10 + i * 10, spawned('a2', `c${i}`)), at(11 + i * 10, ev('AgentCrashed', { agentId: 'a2', reason: 'oom' }))]);
    const answer = await poolOf([...base, ...crashes, at(50, spawned('a2', 's2', { poolId: 'p1' })), at(80, ev('AgentSuspected', { agentId: 'a2', reason: 'silent' }))]);
    expect(answer.holders[0]).toMatchObject({ agentId: 'a2', suspect: { since: iso(80), reason: 'silent' }, quarantine: { since: iso(31) } });
  });

  it('a connected agent gets no disconnect grace, and its terminating session waits for a disconnect', async () => {
    const connected = [...base, at(5, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' })), at(10, spawned('a1', 's1', { poolId: 'p1' }))];
    expect((await poolOf(connected)).holders[0]!.releasedBy).toEqual([{ rule: 'own-end', detail: 'healthy: only its own end frees it' }]);
    const terminating = await poolOf([...connected, at(20, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }))]);
    expect(terminating.holders[0]!.releasedBy).toEqual([{ rule: 'terminating-timeout', at: iso(620), requires: 'agent disconnected' }]);
  });

  it('a terminating session of a disconnected agent: the terminating timeout alone, needing nothing more (no disconnect grace)', async () => {
    const answer = await poolOf([
      ...base,
      at(5, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' })),
      at(10, spawned('a1', 's1', { poolId: 'p1' })),
      at(20, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' })),
      at(30, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })),
    ]);
    expect(answer.holders[0]).toMatchObject({ state: 'terminating', releasedBy: [{ rule: 'terminating-timeout', at: iso(620) }] });
  });

  it('a starting session of a disconnected agent: the disconnect grace before the start timeout', async () => {
    const answer = await poolOf([
      ...base,
      at(5, ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' })),
      at(10, starting('a1', 's1', 'p1')),
      at(20, ev('AgentDisconnected', { agentId: 'a1', connectionId: 'c1' })),
    ]);
    expect(answer.holders[0]!.releasedBy).toEqual([
      { rule: 'disconnect-grace', at: iso(50) },
      { rule: 'start-timeout', at: iso(610) },
    ]);
  });

  it('the pid check needs a pid, a host and the rule on; a host without an orchestrator is no restart', async () => {
    const on = async (data: { pid?: number; host?: string }, r = defaultReconcileConfig) =>
      (await poolOf([...base, at(1, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })), at(10, spawned('a1', 's1', { poolId: 'p1', ...data }))], { rules: r })).holders[0]!.releasedBy;
    const restart = { rule: 'orchestrator-restart', detail: 'a restart of h1 that does not adopt it', requires: 'the orchestrator restarts' };
    const ownEnd = { rule: 'own-end', detail: 'healthy: only its own end frees it' };
    expect(await on({ pid: 7, host: 'h1', epoch: 1 } as { pid: number; host: string })).toEqual([{ rule: 'pid-check', detail: 'pid 7 on h1', requires: 'the process exits' }, restart]);
    expect(await on({ host: 'h1', epoch: 1 } as { host: string })).toEqual([restart]);
    expect(await on({ pid: 7 })).toEqual([ownEnd]);
    expect(await on({ pid: 7, host: 'h1', epoch: 1 } as { pid: number; host: string }, { ...defaultReconcileConfig, pidCheck: false })).toEqual([restart]);
    expect(await on({ pid: 7, host: 'h2' })).toEqual([{ rule: 'pid-check', detail: 'pid 7 on h2', requires: 'the process exits' }]);
  });

  it('holders in agent id order, whatever order the agents registered and took their slots in', async () => {
    const answer = await poolOf([
      at(0, pool('p1', 3)),
      at(0, agent('a3')),
      at(0, agent('a1')),
      at(0, agent('a2')),
      at(10, spawned('a2', 's2', { poolId: 'p1' })),
      at(11, spawned('a3', 's3', { poolId: 'p1' })),
      at(12, spawned('a1', 's1', { poolId: 'p1' })),
    ]);
    expect(answer.holders.map((h) => h.agentId)).toEqual(['a1', 'a2', 'a3']);
  });

  it('a pool that does not exist: no maximum, no enabled flag, and whoever names it still shown', async () => {
    const known = await poolOf([...base, at(10, spawned('a1', 's1', { poolId: 'p1' }))]);
    expect(known).toMatchObject({ exists: true, max: 3, enabled: true, used: 1 });
    const unknown = explainPoolIn(await stateOf([...base.slice(1), at(10, spawned('a1', 's1', { poolId: 'p1' }))]), 'p1', defaultReconcileConfig);
    expect(unknown).toMatchObject({ poolId: 'p1', exists: false, max: null, enabled: null, used: 1 });
    expect(unknown.holders.map((h) => h.sessionId)).toEqual(['s1']);
  });

  it('a quarantined holder shows the positions of the abnormal ends that quarantined it', async () => {
    const crashes = [0, 1, 2].flatMap((i) => [at(10 + i * 10, spawned('a2', `c${i}`)), at(11 + i * 10, ev('AgentCrashed', { agentId: 'a2', reason: 'oom' }))]);
    const answer = await poolOf([...base, ...crashes, at(50, spawned('a2', 's2', { poolId: 'p1' }))]);
    expect(answer.holders[0]!.quarantine).toEqual({ since: iso(31), reason: '3 abnormal ends within 600 s', ends: ['5', '7', '9'] });
  });

  it('as of a past moment the answer differs from now', async () => {
    const events = [...base, at(10, spawned('a1', 's1', { poolId: 'p1' })), at(20, spawned('a2', 's2', { poolId: 'p1' })), at(30, ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' }))];
    const now = await poolOf(events);
    const then = await poolOf(events, { ...rules, asOf: iso(25) });
    const byPosition = await poolOf(events, { ...rules, until: 4n });
    expect(now.holders.map((h) => h.agentId)).toEqual(['a2']);
    expect(then).toMatchObject({ used: 2, position: '5', asOf: iso(20) });
    expect(then.holders.map((h) => h.agentId)).toEqual(['a1', 'a2']);
    expect(byPosition.holders.map((h) => h.agentId)).toEqual(['a1']);
  });
});

describe('explain agent', () => {
  it('counted, with what would free its slot', async () => {
    const answer = await explainAgent([...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 5000 }))], 'a1');
    expect(answer).toMatchObject({ exists: true, status: 'running', counted: true, poolId: 'p1' });
    expect(answer.explanation).toEqual(['counted in pool p1: session s1 is running', `freed by lease at ${iso(15)}`]);
  });

  it('not counted after its lease lapsed, saying why', async () => {
    const answer = await explainAgent([...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 5000 })), at(20, ev('AgentHeartbeat', { agentId: 'a2' }))], 'a1');
    expect(answer).toMatchObject({ counted: false, holder: null, explanation: [`not counted: idle, no live session (last exit: lease_expired at ${iso(15)})`] });
  });

  it('an unknown agent', async () => {
    expect(await explainAgent(base, 'zz')).toEqual({
      agentId: 'zz',
      position: '3',
      asOf: iso(0),
      exists: false,
      status: null,
      counted: false,
      poolId: null,
      holder: null,
      explanation: ['the agent is not in the projection (never registered, or removed and past the retention window)'],
    });
  });

  it('an agent that never ran: not counted, no last exit to tell', async () => {
    const answer = await explainAgent(base, 'a1');
    expect(answer).toMatchObject({ exists: true, status: 'idle', counted: false, poolId: null, holder: null });
    expect(answer.explanation).toEqual(['not counted: idle, no live session']);
  });

  it('a director runs but takes no slot; its session is still explained', async () => {
    const answer = await explainAgent([...base, at(0, agent('d1', 'director')), at(10, spawned('d1', 's1', { poolId: 'p1' }))], 'd1');
    expect(answer).toMatchObject({ status: 'running', counted: false, poolId: null, holder: { sessionId: 's1', state: 'running' } });
    expect(answer.explanation).toEqual(['running (session s1 is running) but takes no slot: directors take none', 'freed by own-end: healthy: only its own end frees it']);
  });

  it('a worker whose session names no pool takes no slot', async () => {
    const answer = await explainAgent([...base, at(10, starting('a1', 's1'))], 'a1');
    expect(answer).toMatchObject({ status: 'running', counted: false, poolId: null });
    expect(answer.explanation).toEqual(['running (session s1 is starting) but takes no slot: its session names no pool', `freed by start-timeout at ${iso(610)}`]);
  });

  it('each rule on a line of its own: its time, what it requires, its detail', async () => {
    const answer = await explainAgent(
      [...base, at(1, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })), at(10, spawned('a1', 's1', { poolId: 'p1', pid: 7, host: 'h1', epoch: 1 })), at(20, ev('SessionTerminationRequested', { agentId: 'a1', sessionId: 's1' }))],
      'a1',
    );
    expect(answer.explanation).toEqual([
      'counted in pool p1: session s1 is terminating',
      `freed by terminating-timeout at ${iso(620)} (requires agent disconnected)`,
      'freed by pid-check (requires the process exits): pid 7 on h1',
      'freed by orchestrator-restart (requires the orchestrator restarts): a restart of h1 that does not adopt it',
    ]);
  });

  it('suspicion and quarantine each add a line, also to an agent not counted', async () => {
    const crashes = [0, 1, 2].flatMap((i) => [at(10 + i * 10, spawned('a2', `c${i}`)), at(11 + i * 10, ev('AgentCrashed', { agentId: 'a2', reason: 'oom' }))]);
    const held = [...base, ...crashes, at(50, spawned('a2', 's2', { poolId: 'p1' })), at(80, ev('AgentSuspected', { agentId: 'a2', reason: 'silent' }))];
    const quarantined = `quarantined since ${iso(31)}: 3 abnormal ends within 600 s (ends at positions 5, 7, 9)`;
    expect((await explainAgent(held, 'a2')).explanation).toEqual([
      'counted in pool p1: session s2 is running',
      'freed by own-end: healthy: only its own end frees it',
      `suspect since ${iso(80)}: silent`,
      quarantined,
    ]);
    expect((await explainAgent([...base, ...crashes], 'a2')).explanation).toEqual([`not counted: idle, no live session (last exit: oom at ${iso(31)})`, quarantined]);
  });
});

describe('explain, as a question', () => {
  it('a pool question gets the pool answer, an agent question the agent answer', async () => {
    const state = await stateOf([...base, at(10, spawned('a1', 's1', { poolId: 'p1', leaseMs: 5000 }))]);
    expect(explainIn(state, { kind: 'pool', id: 'p1', rules: defaultReconcileConfig })).toEqual(explainPoolIn(state, 'p1', defaultReconcileConfig));
    expect(explainIn(state, { kind: 'agent', id: 'a1', rules: defaultReconcileConfig })).toEqual(explainAgentIn(state, 'a1', defaultReconcileConfig));
    expect(explainIn(state, { kind: 'agent', id: 'p1', rules: defaultReconcileConfig })).toMatchObject({ agentId: 'p1', exists: false });
  });
});

describe('explain agrees with the view (properties)', () => {
  it('property: on any history, each pool\'s holders are the view\'s active agents, each agent is counted in one pool at most, where explain of that pool holds it, and the rules with a time come earliest first', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryHistory(), async (events) => {
        const state = await stateOf(events);
        const view = lifecycleView(state);
        const countedIn = new Map<string, string>();
        // The pools that exist, and those only sessions name (their holders count, though the view has no such pool).
        const poolIds = new Set([...Object.keys(view.pools), ...Object.values(view.sessions).flatMap((s) => (s.poolId === null ? [] : [s.poolId]))]);
        for (const poolId of poolIds) {
          const answer = explainPoolIn(state, poolId, defaultReconcileConfig);
          const p = view.pools[poolId];
          if (p === undefined) expect(answer).toMatchObject({ exists: false, max: null, enabled: null, used: answer.holders.length });
          else {
            expect(answer).toMatchObject({ exists: true, used: p.status.activeCount, max: p.maxSize, enabled: p.enabled, position: view.position });
            expect(answer.holders.map((h) => h.agentId)).toEqual(p.status.activeAgentIds);
          }
          for (const h of answer.holders) {
            expect(countedIn.has(h.agentId)).toBe(false);
            countedIn.set(h.agentId, poolId);
          }
        }
        for (const [agentId, a] of Object.entries(view.agents)) {
          const answer = explainAgentIn(state, agentId, defaultReconcileConfig);
          expect(answer).toMatchObject({ exists: true, status: a.status, counted: countedIn.has(agentId), poolId: countedIn.get(agentId) ?? null });
          expect(answer.holder === null).toBe(!view.running.includes(agentId));
          if (answer.holder === null) continue;
          expect(answer.holder.sessionId).toBe(a.currentSessionId);
          const times = answer.holder.releasedBy.flatMap((r) => (r.at === undefined ? [] : [Date.parse(r.at)]));
          expect(times).toEqual([...times].sort((x, y) => x - y));
          expect(answer.explanation.filter((l) => l.startsWith('freed by ')).length).toBe(answer.holder.releasedBy.length);
        }
      }),
      { numRuns: runs(100) },
    );
  });

  it('property: whatever order agents register and take their slots in, the holders come in agent id order', async () => {
    const ids = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(ids, { minLength: 2 }), fc.shuffledSubarray(ids, { minLength: 2 }), async (registered, holding) => {
        const events = [
          at(0, pool('p1', ids.length)),
          ...registered.map((id) => at(0, agent(id))),
          ...holding.map((id, i) => at(10 + i, spawned(id, `s-${id}`, { poolId: 'p1' }))),
        ];
        const answer = await poolOf(events);
        const expected = holding.filter((id) => registered.includes(id)).sort();
        expect(answer.holders.map((h) => h.agentId)).toEqual(expected);
        expect(answer.used).toBe(expected.length);
      }),
      { numRuns: runs(100) },
    );
  });
});
