import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { openStore } from '../../src/stores/openStore.js';

/**
 * A store under test and a way to get "another reconciler's" handle on the same log: the same
 * object for the memory store, a second connection to the same file for SQLite.
 */
export interface StoreKit {
  name: string;
  open(): Promise<{ store: EventStore; another(): Promise<EventStore>; close(): Promise<void> }>;
}

export const memoryKit: StoreKit = {
  name: 'memory',
  async open() {
    const store = openMemoryStore();
    return { store, another: async () => store, close: () => store.close() };
  },
};

export const sqliteKit: StoreKit = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-reconcile-'));
    const url = `sqlite:${join(dir, 'log.db')}`;
    const handles: EventStore[] = [await openStore(url)];
    return {
      store: handles[0]!,
      async another() {
        const h = await openStore(url);
        handles.push(h);
        return h;
      },
      async close() {
        for (const h of handles) await h.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** The stores the reconciler is proven against. */
export const storeKits: StoreKit[] = [memoryKit, sqliteKit];

/** Every stored event, decoded enough for counting. */
export const storedEvents = async (store: EventStore) => {
  const out: Array<{ id: string; type: string; data: Record<string, unknown>; metadata: Record<string, unknown> }> = [];
  for await (const e of store.readAll()) {
    out.push({ id: e.id, type: e.type, data: e.data as Record<string, unknown>, metadata: e.metadata as Record<string, unknown> });
  }
  return out;
};

/** How many times each correction was stored, keyed `type agent session-or-pid`. */
export const correctionCounts = async (store: EventStore): Promise<Record<string, number>> => {
  const counts: Record<string, number> = {};
  for (const e of await storedEvents(store)) {
    if (e.metadata['source'] !== 'rollcall-reconciler') continue;
    const key = `${e.type} ${String(e.data['agentId'])} ${String(e.data['sessionId'] ?? e.data['pid'] ?? '*')}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};
