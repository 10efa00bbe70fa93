import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { createTraveler, explainAt, travelView } from '../../src/replay/travel.js';
import { explainIn } from '../../src/projections/explainState.js';
import { defaultReconcileConfig } from '../../src/reconcile/reconcileConfig.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { openStore } from '../../src/stores/openStore.js';
import { tempDir } from '../support/cli.js';
import { fleet } from '../serve/harness.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { travelTo } from '../../src/replay/travel.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { keepingLadder, rungAt } from '../support/ladder.js';
import { openNonUniqueStore } from '../support/nonUniqueStore.js';

// The worker thread starts under tsx here: room for it on a busy machine.
vi.setConfig({ testTimeout: 120_000 });

const projection = createLifecycleProjection();
const traveler = createTraveler({ retentionMs: projection.retentionMs });
afterAll(() => traveler.close());

const fullView = async (store: EventStore, target: { until?: bigint; asOf?: string }) =>
  projection.view((await replayStore(store, projection, { ...target, noSnapshot: true })).state);

const travel = async (store: EventStore, target: { until?: bigint; asOf?: string }) => {
  const r = await travelView(traveler, store, projection, { until: target.until ?? null, asOf: target.asOf ?? null }, { skipInvalid: false });
  return { view: JSON.parse(new TextDecoder().decode(r.json)) as unknown, startedAfter: r.startedAfter };
};

describe('time travel from a rung plus the gap, on the traveler thread', () => {
  it.each([
    ['unique ids (sqlite, PostgreSQL, memory)', () => openMemoryStore()],
    ['ids that may repeat (EventStoreDB): the rung carries the ids seen', openNonUniqueStore],
  ])('property, %s: the view at any position or time equals a full replay to it, whichever rungs the ladder holds (a damaged one is skipped)', async (_kind, open) => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryHistory({ maxLength: 60 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        async (history, rungShares, targetShares, damagedShare) => {
          const base = open();
          const ladder = keepingLadder();
          const store: EventStore = { ...base, snapshots: ladder };
          await store.appendBatch(history);
          const head = (await store.head()) ?? 0n;
          if (head === 0n) return;
          const at = (share: number) => 1n + BigInt(Math.floor(share * Number(head - 1n)));
          for (const share of rungShares) await ladder.save(await rungAt(store, at(share)));
          if (damagedShare !== undefined) {
            // A rung whose checksum no longer matches its body: never trusted.
            const good = await rungAt(store, at(damagedShare));
            await ladder.save({ ...good, payload: good.payload.replace('"position"', '"position" ') });
          }
          for (const share of targetShares) {
            const until = at(share);
            const got = await travel(store, { until });
            expect(got.view).toEqual(await fullView(store, { until }));
            // It started from the nearest intact rung at or below the target.
            const usable = [...ladder.byPosition.keys()].filter((p) => p <= until && (damagedShare === undefined || p !== at(damagedShare) || rungShares.some((s) => at(s) === p)));
            if (damagedShare === undefined) expect(got.startedAfter).toBe(usable.sort((a, b) => (a < b ? -1 : 1)).pop() ?? null);
          }
          // By time: the log up to the first later event, from a rung known to be before it.
          const events = history.map((e) => e.metadata.at).sort();
          const asOf = events[Math.floor(events.length / 2)]!;
          expect((await travel(store, { asOf })).view).toEqual(await fullView(store, { asOf }));
          await store.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('property: explain at a past position, from a rung on the traveler thread, equals explain of a full replay to it (since included)', async () => {
    const questions = [
      ...['p0', 'p1'].map((id) => ({ kind: 'pool' as const, id, rules: defaultReconcileConfig })),
      ...['a0', 'a1', 'a2', 'a3'].map((id) => ({ kind: 'agent' as const, id, rules: defaultReconcileConfig })),
    ];
    await fc.assert(
      fc.asyncProperty(
        arbitraryHistory({ maxLength: 60 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (history, rungShares, targetShare) => {
          const ladder = keepingLadder();
          const store: EventStore = { ...openMemoryStore(), snapshots: ladder };
          await store.appendBatch(history);
          const head = (await store.head()) ?? 0n;
          if (head === 0n) return;
          const at = (share: number) => 1n + BigInt(Math.floor(share * Number(head - 1n)));
          for (const share of rungShares) await ladder.save(await rungAt(store, at(share)));
          const until = at(targetShare);
          const full = (await replayStore(store, projection, { until, noSnapshot: true })).state;
          for (const q of questions) {
            expect(await explainAt(traveler, store, projection, { until, asOf: null }, q, { skipInvalid: false }), `${q.kind} ${q.id}`).toEqual(explainIn(full, q));
          }
          await store.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a store the worker opens itself (SQLite file): six folds at once, more than run together, each equal to a full replay', async () => {
    const url = `sqlite:${join(tempDir(), 'travel.db')}`;
    const store = await openStore(url);
    const events = fleet(40, 3_000, 3);
    for (let i = 0; i < events.length; i += 1_000) {
      await store.appendBatch(events.slice(i, i + 1_000));
      // A rung where a following server would have saved one.
      await replayStore(store, projection, { snapshotEvery: 1 });
    }
    expect(store.readerUrl?.()).toBeDefined();
    const head = (await store.head())!;
    const targets = [1n, head / 5n, head / 2n, head / 2n + 1n, head - 7n, head];
    const answers = await Promise.all(targets.map((until) => travelTo(traveler, store, projection, { until }, { skipInvalid: false })));
    for (const [i, until] of targets.entries()) {
      expect(JSON.parse(new TextDecoder().decode(answers[i]!.json))).toEqual(await fullView(store, { until }));
      expect(answers[i]!.position).toBe(until.toString());
    }
    // The middle ones started from a rung, not from the start of the log.
    expect(answers[2]!.startedAfter).not.toBeNull();
    await store.close();
  });

  it('property, a store the worker opens itself: travels in any order, each going on from the state the last one reached when that is at or below its target, equal a full replay', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryHistory({ maxLength: 60 }),
        fc.array(fc.oneof(fc.record({ until: fc.double({ min: 0, max: 1, noNaN: true }) }), fc.record({ asOf: fc.double({ min: 0, max: 1, noNaN: true }) })), { minLength: 2, maxLength: 6 }),
        async (history, targets) => {
          const store = await openStore(`sqlite:${join(tempDir(), 'warm.db')}`);
          await store.appendBatch(history);
          const head = (await store.head()) ?? 0n;
          const times = history.map((e) => e.metadata.at).sort();
          // No rung: each fold starts at the start of the log or at the state the last one reached.
          let reached: bigint | null = null;
          for (const t of head === 0n ? [] : targets) {
            const target = 'until' in t ? { until: 1n + BigInt(Math.floor(t.until * Number(head - 1n))) } : { asOf: times[Math.floor(t.asOf * (times.length - 1))]! };
            const r = await travelTo(traveler, store, projection, { until: target.until ?? null, asOf: target.asOf ?? null }, { skipInvalid: false });
            expect(JSON.parse(new TextDecoder().decode(r.json))).toEqual(await fullView(store, target));
            if (target.until !== undefined) expect(r.startedAfter).toBe(reached !== null && reached <= target.until ? reached : null);
            // A fold that reached no event leaves the state kept before it.
            reached = r.lastPosition ?? r.startedAfter ?? reached;
          }
          await store.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a store the worker opens itself: the state the last travel reached is not gone on from once the log at its position holds another event', async () => {
    const path = join(tempDir(), 'replaced.db');
    const first = await openStore(`sqlite:${path}`);
    await first.appendBatch(fleet(5, 200, 1));
    const reached = await travelTo(traveler, first, projection, { until: 100n }, { skipInvalid: false });
    expect(reached.startedAfter).toBeNull();
    // Forward from there: it goes on from the state reached.
    expect((await travelTo(traveler, first, projection, { until: 150n }, { skipInvalid: false })).startedAfter).toBe(100n);
    await first.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    const second = await openStore(`sqlite:${path}`);
    await second.appendBatch(fleet(5, 200, 2));
    const r = await travelTo(traveler, second, projection, { until: 180n }, { skipInvalid: false });
    expect(r.startedAfter).toBeNull();
    expect(JSON.parse(new TextDecoder().decode(r.json))).toEqual(await fullView(second, { until: 180n }));
    await second.close();
  });
});
