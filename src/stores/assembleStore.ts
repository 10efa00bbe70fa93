import type { EventStore, ReadAllOptions, StoredEvent, SubscribeOptions } from './eventStore.js';
import { tracedAppends } from './tracedAppends.js';

/** What a store adapter writes itself: everything but the one-event-at-a-time reads. */
export type StoreParts = Omit<EventStore, 'readAll' | 'subscribe'>;

/**
 * A store from its parts: `readAll` and `subscribe` are `readPages` and `subscribePages`
 * flattened, written here once rather than by every adapter. A subscription stops between two
 * events of a page as soon as its signal aborts or the store closes (`isClosed`). Every append is
 * traced and counted (tracedAppends.ts).
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
  return { ...tracedAppends(parts), readAll, subscribe };
};
