import type { Draft } from 'immer';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent, RecordedEvent } from '../../src/events/lifecycleEvents.js';
import type { Violation } from '../../src/projections/checkInvariants.js';
import { checkLog } from '../../src/inspect/checkLog.js';
import { createLifecycleProjection, type LifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import type { LifecycleState } from '../../src/projections/lifecycleState.js';
import { agent, ended, ev, pool, record, spawned, T0 } from '../support/lifecycle.js';

const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const at = <E extends LifecycleEvent>(s: number, e: E): E => ({ ...e, metadata: { at: iso(s) } });

/** The lifecycle projection with `after` run on the draft after each event is applied (a faulty reducer). */
const faulty = (after: (draft: Draft<LifecycleState>, e: RecordedEvent) => void): LifecycleProjection => {
  const real = createLifecycleProjection();
  return {
    ...real,
    apply(draft, e) {
      real.apply(draft, e);
      after(draft, e);
    },
  };
};

const history = [
  at(1, pool('p1', 2)),
  at(2, agent('a1')),
  at(3, spawned('a1', 's1', { poolId: 'p1', pid: 3 })),
  at(4, ended('a1', 's1')),
  at(5, ev('AgentHeartbeat', { agentId: 'a1' })),
  at(6, ev('AgentHeartbeat', { agentId: 'a1' })),
];

describe('checkLog', () => {
  it('a clean log: every event processed, no violation, the folded state', async () => {
    const r = await checkLog(createLifecycleProjection(), [record(history)], { batchSize: 1 });
    expect(r.violations).toEqual([]);
    expect(r.processed).toBe(6);
    expect(r.state.position).toBe(6n);
    expect(r.state.sessions.get('s1')).toMatchObject({ state: 'terminated', endedAt: iso(4) });
  });

  it('a session still live at a batch boundary, named again in a later batch, is no revival', async () => {
    const live = [
      at(1, pool('p1', 2)),
      at(2, agent('a1')),
      at(3, spawned('a1', 's1', { poolId: 'p1', pid: 3 })),
      at(4, ev('AgentHeartbeat', { agentId: 'a1' })),
      at(5, ev('AgentHeartbeat', { agentId: 'a1' })),
      at(6, ended('a1', 's1')),
    ];
    const r = await checkLog(createLifecycleProjection(), [record(live)], { batchSize: 1 });
    expect(r.violations).toEqual([]);
    expect(r.processed).toBe(6);
  });

  it('passes its options to the fold (until)', async () => {
    const r = await checkLog(createLifecycleProjection(), [record(history)], { until: 3n });
    expect(r.processed).toBe(3);
    expect(r.state.position).toBe(3n);
    expect(r.state.sessions.get('s1')!.state).toBe('running');
  });

  it('works without options', async () => {
    const r = await checkLog(createLifecycleProjection(), [record(history)]);
    expect([r.processed, r.violations]).toEqual([6, []]);
  });

  it('the invariants are checked after every batch; a violation seen in several is listed once, in order first seen', async () => {
    const real = createLifecycleProjection();
    let calls = 0;
    const checked: LifecycleProjection = {
      ...real,
      check: (s): Violation[] => {
        calls++;
        const out: Violation[] = [{ invariant: 'x', detail: 'always' }];
        if (s.position !== null && s.position >= 4n) out.push({ invariant: 'x', detail: `from 4 (${s.sessions.size})` }, { invariant: 'y', detail: 'always' });
        return out;
      },
    };
    const r = await checkLog(checked, [record(history)], { batchSize: 2 });
    expect(calls).toBe(3);
    expect(r.violations).toEqual([
      { invariant: 'x', detail: 'always' },
      { invariant: 'x', detail: 'from 4 (1)' },
      { invariant: 'y', detail: 'always' },
    ]);
  });

  it('a reducer that forgets to queue terminal sessions breaks retire-queued, reported once however many batches see it', async () => {
    const r = await checkLog(
      faulty((d) => {
        d.retiring.length = 0;
      }),
      [record(history)],
      { batchSize: 1 },
    );
    expect(r.violations).toEqual([{ invariant: 'retire-queued', detail: 'terminal session s1 is not queued to leave' }]);
  });

  it('terminal-is-final: a terminal session named again and revived', async () => {
    const revive = faulty((d, e) => {
      if (e.type === 'AgentSpawned' && e.data.sessionId === 's1' && e.position === 5n) {
        const s = d.sessions.get('s1')!;
        s.state = 'suspended';
        s.endedAt = null;
        d.agents.get('a1')!.openSessionIds.push('s1');
      }
    });
    const events = [...history.slice(0, 4), at(5, spawned('a1', 's1'))];
    const r = await checkLog(revive, [record(events)]);
    // The state it leaves is consistent: only the rule across prefixes is broken.
    expect(r.violations).toEqual([{ invariant: 'terminal-is-final', detail: 'session s1 became suspended again at position 5' }]);
    expect(revive.check(r.state)).toEqual([]);
  });

  it.each([1, 2, 512])('terminal-is-final: a session ended without being named, revived by an event naming its agent only (batches of %i)', async (batchSize) => {
    const events = [at(1, agent('a1')), at(2, spawned('a1', 's1')), at(3, ev('AgentStopped', { agentId: 'a1' })), at(4, ev('AgentHeartbeat', { agentId: 'a1' }))];
    const revive = faulty((d, e) => {
      if (e.position === 4n) {
        const s = d.sessions.get('s1')!;
        s.state = 'running';
        s.endedAt = null;
        d.agents.get('a1')!.openSessionIds.push('s1');
        d.liveSince.set('s1', { position: '4', type: e.type, at: e.metadata.at });
      }
    });
    // AgentStopped names no session and leaves none open: the sessions it had open are looked at
    // after it, so s1 is known terminal whatever the batch size (it once took a batch end).
    const r = await checkLog(revive, [record(events)], { batchSize });
    expect(r.violations).toEqual([{ invariant: 'terminal-is-final', detail: 'session s1 became running again at position 4' }]);
    expect(revive.check(r.state)).toEqual([]);
  });

  it('terminal-is-final: a session ended by an event naming neither it nor its agent (a restart of its host), revived in a later batch', async () => {
    const events = [
      at(1, agent('a1')),
      at(2, ev('OrchestratorStarted', { host: 'h1', epoch: 1 })),
      at(3, spawned('a1', 's1', { host: 'h1', epoch: 1, pid: 7 })),
      at(4, ev('OrchestratorStarted', { host: 'h1', epoch: 2 })),
      at(5, ev('AgentHeartbeat', { agentId: 'a1' })),
    ];
    const revive = faulty((d, e) => {
      if (e.position === 5n) {
        const s = d.sessions.get('s1')!;
        s.state = 'running';
        s.endedAt = null;
        s.terminationReason = null;
        d.agents.get('a1')!.openSessionIds.push('s1');
      }
    });
    const r = await checkLog(revive, [record(events)], { batchSize: 1 });
    // The revival also breaks the state's own invariants (epoch fence, liveSince, host index); rule 2 is the one asked here.
    expect(r.violations.filter((v) => v.invariant === 'terminal-is-final')).toEqual([{ invariant: 'terminal-is-final', detail: 'session s1 became running again at position 5' }]);
  });

  it('terminal-is-final: a terminal session dropped from the state without being remembered', async () => {
    const drop = faulty((d, e) => {
      if (e.position === 5n) d.sessions.delete('s1');
    });
    // A second end for s1: invalid, but it names s1.
    const events = [...history.slice(0, 4), at(5, ended('a1', 's1'))];
    const r = await checkLog(drop, [record(events)]);
    expect(r.violations).toEqual([{ invariant: 'terminal-is-final', detail: 'session s1 was terminal and is neither kept nor remembered at position 5' }]);
  });

  it('a terminal session dropped and remembered as evicted is fine', async () => {
    const evict = faulty((d, e) => {
      if (e.position === 5n) {
        d.sessions.delete('s1');
        d.evictedSessions.add('s1');
      }
    });
    const events = [...history.slice(0, 4), at(5, ended('a1', 's1'))];
    expect((await checkLog(evict, [record(events)])).violations).toEqual([]);
  });

  it('an unknown session named by an event is no violation', async () => {
    const events = [at(1, agent('a1')), at(2, ended('a1', 'nope'))];
    const r = await checkLog(createLifecycleProjection(), [record(events)]);
    expect(r.violations).toEqual([]);
    expect(r.state.anomalies.byReason).toEqual({ 'unknown-session': 1 });
  });

  it('a revival reported at two positions is listed at each', async () => {
    const events = [...history.slice(0, 4), at(5, spawned('a1', 's1')), at(6, ev('AgentHeartbeat', { agentId: 'a1' }))];
    const revive = faulty((d, e) => {
      if (e.position >= 5n) {
        const s = d.sessions.get('s1')!;
        s.state = 'suspended';
        s.endedAt = null;
        const open = d.agents.get('a1')!.openSessionIds;
        if (!open.includes('s1')) open.push('s1');
      }
    });
    expect((await checkLog(revive, [record(events)])).violations).toEqual([
      { invariant: 'terminal-is-final', detail: 'session s1 became suspended again at position 5' },
      { invariant: 'terminal-is-final', detail: 'session s1 became suspended again at position 6' },
    ]);
  });
});
