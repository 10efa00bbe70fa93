import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { Projection } from '../projections/defineProjection.js';
import type { EventStore, StoredEvent } from '../stores/eventStore.js';
import { decodeStoredPages } from './decodeStored.js';
import { dedupeIds } from './dedupeIds.js';
import { paced, sharedFoldLane, type FoldLane } from './foldLane.js';
import { foldEvents, type FoldResult } from './foldEvents.js';
import { nearestSnapshot, type FoldTarget } from './nearestSnapshot.js';
import { tracedReplay } from './tracedReplay.js';
import { storeKind } from '../telemetry/traced.js';

/** Events read per step: small enough that reading, decoding and folding one page is a short slice. */
const PAGE = 256;

/**
 * A store's events after `after` up to `until` (inclusive), a small page per query: nothing past
 * `until` is read, and each page is one bounded step of work.
 */
export async function* pagesUpTo(store: EventStore, after: bigint | null, until: bigint | null, page = PAGE): AsyncGenerator<StoredEvent[]> {
  let cursor = after;
  for (;;) {
    const limit = until === null ? page : Math.min(page, Number(until - (cursor ?? 0n)));
    if (limit <= 0) return;
    const events: StoredEvent[] = [];
    for await (const e of store.readAll({ after: cursor, limit })) {
      if (until !== null && e.position > until) break;
      events.push(e);
    }
    if (events.length === 0) return;
    yield events;
    cursor = events[events.length - 1]!.position;
    if (events.length < limit) return;
  }
}

export interface FoldToOptions {
  skipInvalid?: boolean;
  /** Shares the event loop with the rest of the process (default: the process's lane). */
  lane?: FoldLane;
}

export interface FoldToResult<S> extends FoldResult<S> {
  /** Position of the snapshot (rung) the fold started after, null when it started from nothing. */
  startedAfter: bigint | null;
}

/**
 * The projection at a past point of the log (`until` and/or `asOf`, as `replay --until/--as-of`):
 * from the nearest snapshot at or below it, folding only the gap, in paced slices so that a
 * server answering it goes on answering everyone else meanwhile.
 */
export const foldTo = <S>(store: EventStore, projection: Projection<S, RecordedEvent>, target: FoldTarget, options: FoldToOptions = {}): Promise<FoldToResult<S>> =>
  tracedReplay(storeKind(store.url), async (span) => {
    const result = await foldToUntraced(store, projection, target, options);
    if (result.startedAfter !== null) span.setAttribute('rollcall.snapshot.position', Number(result.startedAfter));
    return result;
  });

const foldToUntraced = async <S>(store: EventStore, projection: Projection<S, RecordedEvent>, target: FoldTarget, options: FoldToOptions): Promise<FoldToResult<S>> => {
  const lane = options.lane ?? sharedFoldLane;
  await lane.pace();
  const start = await nearestSnapshot(store, projection, target);
  const decoded = decodeStoredPages(paced(pagesUpTo(store, start.after, target.until ?? null), lane));
  const source = start.seen === null ? decoded : dedupeIds(decoded, start.seen);
  const result = await foldEvents(projection, source, {
    until: target.until ?? null,
    asOf: target.asOf ?? null,
    skipInvalid: options.skipInvalid ?? false,
    ...(start.state !== undefined ? { initialState: start.state, adoptInitialState: true } : {}),
  });
  return { ...result, startedAfter: start.after };
};
