import type { EventStore, ReadAllOptions, StoredEvent, SubscribeOptions } from './eventStore.js';

/** What a store adapter writes itself: everything but the one-event-at-a-time reads. */
export type StoreParts = Omit<EventStore, 'readAll' | 'subscribe'>;

/**
 * A store from its parts: `readAll` and `subscribe` are `readPages` and `subscribePages`
 * flattened, written here once rather than by every adapter. A subscription stops between two
 * events of a page as soon as its signal aborts or the store closes (`isClosed`).
 */
export const assembleStore = (parts: StoreParts, isClosed: () => boolean = () => false): EventStore => {
  async function* readAll(options?: ReadAllOptions): AsyncGenerator<StoredEvent> {
    for await (const page of parts.readPages(options)) yield* page;
  }
  async function* subscribe(options: SubscribeOptions = {}): AsyncGenerator<StoredEvent> {
    for await (const page of parts.subscribePages(options)) {
      for (const e of page) {
        yield e;
        if (options.signal?.aborted || isClosed()) return;
      }
    }
  }
  return { ...parts, readAll, subscribe };
};
