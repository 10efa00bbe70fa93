import { describe, expect, it } from 'vitest';
import { assembleStore, type StoreParts } from '../../src/stores/assembleStore.js';
import type { StoredEvent } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { openNonUniqueStore } from '../support/nonUniqueStore.js';
import { heartbeats } from '../support/events.js';
import { collect } from './conformance.js';

const stored = (position: number): StoredEvent => ({
  position: BigInt(position),
  stream: 'agent-a',
  revision: BigInt(position - 1),
  id: `id-${position}`,
  type: 'AgentHeartbeat',
  data: {},
  metadata: {},
});

/** Parts whose pages are fixed: readAll and subscribe come from assembleStore alone. */
const withPages = (pages: StoredEvent[][]): StoreParts => {
  const memory = openMemoryStore();
  return {
    ...memory,
    async *readPages() {
      yield* pages;
    },
    async *subscribePages() {
      yield* pages;
    },
  };
};

describe('assembleStore: readAll and subscribe are the pages flattened', () => {
  it('readAll and subscribe hand over every event of every page, in order', async () => {
    const store = assembleStore(withPages([[stored(1), stored(2)], [stored(3)]]));
    expect((await collect(store.readAll())).map((e) => e.position)).toEqual([1n, 2n, 3n]);
    expect((await collect(store.subscribe())).map((e) => e.position)).toEqual([1n, 2n, 3n]);
  });

  it('a subscription stops between two events of a page once its signal aborts', async () => {
    const store = assembleStore(withPages([[stored(1), stored(2), stored(3)]]));
    const controller = new AbortController();
    const seen: bigint[] = [];
    for await (const e of store.subscribe({ signal: controller.signal })) {
      seen.push(e.position);
      controller.abort();
    }
    expect(seen).toEqual([1n]);
  });

  it('a subscription stops between two events of a page once the store is closed', async () => {
    let closed = false;
    const store = assembleStore(withPages([[stored(1), stored(2), stored(3)]]), () => closed);
    const seen: bigint[] = [];
    for await (const e of store.subscribe()) {
      seen.push(e.position);
      if (e.position === 2n) closed = true;
    }
    expect(seen).toEqual([1n, 2n]);
  });

  it('a store built over another keeps its own reads: the non-unique test store hands back the ids it was given, group commit or not', async () => {
    const store = openNonUniqueStore();
    const events = heartbeats(3);
    await store.appendBatch(events);
    await store.appendGroup!([{ events: events.slice(0, 1) }]);
    expect((await collect(store.readAll())).map((e) => e.id)).toEqual([...events, events[0]!].map((e) => e.id));
    expect((await collect(store.subscribe({ signal: AbortSignal.abort() }))).length).toBe(0);
  });
});
