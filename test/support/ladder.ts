import { CompactIdSet } from '../../src/events/compactIdSet.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { generateHistory, type GenerateOptions } from '../../src/generate/generateHistory.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { encodeSnapshot } from '../../src/replay/snapshots.js';
import type { Rollcall, SnapshotStats } from '../../src/live/types.js';
import type { EventStore, Snapshot, SnapshotStore } from '../../src/stores/eventStore.js';
import { waitFor } from './waitFor.js';

const projection = createLifecycleProjection();

/** A ladder that keeps every rung it is given (the policy is snapshotLadder's own tests' business). */
export const keepingLadder = (): SnapshotStore & { byPosition: Map<bigint, Snapshot> } => {
  const byPosition = new Map<bigint, Snapshot>();
  const sorted = () => [...byPosition.values()].sort((a, b) => (a.position < b.position ? -1 : 1));
  return {
    byPosition,
    async load() {
      return sorted().pop() ?? null;
    },
    async save(s) {
      byPosition.set(s.position, s);
    },
    async rungs() {
      return sorted().map((s) => ({ position: s.position, at: s.at ?? null }));
    },
    async loadAt(_name, position) {
      return byPosition.get(position) ?? null;
    },
  };
};

/** The rung a following server would have saved after the event at `position`, made by a full replay. */
export const rungAt = async (store: EventStore, position: bigint): Promise<Snapshot> => {
  const { state } = await replayStore(store, projection, { until: position, noSnapshot: true });
  let eventId = '';
  const seen = store.uniqueIds ? undefined : new CompactIdSet();
  for await (const e of store.readAll({ limit: Number(position) })) {
    if (e.position > position) break;
    seen?.add(e.id);
    eventId = e.id;
  }
  return encodeSnapshot(projection, position, eventId, state, seen);
};

/** Waits until `server`'s ladder fill has saved at least one rung and ended; its stats then. */
export const ladderFillEnded = (server: Pick<Rollcall, 'snapshotStats'>, timeoutMs = 30_000): Promise<SnapshotStats> =>
  waitFor(
    'the fill ended',
    () => {
      const s = server.snapshotStats()!;
      return s.ladderFilled > 0 && !s.ladderFilling ? s : null;
    },
    { timeoutMs, describe: () => server.snapshotStats() },
  );

/**
 * A store as a CLI append and one replay leave it: `history` appended, one rung at the head and
 * none below it. Its head and that rung's size in bytes.
 */
export const storeWithRungAtHead = async (store: EventStore, history: GenerateOptions): Promise<{ head: bigint; bytes: number }> => {
  await store.appendBatch([...generateHistory(history)] as unknown as LifecycleEvent[]);
  const head = (await store.head())!;
  await store.snapshots!.save(await rungAt(store, head));
  const bytes = (await store.snapshots!.load(projection.name))!.payload.length;
  return { head, bytes };
};
