import { CompactIdSet } from '../events/compactIdSet.js';
import { trackLifecycleChanges, type LifecycleChangeTracker } from '../projections/lifecycleChanged.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { decodeStoredPages } from '../replay/decodeStored.js';
import { dedupeIds } from '../replay/dedupeIds.js';
import { foldEvents } from '../replay/foldEvents.js';
import { paced, sharedFoldLane, type FoldLane } from '../replay/foldLane.js';
import { nearestSnapshot, type StartingPoint } from '../replay/nearestSnapshot.js';
import { pagesUpTo } from '../replay/timeTravel.js';
import { untilAborted } from '../replay/untilAborted.js';
import type { EventStore } from '../stores/eventStore.js';
import { pause } from '../stores/pause.js';
import { applyStored } from './applyStored.js';
import { asRollcallError } from './retry.js';
import type { StatusKeeper } from './status.js';
import type { Subscriber, SubscriberOps } from './subscribers.js';
import type { Change } from './types.js';

/**
 * The changes after a position the live runtime's ring no longer holds: a private copy of the
 * projection, folded from the nearest snapshot at or below `from` (a rung of the store's ladder),
 * then the store read after it a batch at a time, each event applied with what it changed. The fold
 * runs in slices on the shared lane, so resumes never stall the process. Pull-based: nothing is read
 * before it is asked for, so a reader that waits costs a state, never a backlog.
 */
export interface Resumption {
  /** The next changes after the last one returned (at most `max`); [] when the store holds no more yet. */
  next(max: number): Promise<Change[]>;
  /** Position of the last change returned (or `from`). */
  readonly cursor: bigint;
}

export interface ResumptionContext {
  store: EventStore;
  projection: LifecycleProjection;
  /** Start from the store's snapshots (false: fold from the start). */
  useSnapshots: boolean;
  skipInvalid: boolean;
  /** Stops a fold in progress (the runtime closed, the reader left). */
  signal: AbortSignal;
  lane?: FoldLane;
}

export const openResumption = (ctx: ResumptionContext, from: bigint): Resumption => {
  const { store, projection, skipInvalid } = ctx;
  const lane = ctx.lane ?? sharedFoldLane;
  let cursor = from;
  let ready: Promise<{ tracker: LifecycleChangeTracker; seen: CompactIdSet | null }> | null = null;

  const prepare = async () => {
    // Decoding a rung is the one step that is not sliced: one per turn, like a slice.
    await lane.pace();
    const start: StartingPoint<ReturnType<LifecycleProjection['initialState']>> = ctx.useSnapshots
      ? await nearestSnapshot(store, projection, { until: from })
      : { state: undefined, after: null, seen: store.uniqueIds ? null : new CompactIdSet() };
    const decoded = decodeStoredPages(untilAborted(paced(pagesUpTo(store, start.after, from), lane), ctx.signal));
    const source = start.seen === null ? decoded : dedupeIds(decoded, start.seen);
    const { state } = await foldEvents(projection, source, {
      skipInvalid,
      ...(start.state !== undefined ? { initialState: start.state, adoptInitialState: true } : {}),
    });
    return { tracker: trackLifecycleChanges(projection, state), seen: start.seen };
  };

  return {
    get cursor() {
      return cursor;
    },
    async next(max) {
      ready ??= prepare();
      const { tracker, seen } = await ready;
      await lane.pace();
      const out: Change[] = [];
      for await (const stored of store.readAll({ after: cursor, limit: max })) {
        out.push(applyStored(tracker, seen, stored, skipInvalid));
        cursor = stored.position;
      }
      return out;
    },
  };
};

/**
 * Serves a push subscriber resuming from before what the ring holds: a resumption pulled a batch at
 * a time until the ring takes over.
 */
export const createResumption =
  (ctx: Omit<ResumptionContext, 'signal'> & { status: StatusKeeper; signal: AbortSignal }) =>
  async (sub: Subscriber, ops: SubscriberOps): Promise<void> => {
    try {
      const resumption = openResumption(ctx, sub.cursor);
      while (!sub.ended) {
        if (ops.goLive(sub)) return;
        const changes = await resumption.next(1000);
        for (const change of changes) {
          ops.deliver(sub, change);
          if (sub.ended) return;
        }
        // Nothing more in the store yet the ring does not reach back here: wait for the follower.
        if (changes.length === 0) await pause(50, ctx.signal);
        if (ctx.status.closed) return;
      }
    } catch (e) {
      if (ctx.status.closed) return;
      ops.end(sub, asRollcallError(e, `${ctx.store.url}: catching up a subscriber`));
    }
  };
