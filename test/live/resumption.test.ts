import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CompactIdSet } from '../../src/events/compactIdSet.js';
import { openResumption } from '../../src/live/resumption.js';
import type { Change } from '../../src/live/types.js';
import { trackLifecycleChanges } from '../../src/projections/lifecycleChanged.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { applyStored } from '../../src/replay/applyStored.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { createTraveler, foldToward } from '../../src/replay/travel.js';
import type { EventStore, StoredEvent } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { fleet } from '../serve/harness.js';
import { arbitraryHistory } from '../support/arbitraryHistory.js';
import { keepingLadder, rungAt } from '../support/ladder.js';
import { openNonUniqueStore } from '../support/nonUniqueStore.js';

// The worker thread starts under tsx here: room for it on a busy machine (a hang-catcher only).
vi.setConfig({ testTimeout: 120_000 });

const projection = createLifecycleProjection();
const traveler = createTraveler({ retentionMs: projection.retentionMs });
afterAll(() => traveler.close());

/** What a subscriber live since the start would have seen after `from`: a full fold to it, then each event tracked. */
const trackedAfter = async (store: EventStore, from: bigint): Promise<Change[]> => {
  const { state } = await replayStore(store, projection, { until: from, noSnapshot: true });
  const seen = store.uniqueIds ? null : new CompactIdSet();
  const out: Change[] = [];
  const tracker = trackLifecycleChanges(projection, state);
  for await (const e of store.readAll()) {
    if (e.position <= from) seen?.add(e.id);
    else out.push(applyStored(tracker, seen, e, true));
  }
  return out;
};

/** Every change a resumption from `from` answers, pulled `max` at a time until the store holds no more. */
const resumed = async (store: EventStore, from: bigint, max: number, useSnapshots = true): Promise<Change[]> => {
  const stop = new AbortController();
  const r = openResumption({ store, projection, traveler, useSnapshots, skipInvalid: true, signal: stop.signal }, from);
  const out: Change[] = [];
  for (;;) {
    const batch = await r.next(max);
    if (batch.length === 0) break;
    expect(batch.length).toBeLessThanOrEqual(max);
    out.push(...batch);
  }
  expect(r.cursor).toBe(out.at(-1)?.position ?? from);
  stop.abort();
  return out;
};

describe('a resumption behind the change ring, folded and tracked on the traveler thread', () => {
  it.each([
    ['unique ids (sqlite, PostgreSQL, memory)', () => openMemoryStore()],
    ['ids that may repeat (EventStoreDB): the rung carries the ids seen', openNonUniqueStore],
  ])('property, %s: from any position, the changes equal those of a full fold tracked after it, whichever rungs the ladder holds', async (_kind, open) => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryHistory({ maxLength: 60 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 25 }),
        fc.boolean(),
        async (history, rungShares, fromShare, max, useSnapshots) => {
          const ladder = keepingLadder();
          const store: EventStore = { ...open(), snapshots: ladder };
          await store.appendBatch(history);
          const head = (await store.head()) ?? 0n;
          const at = (share: number) => BigInt(Math.floor(share * Number(head)));
          for (const share of rungShares) if (at(share) > 0n) await ladder.save(await rungAt(store, at(share)));
          const from = at(fromShare);
          expect(await resumed(store, from, max, useSnapshots)).toEqual(await trackedAfter(store, from));
          await store.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a generated fleet with rungs at 100 and 250: resumes at, just before and just after each rung and the ends', async () => {
    const ladder = keepingLadder();
    const store: EventStore = { ...openMemoryStore(), snapshots: ladder };
    await store.appendBatch(fleet(6, 400, 3));
    for (const p of [100n, 250n]) await ladder.save(await rungAt(store, p));
    const head = (await store.head())!;
    for (const from of [0n, 1n, 99n, 100n, 101n, 249n, 250n, 251n, head - 1n, head]) {
      expect(await resumed(store, from, 50)).toEqual(await trackedAfter(store, from));
    }
    await store.close();
  });

  it('the copy on the worker ends where a full fold does: its view after the tracked events equals a full replay (foldToward + track)', async () => {
    const ladder = keepingLadder();
    const store: EventStore = { ...openMemoryStore(), snapshots: ladder };
    await store.appendBatch(fleet(5, 300, 11));
    await ladder.save(await rungAt(store, 120n));
    const { session, startedAfter } = await foldToward(traveler, store, projection, { until: 150n }, { skipInvalid: true });
    expect(startedAfter).toBe(120n);
    const after: StoredEvent[] = [];
    for await (const e of store.readAll({ after: 150n })) after.push(e);
    expect((await session.track(after.slice(0, 40))).map((c) => c.position)).toEqual(after.slice(0, 40).map((e) => e.position));
    await session.track(after.slice(40));
    const view = JSON.parse(new TextDecoder().decode((await session.view()).json)) as unknown;
    expect(view).toEqual(projection.view((await replayStore(store, projection, { noSnapshot: true })).state));
    session.close();
    await store.close();
  });

  it('goes on with what is appended after it answered that the store holds no more', async () => {
    const store = openMemoryStore();
    const history = fleet(4, 300, 19);
    const half = Math.floor(history.length / 2);
    await store.appendBatch(history.slice(0, half));
    const stop = new AbortController();
    const r = openResumption({ store, projection, traveler, useSnapshots: true, skipInvalid: true, signal: stop.signal }, 3n);
    const got: Change[] = [];
    for (let batch = await r.next(7); batch.length > 0; batch = await r.next(7)) got.push(...batch);
    expect(got.length).toBeGreaterThan(0);
    await store.appendBatch(history.slice(half));
    for (let batch = await r.next(7); batch.length > 0; batch = await r.next(7)) got.push(...batch);
    expect(got).toEqual(await trackedAfter(store, 3n));
    stop.abort();
    await store.close();
  });

  it('a reader that leaves drops the copy: a pull after the abort fails as interrupted instead of waiting for ever', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet(3, 50, 7));
    const stop = new AbortController();
    const r = openResumption({ store, projection, traveler, useSnapshots: true, skipInvalid: true, signal: stop.signal }, 2n);
    expect((await r.next(1)).length).toBe(1);
    stop.abort();
    await expect(r.next(1)).rejects.toMatchObject({ code: 'interrupted' });
    await store.close();
  });
});
