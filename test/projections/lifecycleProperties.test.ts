import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { checkInvariants } from '../../src/projections/checkInvariants.js';
import { createLifecycleProjection, lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { isTerminal, type LifecycleState } from '../../src/projections/lifecycleState.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { dedupeIds } from '../../src/replay/dedupeIds.js';
import { applyItems, foldEvents } from '../../src/replay/foldEvents.js';
import { encodeSnapshot, verifySnapshot } from '../../src/replay/snapshots.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { record, withoutAnomalies as withoutViewAnomalies } from '../support/lifecycle.js';
import { runs } from '../support/runs.js';

const RUNS = runs(300);

/** Every prefix's state, by applying the events one at a time. */
const prefixes = (events: ReturnType<typeof record>, projection = lifecycleProjection): LifecycleState[] => {
  const states: LifecycleState[] = [];
  let state = projection.initialState();
  for (const e of events) {
    state = applyItems(projection, state, [e]);
    states.push(state);
  }
  return states;
};

const withoutAnomalies = (s: LifecycleState) => withoutViewAnomalies(lifecycleView(s));

// Hundreds of random histories each: generous timeouts, the machine is shared.
describe('properties of the lifecycle projection over random histories', { timeout: 120_000 }, () => {
  it('the invariants hold after every prefix (running set, pool derivation, one live session, pid)', () => {
    fc.assert(
      fc.property(arbitraryHistory({ retentionJumps: true }), (events) => {
        const projection = createLifecycleProjection({ retentionMs: 24 * 3_600_000 });
        for (const [i, state] of prefixes(record(events), projection).entries()) {
          const violations = checkInvariants(state);
          expect(violations, `after event ${i + 1}`).toEqual([]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('a terminal session stays terminal in every longer prefix', () => {
    fc.assert(
      fc.property(arbitraryHistory({ retentionJumps: true }), (events) => {
        const terminal = new Set<string>();
        for (const state of prefixes(record(events))) {
          for (const id of terminal) {
            const s = state.sessions.get(id);
            // Either still in view and terminal, or evicted and remembered as final.
            expect(s === undefined ? state.evictedSessions.has(id) : isTerminal(s.state)).toBe(true);
          }
          for (const s of state.sessions.values()) if (isTerminal(s.state)) terminal.add(s.sessionId);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('folding in random chunk sizes equals one fold', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryHistory({ retentionJumps: true }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }), async (events, sizes) => {
        const recorded = record(events);
        const chunks = [];
        for (let i = 0, k = 0; i < recorded.length; k++) {
          const n = sizes[k % sizes.length]!;
          chunks.push(recorded.slice(i, i + n));
          i += n;
        }
        const one = await foldEvents(lifecycleProjection, [recorded], { batchSize: 1_000_000 });
        const many = await foldEvents(lifecycleProjection, chunks, { batchSize: sizes[0]! });
        expect(many.state).toEqual(one.state);
      }),
      { numRuns: RUNS },
    );
  });

  it('delivering every event twice changes nothing but the duplicate anomalies', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryHistory(), async (events) => {
        const once = await foldEvents(lifecycleProjection, dedupeIds([record(events)]));
        const twice = await foldEvents(lifecycleProjection, dedupeIds([record(events.flatMap((e) => [e, e]))]));
        expect(withoutAnomalies(twice.state)).toEqual(withoutAnomalies(once.state));
      }),
      { numRuns: RUNS },
    );
  });

  it('one immer produce() per event and the owned in-place fold give identical states, and produce never changes its base', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryHistory({ retentionJumps: true }), async (events) => {
        const projection = createLifecycleProjection({ retentionMs: 24 * 3_600_000 });
        const recorded = record(events);
        const inPlace = await foldEvents(projection, dedupeIds([recorded]), { batchSize: 7 });
        let state = projection.initialState();
        const frozen: Array<[LifecycleState, string]> = [];
        for await (const chunk of dedupeIds([recorded])) {
          for (const item of chunk) {
            state = applyItems(projection, state, [item]);
            frozen.push([state, JSON.stringify(projection.toJSON!(state))]);
          }
        }
        expect(state).toEqual(inPlace.state);
        expect(JSON.stringify(projection.toJSON!(state))).toBe(JSON.stringify(projection.toJSON!(inPlace.state)));
        // Every earlier state still reads as it did when it was produced.
        for (const [s, json] of frozen) expect(JSON.stringify(projection.toJSON!(s))).toBe(json);
      }),
      { numRuns: RUNS },
    );
  });

  it('replaying again later in wall time gives identical output', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryHistory({ retentionJumps: true }), async (events) => {
        vi.useFakeTimers();
        try {
          vi.setSystemTime(new Date('2026-11-21T00:00:00Z'));
          const now = JSON.stringify(lifecycleView((await foldEvents(lifecycleProjection, [record(events)])).state));
          vi.setSystemTime(new Date('2027-11-21T00:00:00Z'));
          const yearLater = JSON.stringify(lifecycleView((await foldEvents(lifecycleProjection, [record(events)])).state));
          expect(yearLater).toBe(now);
        } finally {
          vi.useRealTimers();
        }
      }),
      { numRuns: runs(50) },
    );
  });

  it('a snapshot plus the tail equals a full replay', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryHistory({ retentionJumps: true }), fc.nat(), async (events, cut) => {
        const recorded = record(events);
        if (recorded.length === 0) return;
        const k = (cut % recorded.length) + 1;
        const store = openMemoryStore();
        await store.appendBatch(events.filter((e, i) => events.findIndex((x) => x.id === e.id) === i));
        const full = await foldEvents(lifecycleProjection, [recorded]);
        const head = await foldEvents(lifecycleProjection, [recorded.slice(0, k)]);
        // Through the real snapshot encoding (JSON + checksum), as a store would keep it.
        const snap = encodeSnapshot(lifecycleProjection, BigInt(k), recorded[k - 1]!.id, head.state);
        const restored = lifecycleProjection.fromJSON!(JSON.parse(snap.payload.slice(snap.payload.indexOf('\n') + 1)).state);
        const tail = await foldEvents(lifecycleProjection, [recorded.slice(k)], { initialState: restored });
        expect(tail.state).toEqual(full.state);
        expect((await verifySnapshot(lifecycleProjection, { ...snap, payload: snap.payload.replace('"', "'") }, store)).usable).toBe(false);
      }),
      { numRuns: runs(100) },
    );
  });
});
