import type { EventStore, StoredEvent } from '../stores/eventStore.js';

/** Events read per step: small enough that reading, decoding and folding one page is a short slice. */
const PAGE = 256;

/**
 * A store's events after `after` up to `until` (inclusive), a small page per query: nothing past
 * `until` is read, and each page is one bounded step of work.
 */
export async function* pagesUpTo(store: Pick<EventStore, 'readAll'>, after: bigint | null, until: bigint | null, page = PAGE): AsyncGenerator<StoredEvent[]> {
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
