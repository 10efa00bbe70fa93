import type { CompactIdSet } from '../events/compactIdSet.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import { replayStore } from '../replay/replayLog.js';
import type { EventStore, StoredEvent, SubscribeOptions } from '../stores/eventStore.js';
import { asRollcallError, retryWhileUnavailable } from './retry.js';
import type { StatusKeeper } from './status.js';
import { instruments } from '../telemetry/instruments.js';
import { storeKind, traced } from '../telemetry/traced.js';

/** Longest run of applying events before the follower lets the event loop serve others. */
const YIELD_EVERY_MS = 10;

export interface FollowerContext {
  store: EventStore;
  projection: LifecycleProjection;
  status: StatusKeeper;
  /** Aborted on close: cuts every pause and the store's subscription short. */
  signal: AbortSignal;
  useSnapshots: boolean;
  skipInvalid: boolean;
  onCatchUpProgress?: ((done: number, total: number | null) => void) | undefined;
  /** The store's incarnation the state was folded from (see `EventStore.incarnation`). */
  incarnation?: number | undefined;
}

/** Whether the store reopened another file at its path since the state was folded: its log is another history. */
const replacedSince = (ctx: FollowerContext): boolean => (ctx.store.incarnation?.() ?? 0) !== (ctx.incarnation ?? 0);

/**
 * The initial catch-up: a replay of the store from its newest valid snapshot, retried while the
 * store is unavailable. Sets the status's position and head; null when the runtime stopped first.
 */
export const catchUp = (ctx: FollowerContext): Promise<{ state: LifecycleState; seen: CompactIdSet | null } | null> => {
  const kind = { 'rollcall.store.kind': storeKind(ctx.store.url) };
  // One `rollcall.catchup` span over the whole catch-up, retries included: its replays are its children.
  return traced(
    'rollcall.catchup',
    {
      attributes: kind,
      duration: { histogram: () => instruments().catchUpDuration, attributes: kind },
    },
    async (span) => {
      const caught = await catchUpUntraced(ctx);
      if (ctx.status.position !== null) span.setAttribute('rollcall.position.last', Number(ctx.status.position));
      if (ctx.status.head !== null) span.setAttribute('rollcall.position.head', Number(ctx.status.head));
      span.setAttribute('rollcall.catchup.completed', caught !== null);
      return caught;
    },
  );
};

const catchUpUntraced = async (ctx: FollowerContext): Promise<{ state: LifecycleState; seen: CompactIdSet | null } | null> => {
  const { store, status } = ctx;
  let caught: { state: LifecycleState; seen: CompactIdSet | null } | null = null;
  await retryWhileUnavailable(
    async () => {
      const seenHead = await store.head();
      if (status.closed) return true;
      ctx.incarnation = store.incarnation?.();
      status.setAvailable();
      const result = await replayStore(store, ctx.projection, {
        noSnapshot: !ctx.useSnapshots,
        skipInvalid: ctx.skipInvalid,
        ...(ctx.onCatchUpProgress ? { onProgress: ctx.onCatchUpProgress } : {}),
      });
      if (status.closed) return true;
      const position = result.state.position;
      status.position = position;
      status.head = seenHead === null || (position !== null && position > seenHead) ? position : seenHead;
      caught = { state: result.state, seen: result.seenIds };
      return true;
    },
    { doing: `${store.url}: catch-up`, status, signal: ctx.signal },
  );
  return caught;
};

async function* onePerPage(events: AsyncIterable<StoredEvent>): AsyncGenerator<readonly StoredEvent[]> {
  for await (const stored of events) yield [stored];
}

/**
 * A store's subscription a page at a time: its own pages where it has them (as they are, with no
 * generator of ours around each page), else one event a page.
 */
const subscriptionPages = (store: EventStore, options: SubscribeOptions): AsyncIterable<readonly StoredEvent[]> =>
  store.subscribePages !== undefined ? store.subscribePages(options) : onePerPage(store.subscribe(options));

/**
 * Follows the store's subscription after the status's position, handing each stored event to
 * `processOne`. When the subscription ends or fails it resumes from the last position applied
 * (nothing is skipped or repeated), once the store answers again. Returns on close or failure
 * (false), or true when the store reopened another file at its path: what was folded is then not
 * that log's history, and the caller starts over.
 */
export const follow = async (ctx: FollowerContext, processOne: (stored: StoredEvent) => void): Promise<boolean> => {
  const { store, status } = ctx;
  const doing = `${store.url}: follow`;
  let replaced = false;
  await retryWhileUnavailable(
    async (progressed) => {
      if ((replaced = replacedSince(ctx))) return true;
      const pages = subscriptionPages(store, { after: status.position, signal: ctx.signal, onStatus: status.onStoreStatus });
      let slice = performance.now();
      for await (const page of pages) {
        if (status.closed) return true;
        if ((replaced = replacedSince(ctx))) return true;
        status.setAvailable();
        progressed();
        for (const stored of page) {
          processOne(stored);
          // A store hands a backlog over without touching the event loop (microtasks only): give
          // timers and sockets (serve's requests) a turn every few ms of a burst, between events.
          if (performance.now() - slice > YIELD_EVERY_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            slice = performance.now();
            if (status.closed) return true;
          }
        }
      }
      return status.closed;
    },
    {
      doing,
      status,
      signal: ctx.signal,
      // Whether the store answers again, before resubscribing.
      beforeRetry: async () => {
        try {
          await store.head();
          if (!status.closed) status.setAvailable();
        } catch (e) {
          if (!status.closed) status.setUnavailable(asRollcallError(e, doing));
        }
      },
    },
  );
  return replaced;
};
