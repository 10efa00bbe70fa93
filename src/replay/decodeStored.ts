import { RollcallError } from '../errors.js';
import { decodeEvent } from '../events/decodeEvent.js';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { StoredEvent } from '../stores/eventStore.js';
import { InvalidRecord, type ReplayItem } from './replayItem.js';

/** Validates (and upcasts) an event a store handed back; a bad one becomes an InvalidRecord naming its position. */
export const decodeStored = (stored: StoredEvent): ReplayItem => {
  if (stored.corrupt !== undefined) {
    const error = new RollcallError('corrupt-store', `position ${stored.position}: unreadable stored event (${stored.corrupt})`, {
      position: stored.position,
      stream: stored.stream,
    });
    return new InvalidRecord(error, stored.position, stored.id, stored.type);
  }
  const result = decodeEvent(
    { id: stored.id, type: stored.type, data: stored.data, metadata: stored.metadata },
    { position: stored.position },
  );
  if (!result.success) return new InvalidRecord(result.error, stored.position, stored.id, stored.type);
  const e = result.data as RecordedEvent;
  e.stream = stored.stream;
  e.revision = stored.revision;
  e.position = stored.position;
  return e;
};

/** Decodes a store's stream of events lazily. */
export async function* decodeStoredEvents(source: AsyncIterable<StoredEvent>): AsyncGenerator<ReplayItem> {
  for await (const stored of source) yield decodeStored(stored);
}
