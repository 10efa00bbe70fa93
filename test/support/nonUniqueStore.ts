import { randomUUID } from 'node:crypto';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { assembleStore } from '../../src/stores/assembleStore.js';
import type { EventStore, StoredEvent } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';

/**
 * A memory store that, like EventStoreDB (whose idempotency is per stream and best effort), may
 * hold one id twice: every append is stored, a repeated id included, and handed back under the id
 * it was appended with. The memory store underneath keeps each copy under a fresh id of its own.
 */
export const openNonUniqueStore = (): EventStore => {
  const memory = openMemoryStore();
  const appendedAs = new Map<string, string>();
  const own = (e: LifecycleEvent): LifecycleEvent => {
    const id = randomUUID();
    appendedAs.set(id, e.id);
    return { ...e, id };
  };
  const asAppended = (s: StoredEvent): StoredEvent => ({ ...s, id: appendedAs.get(s.id)! });
  async function* mapped(source: AsyncIterable<StoredEvent>): AsyncGenerator<StoredEvent> {
    for await (const s of source) yield asAppended(s);
  }
  async function* mappedPages(source: AsyncIterable<readonly StoredEvent[]>): AsyncGenerator<StoredEvent[]> {
    for await (const page of source) yield page.map(asAppended);
  }
  return assembleStore({
    ...memory,
    url: 'memory:non-unique',
    uniqueIds: false,
    appendToStream: (stream, events, options) => memory.appendToStream(stream, events.map(own), options),
    appendBatch: (events) => memory.appendBatch(events.map(own)),
    appendGroup: (requests) => memory.appendGroup!(requests.map((r) => ({ ...r, events: r.events.map(own) }))),
    readPages: (options) => mappedPages(memory.readPages(options)),
    readStream: (stream, options) => mapped(memory.readStream(stream, options)),
    subscribePages: (options) => mappedPages(memory.subscribePages(options)),
  });
};
