import { describe, expect, it } from 'vitest';
import { explainAgentIn, explainPoolIn } from '../../src/projections/explainState.js';
import { foldEvents } from '../../src/replay/foldEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { defaultReconcileConfig } from '../../src/reconcile/reconcileConfig.js';
import { agent, ev, pool, record, spawned, starting, T0 } from '../support/lifecycle.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends { metadata: { at: string } }>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });
const rules = { rules: defaultReconcileConfig };
const projection = createLifecycleProjection();
/** The state after `events`, stopped at `until`/`asOf` as any replay stops. */
const stateOf = async (events: LifecycleEvent[], stop: { until?: bigint; asOf?: string } = {}) => (await foldEvents(projection, [record(events)], stop)).state;
const poolOf = async (events: LifecycleEvent[], { rules: r, ...stop }: { rules: typeof defaultReconcileConfig; until?: bigint; asOf?: string } = rules) =>
  explainPoolIn(await stateOf(events, stop), 'p1', r);
const explainAgent = async (events: LifecycleEvent[], agentId: string) => explainAgentIn(await stateOf(events), agentId, defaultReconcileConfig);
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
    expect((await explainAgent(base, 'zz')).exists).toBe(false);
  });
});
