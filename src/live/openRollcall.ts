import { RollcallError, isRollcallError } from '../errors.js';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { trackLifecycleChanges, type LifecycleChangeTracker } from '../projections/lifecycleChanged.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import { DEFAULT_RETENTION_MS, type LifecycleState } from '../projections/lifecycleState.js';
import { CompactIdSet } from '../events/compactIdSet.js';
import { decodeStored, decodeStoredChunks } from '../replay/decodeStored.js';
import { dedupeIds, markRedelivery } from '../replay/dedupeIds.js';
import { foldEvents, type ReplaySource } from '../replay/foldEvents.js';
import { isDuplicate, isInvalid, type DecodedItem } from '../replay/replayItem.js';
import { replayStore } from '../replay/replayLog.js';
import { verifySnapshot } from '../replay/snapshots.js';
import type { EventStore, StoredEvent, SubscribeOptions, SubscriptionStatus } from '../stores/eventStore.js';
import { createChangeRing } from './changeRing.js';
import { createLiveView } from './liveView.js';
import { createSnapshotter } from './snapshotter.js';
import type { Change, LiveStatus, LiveSubscribeOptions, OpenRollcallOptions, Rollcall } from './types.js';

/** Longest run of applying events before the follower lets the event loop serve others. */
const YIELD_EVERY_MS = 10;

/** Position of "before the first event": every real position is greater. */
const START = -1n;

interface Subscriber {
  listener: (change: Change) => void;
  options: LiveSubscribeOptions;
  /** Last position delivered (or skipped as before `from`): only greater positions are delivered. */
  cursor: bigint;
  /** pending: waiting for catch-up; folding: served by a private fold from the store; live: from the ring. */
  mode: 'pending' | 'folding' | 'live';
  /** No `from` given: start after whatever position the runtime has when the subscriber starts. */
  fromNow: boolean;
  caughtUpSent: boolean;
  ended: boolean;
}

interface Waiter {
  position: bigint;
  resolve: () => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** A decoded source up to and including position `last`: nothing after it is read, nor its id seen. */
async function* through(source: AsyncIterable<DecodedItem[]>, last: bigint): AsyncGenerator<DecodedItem[]> {
  for await (const chunk of source) {
    const end = chunk.findIndex((item) => item.position > last);
    if (end < 0) yield chunk;
    else {
      if (end > 0) yield chunk.slice(0, end);
      return;
    }
  }
}

/** A store's subscription a page at a time: its own pages where it has them, else one event a page. */
async function* subscriptionPages(store: EventStore, options: SubscribeOptions): AsyncGenerator<readonly StoredEvent[]> {
  if (store.subscribePages !== undefined) {
    yield* store.subscribePages(options);
    return;
  }
  for await (const stored of store.subscribe(options)) yield [stored];
}

const asRollcallError = (e: unknown, doing: string): RollcallError =>
  isRollcallError(e) ? e : new RollcallError('store-unavailable', `${doing}: ${(e as Error)?.message ?? String(e)}`, { cause: e });

/**
 * Opens the live lifecycle projection over a store: catches up from the newest valid snapshot plus
 * the tail (in the background: see `whenCaughtUp`), then follows the store's subscription, applying
 * each event in place and computing what it changed from the ids it names. The store stays the
 * caller's: `close()` stops following but does not close it.
 */
export const openRollcall = (options: OpenRollcallOptions): Rollcall => {
  const { store } = options;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const projection = createLifecycleProjection({ retentionMs });
  const skipInvalid = options.skipInvalid ?? false;
  const useSnapshots = (options.snapshots ?? true) && store.snapshots !== undefined;
  const ring = createChangeRing(options.bufferSize ?? 50_000);
  const lifetime = new AbortController();

  let state: LifecycleState = projection.initialState();
  let tracker: LifecycleChangeTracker | null = null;
  // Rebuilt per position from what each event changed (a full view of a fleet takes seconds).
  let liveView = createLiveView(state);
  // A store without unique ids (EventStoreDB) may hand one id back twice: every id applied so far,
  // across catch-up and following, so that a redelivery is a duplicate anomaly (rule 4), as in a replay.
  let seen: CompactIdSet | null = null;
  let position: bigint | null = null;
  let head: bigint | null = null;
  let caughtUp = false;
  let storeAvailable = true;
  let lastError: RollcallError | null = null;
  let failed: RollcallError | null = null;
  let closed = false;
  let unavailableSince: number | null = null;

  const subscribers = new Set<Subscriber>();
  let waiters: Waiter[] = [];
  let caughtUpWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  const snapshotter = useSnapshots
    ? createSnapshotter({
        store,
        projection,
        retentionMs,
        skipInvalid,
        everyEvents: options.snapshotEveryEvents ?? 10_000,
        everyMs: options.snapshotEveryMs ?? 60_000,
      })
    : null;

  /**
   * Decodes one stored event and applies it through a tracker: an undecodable one is an anomaly
   * with `skipInvalid` (else its error is thrown), a redelivered id (`seen` holds it) a duplicate.
   */
  const applyStored = (into: LifecycleChangeTracker, ids: CompactIdSet | null, stored: StoredEvent): Change => {
    const item = markRedelivery(decodeStored(stored), ids);
    if (isInvalid(item)) {
      if (!skipInvalid) throw item.invalid;
      return into.applyInvalid({ position: item.position, eventId: item.id, type: item.type, message: item.invalid.message });
    }
    return isDuplicate(item) ? into.applyDuplicate(item.event) : into.apply(item as RecordedEvent);
  };

  // --- subscribers ------------------------------------------------------------------------------

  const endSubscriber = (sub: Subscriber, error: RollcallError | null) => {
    if (sub.ended) return;
    sub.ended = true;
    subscribers.delete(sub);
    if (error !== null) sub.options.onError?.(error);
  };

  const deliver = (sub: Subscriber, change: Change) => {
    if (sub.ended || change.position <= sub.cursor) return;
    sub.cursor = change.position;
    try {
      sub.listener(change);
    } catch (e) {
      endSubscriber(sub, new RollcallError('io', `a change listener threw: ${(e as Error)?.message ?? String(e)}`, { cause: e }));
    }
  };

  const maybeCaughtUp = (sub: Subscriber) => {
    if (sub.caughtUpSent || sub.ended || sub.mode !== 'live' || !caughtUp) return;
    if (head !== null && sub.cursor < head) return;
    sub.caughtUpSent = true;
    sub.options.onCaughtUp?.(position);
  };

  /** Serves a subscriber from the ring once it holds everything after its cursor; false if it does not. */
  const goLive = (sub: Subscriber): boolean => {
    const floor = ring.floor ?? START;
    if (sub.cursor < floor) return false;
    ring.forEachAfter(sub.cursor, (c) => deliver(sub, c));
    if (sub.ended) return true;
    sub.mode = 'live';
    maybeCaughtUp(sub);
    return true;
  };

  /**
   * A subscriber resuming from before what the ring holds: fold a private copy of the projection
   * from the store up to its `from`, then apply the events after it with their changes until the
   * ring takes over. Costs one replay of the log up to `from` (from a snapshot when one is older).
   */
  const foldPrivately = async (sub: Subscriber) => {
    try {
      const from = sub.cursor;
      let initial: LifecycleState | undefined;
      let ownSeen = store.uniqueIds ? null : new CompactIdSet();
      if (store.snapshots !== undefined && options.snapshots !== false) {
        const verdict = await verifySnapshot(projection, await store.snapshots.load(projection.name), store);
        // Without unique ids a snapshot is only usable with the ids seen up to it (as in replayStore).
        if (verdict.usable && verdict.position <= from && (ownSeen === null || verdict.seenIds !== null)) {
          initial = verdict.state;
          if (ownSeen !== null) ownSeen = verdict.seenIds;
        }
      }
      const decoded = through(decodeStoredChunks(store.readAll({ after: initial?.position ?? null })), from);
      const source: ReplaySource = ownSeen === null ? decoded : dedupeIds(decoded, ownSeen);
      const upTo = await foldEvents(projection, source, { skipInvalid, ...(initial !== undefined ? { initialState: initial } : {}) });
      const own = upTo.state;
      const ownTracker = trackLifecycleChanges(projection, own, { retentionMs });
      let cursor = from;
      while (!sub.ended) {
        if (goLive(sub)) return;
        let read = 0;
        for await (const stored of store.readAll({ after: cursor, limit: 1000 })) {
          read++;
          const change = applyStored(ownTracker, ownSeen, stored);
          cursor = stored.position;
          deliver(sub, change);
          if (sub.ended) return;
        }
        // Nothing more in the store yet the ring does not reach back here: wait for the follower.
        if (read === 0) await sleep(50, lifetime.signal);
        if (closed) return;
      }
    } catch (e) {
      endSubscriber(sub, asRollcallError(e, `${store.url}: catching up a subscriber`));
    }
  };

  const startSubscriber = (sub: Subscriber) => {
    if (sub.ended) return;
    if (sub.fromNow) sub.cursor = position ?? START;
    if (goLive(sub)) return;
    sub.mode = 'folding';
    void foldPrivately(sub);
  };

  // --- applying ---------------------------------------------------------------------------------

  const settleWaiters = () => {
    if (waiters.length === 0 || position === null) return;
    const done = waiters.filter((w) => w.position <= position!);
    if (done.length === 0) return;
    waiters = waiters.filter((w) => w.position > position!);
    for (const w of done) {
      w.cleanup();
      w.resolve();
    }
  };

  /** Ends every wait and subscription with `error` (following failed for good, or close). */
  const rejectEveryone = (error: RollcallError) => {
    for (const w of caughtUpWaiters) w.reject(error);
    caughtUpWaiters = [];
    for (const w of waiters) {
      w.cleanup();
      w.reject(error);
    }
    waiters = [];
    for (const sub of [...subscribers]) endSubscriber(sub, error);
  };

  const fail = (error: RollcallError) => {
    if (failed !== null || closed) return;
    failed = error;
    rejectEveryone(error);
  };

  const setAvailable = () => {
    if (storeAvailable) return;
    storeAvailable = true;
    lastError = null;
    unavailableSince = null;
  };

  const setUnavailable = (error: RollcallError) => {
    storeAvailable = false;
    lastError = error;
    unavailableSince ??= Date.now();
    if (options.giveUpAfterMs !== undefined && Date.now() - unavailableSince >= options.giveUpAfterMs) fail(error);
  };

  const onStoreStatus = (s: SubscriptionStatus) => {
    if (s.available) setAvailable();
    else setUnavailable(s.error);
  };

  const processOne = (stored: StoredEvent) => {
    const change = applyStored(tracker!, seen, stored);
    liveView.note(change.changed);
    position = stored.position;
    if (head === null || position > head) head = position;
    ring.push(change);
    for (const sub of subscribers) {
      if (sub.mode !== 'live') continue;
      deliver(sub, change);
      if (!sub.caughtUpSent) maybeCaughtUp(sub);
    }
    settleWaiters();
    snapshotter?.applied(stored);
  };

  // --- the follower ------------------------------------------------------------------------------

  const catchUp = async () => {
    let backoff = 100;
    while (!closed) {
      try {
        const seenHead = await store.head();
        if (closed) return;
        setAvailable();
        const result = await replayStore(store, projection, {
          noSnapshot: !useSnapshots,
          skipInvalid,
          ...(options.onCatchUpProgress ? { onProgress: options.onCatchUpProgress } : {}),
        });
        if (closed) return;
        state = result.state;
        seen = result.seenIds;
        position = state.position;
        head = seenHead === null || (position !== null && position > seenHead) ? position : seenHead;
        return;
      } catch (e) {
        if (closed) return;
        const error = asRollcallError(e, `${store.url}: catch-up`);
        if (error.code !== 'store-unavailable') throw error;
        setUnavailable(error);
        if (failed !== null) return;
        await sleep(backoff, lifetime.signal);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  };

  const follow = async () => {
    let backoff = 100;
    while (!closed && failed === null) {
      try {
        const pages = subscriptionPages(store, { after: position, signal: lifetime.signal, onStatus: onStoreStatus });
        let slice = performance.now();
        for await (const page of pages) {
          if (closed) return;
          if (!storeAvailable) setAvailable();
          backoff = 100;
          for (const stored of page) {
            processOne(stored);
            // A store hands a backlog over without touching the event loop (microtasks only): give
            // timers and sockets (serve's requests) a turn every few ms of a burst, between events.
            if (performance.now() - slice > YIELD_EVERY_MS) {
              await new Promise<void>((resolve) => setImmediate(resolve));
              slice = performance.now();
              if (closed) return;
            }
          }
        }
        if (closed) return;
      } catch (e) {
        if (closed) return;
        const error = asRollcallError(e, `${store.url}: follow`);
        if (error.code !== 'store-unavailable') throw error;
        setUnavailable(error);
        if (failed !== null) return;
      }
      // The subscription ended or failed: resume from the last position applied (nothing is skipped
      // or repeated), once the store answers again.
      await sleep(backoff, lifetime.signal);
      backoff = Math.min(backoff * 2, 5_000);
      try {
        await store.head();
        if (!closed) setAvailable();
      } catch (e) {
        if (!closed) setUnavailable(asRollcallError(e, `${store.url}: follow`));
      }
    }
  };

  const run = (async () => {
    try {
      await catchUp();
      if (closed || failed !== null) return;
      tracker = trackLifecycleChanges(projection, state, { retentionMs });
      liveView = createLiveView(state);
      ring.reset(position ?? START);
      caughtUp = true;
      snapshotter?.start(position);
      for (const w of caughtUpWaiters) w.resolve();
      caughtUpWaiters = [];
      settleWaiters();
      for (const sub of [...subscribers]) if (sub.mode === 'pending') startSubscriber(sub);
      await follow();
    } catch (e) {
      fail(asRollcallError(e, `${store.url}: follow`));
    }
  })();

  // --- the handle --------------------------------------------------------------------------------

  const handle: Rollcall = {
    view: () => liveView.view(),
    state: () => state,
    position: () => position,
    status: (): LiveStatus => ({ position, head, caughtUp, storeAvailable, lastError, failed }),
    snapshotStats: () => (snapshotter === null ? null : { ...snapshotter.stats }),
    subscribe(listener, subscribeOptions = {}) {
      const from = subscribeOptions.from ?? null;
      const sub: Subscriber = {
        listener,
        options: subscribeOptions,
        cursor: from ?? START,
        mode: 'pending',
        fromNow: from === null,
        caughtUpSent: false,
        ended: false,
      };
      if (closed || failed !== null) {
        const error = failed ?? new RollcallError('store-unavailable', `${store.url}: the live projection is closed`);
        queueMicrotask(() => subscribeOptions.onError?.(error));
        return () => undefined;
      }
      subscribers.add(sub);
      // Never call back before subscribe has returned its unsubscribe function.
      if (caughtUp) queueMicrotask(() => startSubscriber(sub));
      return () => endSubscriber(sub, null);
    },
    whenCaughtUp() {
      if (caughtUp) return Promise.resolve();
      if (failed !== null) return Promise.reject(failed);
      if (closed) return Promise.reject(new RollcallError('store-unavailable', `${store.url}: the live projection is closed`));
      return new Promise((resolve, reject) => caughtUpWaiters.push({ resolve, reject }));
    },
    whenProcessed(target, waitOptions = {}) {
      if (position !== null && position >= target) return Promise.resolve();
      if (failed !== null) return Promise.reject(failed);
      if (closed) return Promise.reject(new RollcallError('store-unavailable', `${store.url}: the live projection is closed`));
      return new Promise<void>((resolve, reject) => {
        const signal = waitOptions.signal;
        if (signal?.aborted) return reject(signal.reason);
        let timer: NodeJS.Timeout | undefined;
        const waiter: Waiter = {
          position: target,
          resolve,
          reject,
          cleanup: () => {
            if (timer !== undefined) clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
          },
        };
        const drop = (error: unknown) => {
          waiters = waiters.filter((w) => w !== waiter);
          waiter.cleanup();
          reject(error);
        };
        const onAbort = () => drop(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        if (waitOptions.timeoutMs !== undefined) {
          timer = setTimeout(
            () => drop(new RollcallError('timeout', `position ${target} not processed within ${waitOptions.timeoutMs} ms (at ${position ?? 'none'})`)),
            waitOptions.timeoutMs,
          );
        }
        waiters.push(waiter);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      lifetime.abort();
      const error = new RollcallError('store-unavailable', `${store.url}: the live projection is closed`);
      rejectEveryone(error);
      await run;
      await snapshotter?.close();
    },
  };
  return handle;
};
