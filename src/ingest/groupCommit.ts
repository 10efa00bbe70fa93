import type { LifecycleEvent } from '../events/lifecycleEvents.js';
import type { AppendResult, AppendToStreamResult, EventStore, ExpectedRevision, GroupOutcome, GroupRequest } from '../stores/eventStore.js';

/** Events one group may hold; a request over it is a group of its own (a bulk append). */
export const MAX_GROUP_EVENTS = 10_000;

export interface GroupCommitOptions {
  /** Default MAX_GROUP_EVENTS. */
  maxGroupEvents?: number;
}

export interface GroupCommitStats {
  /** Store transactions the queue made (one per group). */
  groups: number;
  /** Requests they carried. */
  requests: number;
  /** Most requests one group carried. */
  largest: number;
}

/**
 * Appends to one store through a queue: what is asked while the previous group commits, or in the
 * same turn of the event loop, is committed together, in one transaction. Same contracts as the
 * store's own `appendBatch` / `appendToStream`, each call answered once its group has committed.
 */
export interface GroupCommit {
  appendBatch(events: readonly LifecycleEvent[]): Promise<AppendResult>;
  appendToStream(stream: string, events: readonly LifecycleEvent[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendToStreamResult>;
  readonly stats: Readonly<GroupCommitStats>;
}

interface Queued {
  request: GroupRequest;
  resolve: (outcome: GroupOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit over a store that has `appendGroup` (sqlite, PostgreSQL, memory); on a store
 * without it (EventStoreDB) every call goes straight to the store.
 *
 * The queue is drained on the next turn of the event loop (setImmediate: after every request whose
 * bytes arrived in this turn has been validated and queued), and again as soon as a group commits:
 * while one transaction is in flight (a PostgreSQL round trip, an fsync) the next group gathers.
 * Each group is one `appendGroup` call, in queue order, so positions follow the order requests
 * joined; a request the store refuses alone (a wrong expected revision) fails alone; a store failure
 * fails every request of that group (nothing of it was written; each may be retried, ids make that
 * safe) and never a later group.
 */
export const createGroupCommit = (store: EventStore, options: GroupCommitOptions = {}): GroupCommit => {
  const maxGroupEvents = options.maxGroupEvents ?? MAX_GROUP_EVENTS;
  const stats: GroupCommitStats = { groups: 0, requests: 0, largest: 0 };
  let queue: Queued[] = [];
  let draining = false;

  /** The next group: queued requests in order, up to maxGroupEvents events (at least one request). */
  const take = (): Queued[] => {
    let events = 0;
    let n = 0;
    while (n < queue.length && (n === 0 || events + queue[n]!.request.events.length <= maxGroupEvents)) {
      events += queue[n]!.request.events.length;
      n++;
    }
    const group = queue.slice(0, n);
    queue = queue.slice(n);
    return group;
  };

  const drain = async () => {
    while (queue.length > 0) {
      const group = take();
      stats.groups++;
      stats.requests += group.length;
      stats.largest = Math.max(stats.largest, group.length);
      let outcomes: GroupOutcome[];
      try {
        outcomes = await store.appendGroup!(group.map((q) => q.request));
      } catch (e) {
        for (const q of group) q.reject(e);
        continue;
      }
      for (let i = 0; i < group.length; i++) group[i]!.resolve(outcomes[i]!);
    }
    draining = false;
  };

  const enqueue = (request: GroupRequest): Promise<GroupOutcome> =>
    new Promise((resolve, reject) => {
      queue.push({ request, resolve, reject });
      if (draining) return;
      draining = true;
      setImmediate(() => void drain());
    });

  const unwrap = (outcome: GroupOutcome) => {
    if (!outcome.success) throw outcome.error;
    return outcome.data;
  };

  if (store.appendGroup === undefined) {
    return {
      appendBatch: (events) => store.appendBatch(events),
      appendToStream: (stream, events, o) => store.appendToStream(stream, events, o),
      stats,
    };
  }
  return {
    async appendBatch(events) {
      if (events.length === 0) return { appended: 0, duplicates: 0, lastPosition: null, firstPosition: null };
      const { nextExpectedRevision: _, ...result } = unwrap(await enqueue({ events }));
      return result;
    },
    async appendToStream(stream, events, o = {}) {
      const data = unwrap(await enqueue({ stream, events, ...(o.expectedRevision !== undefined ? { expectedRevision: o.expectedRevision } : {}) }));
      return { ...data, nextExpectedRevision: data.nextExpectedRevision ?? -1n };
    },
    stats,
  };
};

const shared = new WeakMap<EventStore, GroupCommit>();

/**
 * The one group-commit queue of a store object in this process: every `appendEvents` call, every
 * `POST /v1/events` and the reconciler append through it, so that their concurrent appends share
 * transactions.
 */
export const groupCommitFor = (store: EventStore): GroupCommit => {
  let g = shared.get(store);
  if (g === undefined) shared.set(store, (g = createGroupCommit(store)));
  return g;
};
