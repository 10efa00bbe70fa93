import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { openRollcall } from '../../src/live/openRollcall.js';
import type { Change, Rollcall } from '../../src/live/types.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView, type ProjectionJson } from '../../src/projections/lifecycleView.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { verifySnapshot } from '../../src/replay/snapshots.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { withRedeliveries } from '../support/arbitraryHistory.js';
import { agent, ev, withoutAnomalies } from '../support/lifecycle.js';
import { openNonUniqueStore } from '../support/nonUniqueStore.js';
import { waitFor } from '../support/waitFor.js';

// Rule 4 on a store that may hand one id back twice (EventStoreDB): the live view must be what a
// replay of the log gives, each redelivery a duplicate anomaly, whether the redelivery is met during
// catch-up, while following, or after a restart from a snapshot.

/** Subscribes from now; resolves once the subscription says it is caught up (later appends reach it). */
const subscribed = (live: Rollcall, onChange: (c: Change) => void) =>
  new Promise<void>((resolve) => live.subscribe(onChange, { onCaughtUp: () => resolve() }));

/** The log replayed in full, deduplicated exactly: what the live view must equal. */
const fullReplay = async (store: EventStore) => lifecycleView((await replayStore(store, lifecycleProjection, { noSnapshot: true })).state);

// A redelivered c1 applied a second time would roll the connection back from c2 to c1.
const c1 = ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' });
const c2 = ev('AgentConnected', { agentId: 'a1', connectionId: 'c2' });
const redelivered = { ...c1, metadata: { at: new Date(Date.parse(c2.metadata.at) + 60_000).toISOString() } };

const expectDeduplicated = async (store: EventStore, view: ProjectionJson, duplicates: number) => {
  expect(view.agents['a1']!.connection).toMatchObject({ connectionId: 'c2', state: 'connected' });
  expect(view.anomalies.byReason.duplicate ?? 0).toBe(duplicates);
  expect(view).toEqual(await fullReplay(store));
};

describe('openRollcall on a store without unique ids: a redelivered id changes nothing but the anomalies and the position', () => {
  it('a redelivery met during catch-up', async () => {
    const store = openNonUniqueStore();
    await store.appendBatch([agent('a1'), c1, c2, redelivered]);
    const live = openRollcall({ store, snapshots: false });
    await live.whenCaughtUp();
    expect(live.position()).toBe(4n);
    await expectDeduplicated(store, live.view(), 1);
    await live.close();
  });

  it('a redelivery while following, of an event applied during catch-up and of one applied while following', async () => {
    const store = openNonUniqueStore();
    await store.appendBatch([agent('a1'), c1]);
    const live = openRollcall({ store, snapshots: false });
    await live.whenCaughtUp();
    const changes: Change[] = [];
    await subscribed(live, (c) => changes.push(c));
    const heartbeat = ev('AgentHeartbeat', { agentId: 'a1' });
    const { lastPosition } = await store.appendBatch([c2, redelivered, heartbeat, { ...heartbeat }]);
    await live.whenProcessed(lastPosition!);
    await expectDeduplicated(store, live.view(), 2);
    // Subscribers still get every position; a redelivery names nothing.
    expect(changes.map((c) => [c.position, c.type])).toEqual([
      [3n, 'AgentConnected'],
      [4n, 'AgentConnected'],
      [5n, 'AgentHeartbeat'],
      [6n, 'AgentHeartbeat'],
    ]);
    expect(changes[1]!.changed).toEqual({ pools: [], agents: [], sessions: [] });
    expect(changes[3]!.changed).toEqual({ pools: [], agents: [], sessions: [] });
    await live.close();
  });

  it('a subscriber resuming from before the ring (a private fold from the store) sees the same changes as one that was live', async () => {
    const store = openNonUniqueStore();
    await store.appendBatch([agent('a1'), c1]);
    const live = openRollcall({ store, snapshots: false, bufferSize: 2 });
    await live.whenCaughtUp();
    const live0: Change[] = [];
    await subscribed(live, (c) => live0.push(c));
    const heartbeats = Array.from({ length: 5 }, () => ev('AgentHeartbeat', { agentId: 'a1' }));
    await store.appendBatch([c2, redelivered, ...heartbeats]);
    await live.whenProcessed(9n);
    // From 3: folded through c2, then each event with its change; the fold must not have seen the
    // heartbeats' ids (they come after 3), or they would be taken for redeliveries.
    const resumed: Change[] = [];
    live.subscribe((c) => resumed.push(c), { from: 3n });
    await waitFor('six resumed changes', () => resumed.length >= 6, { describe: () => resumed.length });
    expect(resumed).toEqual(live0.slice(1));
    expect(resumed[0]!.changed.agents).toEqual([]);
    expect(resumed[1]!.changed.agents).toEqual(['a1']);
    await live.close();
  });

  it('a redelivery after a restart from a snapshot (the snapshot carries the ids seen up to it)', async () => {
    const store = openNonUniqueStore();
    await store.appendBatch([agent('a1'), c1, c2]);
    await replayStore(store, lifecycleProjection, { snapshotEvery: 1 });
    const verdict = await verifySnapshot(lifecycleProjection, await store.snapshots!.load(lifecycleProjection.name), store);
    expect(verdict).toMatchObject({ usable: true, position: 3n });
    expect((verdict as { seenIds: { size: number } }).seenIds.size).toBe(3);
    const live = openRollcall({ store, snapshots: true });
    await live.whenCaughtUp();
    const { lastPosition } = await store.appendBatch([redelivered]);
    await live.whenProcessed(lastPosition!);
    await expectDeduplicated(store, live.view(), 1);
    await live.close();
  });

  it('a snapshot without an id set is not used for such a store: a redelivery of an event before it is still a duplicate', async () => {
    const events = [agent('a1'), c1, c2];
    // The same log in a store with unique ids: its snapshot matches this log's event at position 3 but carries no ids.
    const unique = openMemoryStore();
    await unique.appendBatch(events);
    await replayStore(unique, lifecycleProjection, { snapshotEvery: 1 });
    const store = openNonUniqueStore();
    await store.appendBatch(events);
    await store.snapshots!.save((await unique.snapshots!.load(lifecycleProjection.name))!);
    const live = openRollcall({ store });
    await live.whenCaughtUp();
    const { lastPosition } = await store.appendBatch([redelivered]);
    await live.whenProcessed(lastPosition!);
    await expectDeduplicated(store, live.view(), 1);
    await live.close();
  });

  it('snapshots taken while following carry the ids seen, and a restart from one goes on deduplicating', async () => {
    const store = openNonUniqueStore();
    await store.appendBatch([agent('a1'), c1]);
    const live = openRollcall({ store, snapshotEveryEvents: 2, snapshotEveryMs: 60_000 });
    await live.whenCaughtUp();
    await store.appendBatch([c2, redelivered]);
    await live.whenProcessed(4n);
    await waitFor('a snapshot saved', () => (live.snapshotStats()?.saved ?? 0) >= 1, { describe: () => live.snapshotStats() });
    await live.close();
    const verdict = await verifySnapshot(lifecycleProjection, await store.snapshots!.load(lifecycleProjection.name), store);
    expect(verdict).toMatchObject({ usable: true, position: 4n });
    // The worker's mirror deduplicated too: its state counts the redelivery, its set holds 3 distinct ids.
    const usable = verdict as { state: Parameters<typeof lifecycleView>[0]; seenIds: { size: number } };
    expect(usable.seenIds.size).toBe(3);
    expect(lifecycleView(usable.state)).toEqual(await fullReplay(store));
    const again = openRollcall({ store });
    await again.whenCaughtUp();
    const { lastPosition } = await store.appendBatch([{ ...c2 }]);
    await again.whenProcessed(lastPosition!);
    await expectDeduplicated(store, again.view(), 2);
    await again.close();
  }, 30_000);

  it('property: any redelivery of any earlier event at any later point, met in catch-up, while following or after a snapshot, changes only the anomalies and the position', { timeout: 180_000 }, async () => {
    // Positions move with inserted redeliveries: the view's, and those a quarantine names for its ends.
    const ignoringPositions = withoutAnomalies;
    const appendAll = async (store: EventStore, events: readonly LifecycleEvent[]) => {
      if (events.length > 0) await store.appendBatch(events);
    };
    await fc.assert(
      fc.asyncProperty(withRedeliveries, fc.nat(), fc.nat(), async ({ events, redelivered: log, inserted }, cutA, cutB) => {
        const once = await fullReplay(await (async () => {
          const s = openNonUniqueStore();
          await appendAll(s, events);
          return s;
        })());
        // The log in three parts: before a snapshot, before the runtime opens (catch-up), and while it follows.
        const snapshotAt = cutA % (log.length + 1);
        const openAt = snapshotAt + (cutB % (log.length - snapshotAt + 1));
        const store = openNonUniqueStore();
        await appendAll(store, log.slice(0, snapshotAt));
        if (snapshotAt > 0) await replayStore(store, lifecycleProjection, { snapshotEvery: 1 });
        await appendAll(store, log.slice(snapshotAt, openAt));
        const live = openRollcall({ store });
        await live.whenCaughtUp();
        for (const e of log.slice(openAt)) await store.appendBatch([e]);
        if (log.length > 0) await live.whenProcessed(BigInt(log.length));
        const view = live.view();
        await live.close();
        expect(view).toEqual(await fullReplay(store));
        expect(ignoringPositions(view)).toEqual(ignoringPositions(once));
        expect(view.anomalies.count - once.anomalies.count).toBe(inserted);
        expect((view.anomalies.byReason.duplicate ?? 0) - (once.anomalies.byReason.duplicate ?? 0)).toBe(inserted);
      }),
      { numRuns: 100 },
    );
  });
});
