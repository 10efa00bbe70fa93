import { RollcallError } from '../errors.js';
import type { CompactIdSet } from '../events/compactIdSet.js';
import { trackLifecycleChanges, type LifecycleChangeTracker } from '../projections/lifecycleChanged.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import { createTraveler } from '../replay/travel.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import type { StoredEvent } from '../stores/eventStore.js';
import { applyStored } from '../replay/applyStored.js';
import { createChangeFeed, createPulse } from './changeFeed.js';
import { START, createChangeRing } from './changeRing.js';
import { catchUp, follow, type FollowerContext } from './follower.js';
import { createLiveView } from './liveView.js';
import { createPositionWaiters } from './positionWaiters.js';
import { createResumption, openResumption } from './resumption.js';
import { asRollcallError } from './retry.js';
import { createSnapshotter } from './snapshotter.js';
import { createStatusKeeper } from './status.js';
import { createSubscribers } from './subscribers.js';
import type { OpenRollcallOptions, Rollcall } from './types.js';

/**
 * Opens the live lifecycle projection over a store: catches up from the newest valid snapshot plus
 * the tail (in the background: see `whenCaughtUp`), then follows the store's subscription, applying
 * each event in place and computing what it changed from the ids it names. The store stays the
 * caller's: `close()` stops following but does not close it.
 *
 * An assembly of one module per concern: the status (status.ts), catch-up and follow with their
 * one retry loop (follower.ts, retry.ts), subscribers (subscribers.ts) and the private fold that
 * resumes one from before the change ring (resumption.ts), position waiters (positionWaiters.ts),
 * the view rebuilt from what changed (liveView.ts) and snapshots while following (snapshotter.ts).
 */
export const openRollcall = (options: OpenRollcallOptions): Rollcall => {
  const { store } = options;
  const projection = createLifecycleProjection(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs });
  const skipInvalid = options.skipInvalid ?? false;
  const useSnapshots = (options.snapshots ?? true) && store.snapshots !== undefined;
  const ring = createChangeRing(options.bufferSize ?? 50_000);
  const lifetime = new AbortController();
  const closedError = () => new RollcallError('store-unavailable', `${store.url}: the live projection is closed`);

  let state: LifecycleState = projection.initialState();
  let tracker: LifecycleChangeTracker | null = null;
  // Rebuilt per position from what each event changed (a full view of a fleet takes seconds).
  let liveView = createLiveView(state);
  // A store without unique ids (EventStoreDB) may hand one id back twice: every id applied so far,
  // across catch-up and following, so that a redelivery is a duplicate anomaly (rule 4), as in a replay.
  let seen: CompactIdSet | null = null;

  // Wakes change feeds waiting at the head: on each change applied, at catch-up, when following stops.
  const pulse = createPulse();
  /** Ends every wait and subscription with `error` (following failed for good, or close). */
  const rejectEveryone = (error: RollcallError) => {
    waiters.rejectAll(error);
    subscribers.endAll(error);
    pulse.fire();
  };
  const status = createStatusKeeper({ giveUpAfterMs: options.giveUpAfterMs, onFail: rejectEveryone });
  const waiters = createPositionWaiters(status, closedError);
  // Private folds for readers behind the ring run on this thread (started on first resume).
  const traveler = createTraveler({ retentionMs: projection.retentionMs });
  const resume = createResumption({ store, projection, traveler, status, signal: lifetime.signal, useSnapshots, skipInvalid });
  const subscribers = createSubscribers({ ring, status, closedError, resume });
  const newSnapshotter = () =>
    useSnapshots
      ? createSnapshotter({
          store,
          projection,
          skipInvalid,
          everyEvents: options.snapshotEveryEvents ?? 10_000,
          everyMs: options.snapshotEveryMs ?? 60_000,
          fillLadder: options.fillLadder ?? false,
        })
      : null;
  let snapshotter = newSnapshotter();
  /** Counts the logs followed: bumped when the store reopened a replaced file and the runtime started over. */
  let generation = 0;

  const processOne = (stored: StoredEvent) => {
    const change = applyStored(tracker!, seen, stored, skipInvalid);
    liveView.note(change.changed);
    status.applied(stored.position);
    ring.push(change);
    subscribers.publish(change);
    waiters.settle();
    snapshotter?.applied(stored);
    pulse.fire();
  };

  const follower: FollowerContext = {
    store,
    projection,
    status,
    signal: lifetime.signal,
    useSnapshots,
    skipInvalid,
    onCatchUpProgress: options.onCatchUpProgress,
  };
  const run = (async () => {
    try {
      for (;;) {
        const caught = await catchUp(follower);
        if (caught === null || status.stopped) return;
        ({ state, seen } = caught);
        tracker = trackLifecycleChanges(projection, state);
        liveView = createLiveView(state);
        ring.reset(status.position ?? START);
        status.caughtUp = true;
        snapshotter?.start(status.position, follower.incarnation);
        waiters.caughtUp();
        subscribers.startPending();
        pulse.fire();
        if (!(await follow(follower, processOne)) || status.stopped) return;
        // The store reopened another file at its path (a backup restored under the process): what
        // was folded is not its history. Subscribers are ended (their positions named the old log),
        // the snapshotter's fold is dropped, and the runtime catches up again from the new file.
        status.caughtUp = false;
        generation++;
        subscribers.endAll(new RollcallError('store-unavailable', `${store.url}: the store file was replaced under the process; reconnect`));
        await snapshotter?.close();
        snapshotter = newSnapshotter();
        pulse.fire();
      }
    } catch (e) {
      status.fail(asRollcallError(e, `${store.url}: follow`));
    }
  })();

  return {
    projection,
    view: () => liveView.view(),
    viewSection: (name) => liveView.section(name),
    viewSessionsOf: (agentId) => liveView.sessionsOf(agentId),
    state: () => state,
    position: () => status.position,
    status: () => status.view(),
    snapshotStats: () => (snapshotter === null ? null : { ...snapshotter.stats }),
    subscribe: subscribers.subscribe,
    changes: (from) =>
      createChangeFeed(
        {
          ring,
          position: () => status.position,
          head: () => status.head,
          caughtUp: () => status.caughtUp,
          stopped: () => status.failed ?? (status.closed ? closedError() : null),
          generation: () => generation,
          pulse: pulse.wait,
          resume: (after, signal) => openResumption({ store, projection, traveler, useSnapshots, skipInvalid, signal: AbortSignal.any([signal, lifetime.signal]) }, after),
        },
        from,
      ),
    whenCaughtUp: waiters.whenCaughtUp,
    whenProcessed: waiters.whenProcessed,
    async close() {
      if (status.closed) return;
      status.closed = true;
      lifetime.abort();
      rejectEveryone(closedError());
      await run;
      await snapshotter?.close();
      await traveler.close();
    },
  };
};
