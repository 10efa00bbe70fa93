import fc from 'fast-check';
import type { Draft } from 'immer';
import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { isLive, type LifecycleState } from '../../src/projections/lifecycleState.js';
import type { LiveSince } from '../../src/projections/viewJson.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/replay/snapshots.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { ev, record, spawned } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

// The state remembers, for each live session, the event that last made it live (explain's `since`,
// SPEC §7.5), so that explaining now needs no fold. The oracle is what explain once computed by
// folding the log itself: around every event naming a session, was it live before, is it after.

const projection = createLifecycleProjection({ retentionMs: 24 * 3_600_000 });

/** Applies `events` one by one, computing liveSince beside the reducer the way explain used to. */
const foldWithOracle = (events: RecordedEvent[]): { state: LifecycleState; oracle: Map<string, LiveSince> } => {
  const state = projection.initialState();
  const oracle = new Map<string, LiveSince>();
  const seen = new Set<string>();
  for (const e of events) {
    if (seen.has(e.id)) continue; // rule 4: a redelivery changes nothing
    seen.add(e.id);
    const named = (e.data as { sessionId?: unknown }).sessionId;
    const wasLive = typeof named === 'string' && isLive(state.sessions.get(named)?.state ?? 'terminated');
    projection.apply(state as Draft<LifecycleState>, e);
    if (typeof named === 'string' && !wasLive && isLive(state.sessions.get(named)?.state ?? 'terminated')) {
      oracle.set(named, { position: e.position.toString(), type: e.type, at: e.metadata.at });
    }
  }
  for (const id of oracle.keys()) if (!isLive(state.sessions.get(id)?.state ?? 'terminated')) oracle.delete(id);
  return { state, oracle };
};

describe('liveSince: the event that made each live session live', { timeout: 120_000 }, () => {
  it('a spawn, then a resume after a suspension: the resume is remembered; an end forgets it', () => {
    const events = record([
      ev('AgentRegistered', { agentId: 'a1', role: 'worker' }),
      spawned('a1', 's1'),
      ev('SessionSuspended', { agentId: 'a1', sessionId: 's1' }),
      ev('SessionResumed', { agentId: 'a1', sessionId: 's1' }),
    ]);
    const { state } = foldWithOracle(events);
    expect(state.liveSince.get('s1')).toEqual({ position: '4', type: 'SessionResumed', at: events[3]!.metadata.at });
    const ended = record([...events, ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' })]);
    expect(foldWithOracle(ended).state.liveSince.size).toBe(0);
  });

  it('equals the oracle after every prefix of random histories, redeliveries included', () => {
    fc.assert(
      fc.property(arbitraryHistory({ retentionJumps: true }), fc.array(fc.nat(), { maxLength: 6 }), (history, picks) => {
        const events = record(history);
        // Redeliveries: earlier events again at later points (same id and position as the original).
        for (const p of picks) if (events.length > 0) events.splice(Math.min(events.length, (p % events.length) + 1 + (p % 3)), 0, events[p % events.length]!);
        for (let n = 0; n <= events.length; n++) {
          const { state, oracle } = foldWithOracle(events.slice(0, n));
          expect(state.liveSince, `after ${n} events`).toEqual(oracle);
        }
      }),
      { numRuns: runs(200) },
    );
  });

  it('survives a snapshot: decoded, the state remembers the same events', () => {
    fc.assert(
      fc.property(arbitraryHistory({ retentionJumps: true }), (history) => {
        const { state } = foldWithOracle(record(history));
        const snapshot = encodeSnapshot(projection, state.position ?? 0n, 'e-last', state);
        const decoded = decodeSnapshot(projection, snapshot);
        expect(decoded.usable && decoded.state.liveSince).toEqual(state.liveSince);
      }),
      { numRuns: runs(100) },
    );
  });
});
