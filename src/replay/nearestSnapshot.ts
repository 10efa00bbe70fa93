import { CompactIdSet } from '../events/compactIdSet.js';
import type { EventStore } from '../stores/eventStore.js';
import { verifySnapshot, type SnapshotProjection } from './snapshots.js';

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
 * The newest usable snapshot at or below `target` (a rung of the store's ladder, or its one
 * snapshot), so a fold to `target` reads only the gap. A rung is usable for `asOf` only when every
 * event it folded is no later than `asOf` (its `at`, the newest time in it). Damaged or foreign
 * rungs are skipped for the next one down, never trusted.
 */
export const nearestSnapshot = async <S>(
  store: EventStore,
  projection: SnapshotProjection<S>,
  target: FoldTarget = {},
): Promise<StartingPoint<S>> => {
  const none: StartingPoint<S> = { state: undefined, after: null, seen: store.uniqueIds ? null : new CompactIdSet() };
  const snapshots = store.snapshots;
  if (snapshots === undefined) return none;
  const until = target.until ?? null;
  const asOfMs = target.asOf == null ? null : Date.parse(target.asOf);
  const fits = (position: bigint, at: string | null | undefined) =>
    (until === null || position <= until) && (asOfMs === null || (at != null && Date.parse(at) <= asOfMs));

  const candidates =
    snapshots.rungs !== undefined
      ? (await snapshots.rungs(projection.name)).filter((r) => fits(r.position, r.at)).reverse()
      : [null];
  for (const rung of candidates) {
    const snapshot = rung === null ? await snapshots.load(projection.name) : await snapshots.loadAt!(projection.name, rung.position);
    if (snapshot === null || !fits(snapshot.position, snapshot.at)) continue;
    const verdict = await verifySnapshot(projection, snapshot, store);
    if (!verdict.usable) continue;
    // Without unique ids a snapshot is only usable with the ids seen up to it (as in replayStore).
    if (!store.uniqueIds && verdict.seenIds === null) continue;
    return { state: verdict.state, after: verdict.position, seen: store.uniqueIds ? null : verdict.seenIds };
  }
  return none;
};
