import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { paced, sharedFoldLane, type FoldLane } from '../replay/foldLane.js';
import { peekEventId, snapshotMatchesLog } from '../replay/snapshots.js';
import { pagesUpTo } from '../replay/timeTravel.js';
import type { FoldSession } from '../replay/foldSession.js';
import { createTraveler, type Traveler } from '../replay/travel.js';
import type { EventStore, StoredEvent } from '../stores/eventStore.js';
import { DEFAULT_LADDER, missingCells, type LadderPolicy } from '../stores/snapshotLadder.js';

export interface LadderBuildStats {
  /** Rungs the builder saved (over every run). */
  saved: number;
  /** Runs that ended on an error (best effort: the ladder is only thinner). */
  failures: number;
  /** True while a run is in progress. */
  running: boolean;
}

/** What the builder reads the log and the ladder from, and saves rungs into (a store, or a snapshot writer's reads). */
export type LadderStore = Pick<EventStore, 'uniqueIds' | 'readAll' | 'snapshots'>;

export interface LadderBuildContext {
  store: LadderStore;
  projection: LifecycleProjection;
  skipInvalid: boolean;
  /** Stops a run in progress (the runtime closes). */
  signal: AbortSignal;
  policy?: LadderPolicy;
  lane?: FoldLane;
  /** Size of the newest rung's payload when the caller knows it (else the newest rung is loaded to measure it). */
  bytes?: number;
  traveler?: Traveler;
}

/** Starting again from a rung costs its decoding: worth it over folding this many events from where the fold is. */
const REUSE_FOLD = 50_000n;

/**
 * Fills the cells of the snapshot ladder that hold no rung (a store appended by the CLI, or while no
 * server was following, has rungs only near where a server last ran): folds the log from the
 * nearest rung below each hole in the traveler's sessions (the time-travel worker's, a page per
 * turn of the lane; or local ones where the caller is itself a worker), and saves a snapshot at
 * the start of each such cell. Returns the number of rungs saved.
 *
 * A rung is saved while the fold goes on toward the next one (one save at a time): a save in parts
 * mostly waits between them (sqlite: snapshotPartGap), and the fold fills those waits. Where the
 * store can be written from another thread, serve runs all of this on the snapshot worker, through
 * the snapshot writer's connection (snapshotter.ts); elsewhere (memory, EventStoreDB) on this thread.
 */
export const fillLadder = async (ctx: LadderBuildContext): Promise<number> => {
  const { store, projection, signal } = ctx;
  const snapshots = store.snapshots;
  if (snapshots?.rungs === undefined || snapshots.loadAt === undefined) return 0;
  const lane = ctx.lane ?? sharedFoldLane;
  const name = projection.name;
  const rungs = (await snapshots.rungs(name)).map((r) => r.position);
  const newest = rungs[rungs.length - 1];
  if (newest === undefined) return 0;
  const bytes = ctx.bytes ?? (await snapshots.loadAt(name, newest))?.payload.length ?? 1;
  const holes = missingCells(rungs, newest, bytes, ctx.policy ?? DEFAULT_LADDER);
  if (holes.length === 0) return 0;
  const traveler = ctx.traveler ?? createTraveler({ retentionMs: projection.retentionMs });
  let session: FoldSession | null = null;
  let at: bigint | null = null;
  let saved = 0;
  /** The save in flight (at most one): its failure ends the run at the next rung or at the end. */
  let saving: Promise<void> = Promise.resolve();
  const needsIds = !store.uniqueIds;

  /** A fold from the newest usable rung at or below `position`, else from the start of the log. */
  const openAt = async (position: bigint): Promise<void> => {
    session?.close();
    for (const rung of rungs.filter((p) => p <= position).reverse()) {
      await lane.pace();
      const snapshot = await snapshots.loadAt!(name, rung);
      const expectEventId = snapshot === null ? null : peekEventId(snapshot);
      if (expectEventId === null || !(await snapshotMatchesLog(store, rung, expectEventId))) continue;
      session = traveler.open({ snapshot, expectEventId, skipInvalid: ctx.skipInvalid, needsIds });
      at = rung;
      if ((await session.settle()) !== 'unusable') return;
      session.close();
    }
    session = traveler.open({ snapshot: null, expectEventId: null, skipInvalid: ctx.skipInvalid, needsIds });
    at = null;
  };
  /** Feeds the fold up to the first event at or after `start` (within `end`); false when the cell holds no event. */
  const feedTo = async (start: bigint, end: bigint): Promise<boolean> => {
    for await (const page of paced(pagesUpTo(store, at, start), lane)) {
      if (signal.aborted) return false;
      await session!.push(page);
      at = page[page.length - 1]!.position;
    }
    if (at !== null && at >= start) return true;
    // No event at `start` itself (positions may skip): the next one, if it is still in the cell.
    const after: StoredEvent[] = [];
    for await (const e of store.readAll({ after: at, limit: 1 })) after.push(e);
    if (after[0] === undefined || after[0].position >= end) return false;
    await session!.push(after);
    at = after[0].position;
    return true;
  };

  try {
    for (const cell of holes) {
      if (signal.aborted) break;
      const below = rungs.filter((p) => p <= cell.start).pop() ?? null;
      if (session === null || (below !== null && (at === null || below > at + REUSE_FOLD))) await openAt(cell.start);
      if (!(await feedTo(cell.start, cell.start + cell.size))) continue;
      const snapshot = await session!.snapshot();
      if (snapshot === null || signal.aborted) continue;
      await saving;
      saving = snapshots.save(snapshot).then(() => {
        rungs.push(snapshot.position);
        rungs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        saved++;
      });
      // Awaited at the next rung or below; until then a failure is not unhandled.
      saving.catch(() => undefined);
    }
    await saving;
  } finally {
    (session as FoldSession | null)?.close();
    await saving.catch(() => undefined);
    if (ctx.traveler === undefined) await traveler.close();
  }
  return saved;
};
