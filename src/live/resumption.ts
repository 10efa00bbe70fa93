import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { sharedFoldLane, type FoldLane } from '../replay/foldLane.js';
import type { FoldSession } from '../replay/foldSession.js';
import { foldToward, type Traveler } from '../replay/travel.js';
import type { EventStore, StoredEvent } from '../stores/eventStore.js';
import { pause } from '../stores/pause.js';
import { asRollcallError } from './retry.js';
import type { StatusKeeper } from './status.js';
import type { Subscriber, SubscriberOps } from './subscribers.js';
import type { Change } from './types.js';

/**
 * The changes after a position the live runtime's ring no longer holds: a private copy of the
 * projection on the traveler's thread, folded from the nearest snapshot at or below `from` (a rung
 * of the store's ladder) plus the gap, then the store read after it a batch at a time, each event
 * applied there with what it changed. This thread only reads the store (a page per turn of the
 * shared lane) and posts what it read: decoding the rung (tens of MB of JSON at fleet scale),
 * folding and tracking never hold it. Pull-based: nothing is read before it is asked for, so a
 * reader that waits costs a state (on the worker), never a backlog. The worker's copy is dropped
 * when `signal` aborts (the reader left, the ring took over, the runtime closed).
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
  /** The thread the private copy lives on (travel.ts). */
  traveler: Traveler;
  /** Start from the store's snapshots (false: fold from the start). */
  useSnapshots: boolean;
  skipInvalid: boolean;
  /** Stops a fold in progress and drops the copy (the runtime closed, the reader left). */
  signal: AbortSignal;
  lane?: FoldLane;
}

export const openResumption = (ctx: ResumptionContext, from: bigint): Resumption => {
  const { store, projection, skipInvalid, signal } = ctx;
  const lane = ctx.lane ?? sharedFoldLane;
  let cursor = from;
  let ready: Promise<FoldSession> | null = null;

  const prepare = async () => {
    const { session } = await foldToward(ctx.traveler, store, projection, { until: from }, { skipInvalid, lane, useRungs: ctx.useSnapshots, signal });
    if (signal.aborted) session.close();
    else signal.addEventListener('abort', () => session.close(), { once: true });
    return session;
  };

  return {
    get cursor() {
      return cursor;
    },
    async next(max) {
      ready ??= prepare();
      const session = await ready;
      await lane.pace();
      const read: StoredEvent[] = [];
      for await (const stored of store.readAll({ after: cursor, limit: max })) read.push(stored);
      if (read.length === 0) return [];
      const out = await session.track(read);
      cursor = read[read.length - 1]!.position;
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
    // Ends with this subscriber's catch-up (it went live or ended), so the worker drops its copy.
    const done = new AbortController();
    try {
      const resumption = openResumption({ ...ctx, signal: AbortSignal.any([ctx.signal, done.signal]) }, sub.cursor);
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
    } finally {
      done.abort();
    }
  };
