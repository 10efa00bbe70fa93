import { CompactIdSet } from '../events/compactIdSet.js';
import { trackLifecycleChanges } from '../projections/lifecycleChanged.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import { decodeStoredChunks } from '../replay/decodeStored.js';
import { dedupeIds } from '../replay/dedupeIds.js';
import { foldEvents, type ReplaySource } from '../replay/foldEvents.js';
import type { DecodedItem } from '../replay/replayItem.js';
import { findSnapshot } from '../replay/snapshots.js';
import type { EventStore } from '../stores/eventStore.js';
import { pause } from '../stores/pause.js';
import { applyStored } from './applyStored.js';
import { asRollcallError } from './retry.js';
import type { StatusKeeper } from './status.js';
import type { Subscriber, SubscriberOps } from './subscribers.js';

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

/**
 * Serves a subscriber resuming from before what the ring holds: folds a private copy of the
 * projection from the store up to its `from`, then applies the events after it with their changes
 * until the ring takes over. Costs one replay of the log up to `from` (from a snapshot when one is older).
 */
export const createResumption =
  (ctx: { store: EventStore; projection: LifecycleProjection; status: StatusKeeper; signal: AbortSignal; useSnapshots: boolean; skipInvalid: boolean }) =>
  async (sub: Subscriber, ops: SubscriberOps): Promise<void> => {
    const { store, projection, skipInvalid } = ctx;
    try {
      const from = sub.cursor;
      let initial: LifecycleState | undefined;
      let ownSeen = store.uniqueIds ? null : new CompactIdSet();
      if (ctx.useSnapshots) {
        const verdict = await findSnapshot(projection, store, { atMost: from });
        if (verdict.usable) {
          initial = verdict.state;
          if (ownSeen !== null) ownSeen = verdict.seenIds;
        }
      }
      const decoded = through(decodeStoredChunks(store.readAll({ after: initial?.position ?? null })), from);
      const source: ReplaySource = ownSeen === null ? decoded : dedupeIds(decoded, ownSeen);
      const upTo = await foldEvents(projection, source, { skipInvalid, ...(initial !== undefined ? { initialState: initial } : {}) });
      const ownTracker = trackLifecycleChanges(projection, upTo.state);
      let cursor = from;
      while (!sub.ended) {
        if (ops.goLive(sub)) return;
        let read = 0;
        for await (const stored of store.readAll({ after: cursor, limit: 1000 })) {
          read++;
          const change = applyStored(ownTracker, ownSeen, stored, skipInvalid);
          cursor = stored.position;
          ops.deliver(sub, change);
          if (sub.ended) return;
        }
        // Nothing more in the store yet the ring does not reach back here: wait for the follower.
        if (read === 0) await pause(50, ctx.signal);
        if (ctx.status.closed) return;
      }
    } catch (e) {
      ops.end(sub, asRollcallError(e, `${store.url}: catching up a subscriber`));
    }
  };
