import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trackLifecycleChanges } from '../../src/projections/lifecycleChanged.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView, type ProjectionJson } from '../../src/projections/lifecycleView.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { agent, ended, ev, pool, record, spawned } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

const RUNS = runs(150);

/** Entities whose JSON differs between two views (added, removed or changed), as serve would see them. */
const diff = (a: ProjectionJson, b: ProjectionJson) => {
  const keys = (x: object, y: object) => [...new Set([...Object.keys(x), ...Object.keys(y)])];
  const differs = <T>(x: Record<string, T>, y: Record<string, T>) =>
    keys(x, y).filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k])).sort();
  return { pools: differs(a.pools, b.pools), agents: differs(a.agents, b.agents), sessions: differs(a.sessions, b.sessions) };
};

describe('changed: what each event changed, from the ids it names', () => {
  it('over random histories, names every pool, agent and session whose JSON changed, and nothing for an ignored event', () => {
    fc.assert(
      fc.property(arbitraryHistory({ retentionJumps: true }), (events) => {
        const retentionMs = 24 * 3_600_000;
        const projection = createLifecycleProjection({ retentionMs });
        const state = projection.initialState();
        const tracker = trackLifecycleChanges(projection, state);
        let before = lifecycleView(state);
        for (const e of record(events)) {
          const anomalies = state.anomalies.count;
          const change = tracker.apply(e);
          const after = lifecycleView(state);
          const actual = diff(before, after);
          for (const kind of ['pools', 'agents', 'sessions'] as const) {
            for (const id of actual[kind]) expect(change.changed[kind], `${kind} ${id} at ${e.position} (${e.type})`).toContain(id);
            expect(change.changed[kind]).toEqual([...new Set(change.changed[kind])].sort());
          }
          // An ignored event changes no entity (a clock it moved may still retire some).
          if (state.anomalies.count > anomalies && actual.pools.length + actual.agents.length + actual.sessions.length === 0) {
            expect(change.changed).toEqual({ pools: [], agents: [], sessions: [] });
          }
          expect(change.position).toBe(e.position);
          before = after;
        }
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('starting from a folded state (as after a catch-up), retention still reports the sessions that leave the view', () => {
    const retentionMs = 60 * 60_000;
    const projection = createLifecycleProjection({ retentionMs });
    const events = record([
      pool('p1', 2),
      agent('a1'),
      spawned('a1', 's1', { poolId: 'p1' }, ),
      ended('a1', 's1'),
      ev('AgentHeartbeat', { agentId: 'a1' }, { at: 2 * 3600 }),
    ]);
    const state = projection.initialState();
    for (const e of events.slice(0, 4)) projection.apply(state, e);
    const tracker = trackLifecycleChanges(projection, state);
    const change = tracker.apply(events[4]!);
    expect(change.changed).toEqual({ pools: [], agents: ['a1'], sessions: ['s1'] });
  });

  it('a spawn in a pool changes the session, its agent and the pool; a heartbeat only its agent', () => {
    const projection = createLifecycleProjection();
    const state = projection.initialState();
    const tracker = trackLifecycleChanges(projection, state);
    const events = record([pool('p1', 2), agent('a1'), spawned('a1', 's1', { poolId: 'p1', pid: 7 }), ev('AgentHeartbeat', { agentId: 'a1' })]);
    const changes = events.map((e) => tracker.apply(e).changed);
    expect(changes[0]).toEqual({ pools: ['p1'], agents: [], sessions: [] });
    expect(changes[1]).toEqual({ pools: [], agents: ['a1'], sessions: [] });
    expect(changes[2]).toEqual({ pools: ['p1'], agents: ['a1'], sessions: ['s1'] });
    expect(changes[3]).toEqual({ pools: [], agents: ['a1'], sessions: [] });
  });
});
