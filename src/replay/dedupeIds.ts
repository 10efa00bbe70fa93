import { CompactIdSet } from '../events/compactIdSet.js';
import { DuplicateRecord, isDuplicate, isInvalid, type DecodedItem, type ReplayItem } from './replayItem.js';
import type { ReplaySource } from './foldEvents.js';

/**
 * Rule 4 for sources that cannot guarantee unique ids (NDJSON files, EventStoreDB): passes every
 * item through, turning an event whose id was already delivered into a DuplicateRecord, however
 * late it comes and whatever its `at`. The ids are held exactly and compactly (`seen`, which the
 * caller may keep, e.g. in a snapshot, to go on deduplicating a tail). Stores that guarantee unique
 * ids need no such stage.
 */
export async function* dedupeIds(source: ReplaySource, seen: CompactIdSet = new CompactIdSet()): AsyncGenerator<ReplayItem[]> {
  for await (const chunk of source) yield markDuplicates(chunk, seen);
}

/** One chunk of `dedupeIds`: the chunk itself when it holds no redelivery, else a copy with each one marked. */
export const markDuplicates = (chunk: readonly ReplayItem[], seen: CompactIdSet): ReplayItem[] => {
  let out: ReplayItem[] | null = null;
  for (let i = 0; i < chunk.length; i++) {
    const item = chunk[i]!;
    if (isInvalid(item) || isDuplicate(item) || seen.add(item.id)) continue;
    // Copy only chunks that hold a duplicate.
    out ??= chunk.slice();
    out[i] = new DuplicateRecord(item);
  }
  return out ?? (chunk as ReplayItem[]);
};

/**
 * The same rule for one decoded item at a time (a live follower): a valid event whose id is already
 * in `seen` becomes a DuplicateRecord; anything else passes, its id now in `seen`. Without a set
 * (a store with unique ids) every item passes.
 */
export const markRedelivery = (item: DecodedItem, seen: CompactIdSet | null): ReplayItem =>
  seen === null || isInvalid(item) || seen.add(item.id) ? item : new DuplicateRecord(item);
