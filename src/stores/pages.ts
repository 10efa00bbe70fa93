import type { EventStore, ReadAllOptions, StoredEvent } from './eventStore.js';

const PAGE = 2048;

/**
 * A store's log as pages of events: the store's own `readPages` (one async step per page, not
 * per event) where it has one, else its `readAll` gathered into pages.
 */
export async function* pagesOf(store: EventStore, options: ReadAllOptions = {}): AsyncGenerator<StoredEvent[]> {
  if (store.readPages !== undefined) {
    yield* store.readPages(options);
    return;
  }
  let page: StoredEvent[] = [];
  for await (const e of store.readAll(options)) {
    page.push(e);
    if (page.length >= PAGE) {
      yield page;
      page = [];
    }
  }
  if (page.length) yield page;
}
