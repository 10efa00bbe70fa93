import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { Projection } from '../projections/defineProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import { encodeSnapshot } from '../replay/snapshots.js';
import type { EventStore } from '../stores/eventStore.js';

export interface Snapshotter {
  /** The state the follower keeps current, from `position` on. */
  start(state: LifecycleState, position: bigint | null): void;
  /** Called after each event applied. */
  applied(state: LifecycleState, position: bigint, eventId: string): void;
  /** Longest time (ms) one snapshot kept the event loop from applying events; for the bench. */
  readonly stats: { saved: number; maxStallMs: number; lastStallMs: number; failures: number };
  close(): Promise<void>;
}

/**
 * Keeps the store's snapshot fresh while following: every `everyEvents` events, or `everyMs` after
 * the last one when anything was applied. Best effort: a failed save is counted, never thrown.
 */
export const createSnapshotter = (options: {
  store: EventStore;
  projection: Projection<LifecycleState, RecordedEvent>;
  everyEvents: number;
  everyMs: number;
}): Snapshotter => {
  const { store, projection } = options;
  const stats = { saved: 0, maxStallMs: 0, lastStallMs: 0, failures: 0 };
  let state: LifecycleState | null = null;
  let since = 0;
  let lastPosition: bigint | null = null;
  let lastId: string | null = null;
  let scheduled = false;
  let saving: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const take = () => {
    scheduled = false;
    if (closed || state === null || lastPosition === null || lastId === null || since === 0) return;
    const started = performance.now();
    const snapshot = encodeSnapshot(projection, lastPosition, lastId, state);
    since = 0;
    stats.lastStallMs = performance.now() - started;
    stats.maxStallMs = Math.max(stats.maxStallMs, stats.lastStallMs);
    saving = saving
      .then(() => store.snapshots!.save(snapshot))
      .then(
        () => void stats.saved++,
        () => void stats.failures++,
      );
  };

  const schedule = () => {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(take);
  };

  return {
    stats,
    start(s, position) {
      state = s;
      lastPosition = position;
      timer = setInterval(() => {
        if (since > 0) schedule();
      }, options.everyMs);
      timer.unref();
    },
    applied(s, position, eventId) {
      state = s;
      lastPosition = position;
      lastId = eventId;
      if (++since >= options.everyEvents) schedule();
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      await saving;
    },
  };
};
