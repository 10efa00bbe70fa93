import { decodeEvent } from '../events/decodeEvent.js';
import type { LifecycleEvent } from '../events/lifecycleEvents.js';
import { generateHistory } from '../generate/generateHistory.js';
import type { EventStore } from '../stores/eventStore.js';

/** Appends a generated fleet history (deterministic for a seed) to a store; returns the events appended. */
export const seedFleet = async (store: EventStore, options: { agents: number; events: number; seed?: number }): Promise<number> => {
  let batch: LifecycleEvent[] = [];
  let appended = 0;
  for (const raw of generateHistory({ agents: options.agents, events: options.events, seed: options.seed ?? 1 })) {
    const decoded = decodeEvent(raw);
    if (!decoded.success) throw decoded.error;
    batch.push(decoded.data);
    if (batch.length === 10_000) {
      appended += (await store.appendBatch(batch)).appended;
      batch = [];
    }
  }
  if (batch.length) appended += (await store.appendBatch(batch)).appended;
  return appended;
};
