import { CompactIdSet } from '../events/compactIdSet.js';
import type { EventStore } from '../stores/eventStore.js';
import { findSnapshot, type SnapshotProjection } from './snapshots.js';

/** Where a fold must not go past: a position (inclusive), a time (the log before the first later event), or both. */
export interface FoldTarget {
  until?: bigint | null;
  asOf?: string | null;
}

export interface StartingPoint<S> {
  /** A state decoded for this fold alone (it may be changed in place), or undefined: start from nothing. */
  state: S | undefined;
  /** Position the state is at: read the log after it. Null = from the start. */
  after: bigint | null;
  /** For a store without unique ids: the ids seen up to `after` (empty when starting from nothing). */
  seen: CompactIdSet | null;
}

/**
 * Where a fold to `target` starts: the newest usable snapshot at or below it (a rung of the store's
 * ladder, or its one snapshot), so that only the gap is read; else the start of the log.
 */
export const nearestSnapshot = async <S>(store: EventStore, projection: SnapshotProjection<S>, target: FoldTarget = {}): Promise<StartingPoint<S>> => {
  const verdict = await findSnapshot(projection, store, { atMost: target.until ?? null, asOf: target.asOf ?? null });
  if (!verdict.usable) return { state: undefined, after: null, seen: store.uniqueIds ? null : new CompactIdSet() };
  return { state: verdict.state, after: verdict.position, seen: store.uniqueIds ? null : verdict.seenIds };
};
