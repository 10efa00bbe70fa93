import type { CompactIdSet } from '../events/compactIdSet.js';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { LifecycleChangeTracker, TrackedChange } from '../projections/lifecycleChanged.js';
import type { StoredEvent } from '../stores/eventStore.js';
import { decodeStored } from './decodeStored.js';
import { markRedelivery } from './dedupeIds.js';
import { isDuplicate, isInvalid } from './replayItem.js';

/**
 * Decodes one stored event and applies it through a tracker: an undecodable one is an anomaly
 * with `skipInvalid` (else its error is thrown), a redelivered id (`ids` holds it) a duplicate.
 */
export const applyStored = (into: LifecycleChangeTracker, ids: CompactIdSet | null, stored: StoredEvent, skipInvalid: boolean): TrackedChange => {
  const item = markRedelivery(decodeStored(stored), ids);
  if (isInvalid(item)) {
    if (!skipInvalid) throw item.invalid;
    return into.applyInvalid({ position: item.position, eventId: item.id, type: item.type, message: item.invalid.message });
  }
  return isDuplicate(item) ? into.applyDuplicate(item.event) : into.apply(item as RecordedEvent);
};
