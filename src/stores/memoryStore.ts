import { RollcallError } from '../errors.js';
import { streamOf, type LifecycleEvent } from '../events/lifecycleEvents.js';
import type {
  AppendResult,
  AppendToStreamResult,
  EventStore,
  ExpectedRevision,
  GroupOutcome,
  GroupRequest,
  ReadAllOptions,
  Snapshot,
  StoredEvent,
  SubscribeOptions,
} from './eventStore.js';
import { assembleStore, type StoreParts } from './assembleStore.js';
import { copyJson } from './copyJson.js';
import { checkExpectedRevision } from './expectedRevision.js';
import { DEFAULT_PAGE_SIZE } from './pageSize.js';


/**
 * A memory store's subscription. At module level, not one generator function per store: each
 * generator function has a map of its own for its generators, and a follower's loop optimized for
 * one store's was deoptimized (and optimized again, inlined reducer and all) by the next store's.
 */
async function* subscribeLog(
  log: readonly StoredEvent[],
  wakers: Set<() => void>,
  isClosed: () => boolean,
  options: SubscribeOptions = {},
): AsyncGenerator<StoredEvent[]> {
  let next = options.after == null ? 0 : Number(options.after);
  const signal = options.signal;
  // One waker for the whole subscription, called by an append, the store's close or the signal:
  // an append hands its events over in the same turn (microtasks only, no timer, no setImmediate),
  // so a follower has applied them by the time an appender awaiting `whenProcessed` asks.
  let resume: (() => void) | null = null;
  const waker = () => {
    const r = resume;
    resume = null;
    r?.();
  };
  wakers.add(waker);
  signal?.addEventListener('abort', waker);
  try {
    while (!signal?.aborted && !isClosed()) {
      if (next < log.length) {
        const page = log.slice(next, next + DEFAULT_PAGE_SIZE);
        next += page.length;
        yield page;
        continue;
      }
      await new Promise<void>((r) => (resume = r));
    }
  } finally {
    wakers.delete(waker);
    signal?.removeEventListener('abort', waker);
  }
}

/** An in-process store (`memory:`): the reference semantics the durable stores are tested against. */
export const openMemoryStore = (): EventStore => {
  const log: StoredEvent[] = [];
  const streams = new Map<string, StoredEvent[]>();
  const ids = new Set<string>();
  const snapshots = new Map<string, Snapshot>();
  let closed = false;
  // Subscriptions waiting for the next append: an append wakes them at once, in process.
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of wakers) w();
  };

  const write = (stream: string, e: LifecycleEvent): boolean => {
    if (ids.has(e.id)) return false;
    let s = streams.get(stream);
    if (s === undefined) streams.set(stream, (s = []));
    const stored: StoredEvent = {
      position: BigInt(log.length + 1),
      stream,
      revision: BigInt(s.length),
      id: e.id,
      type: e.type,
      // Copied as JSON would copy them, so that a reader can never alias a producer's object.
      data: copyJson(e.data),
      metadata: copyJson(e.metadata),
    };
    log.push(stored);
    s.push(stored);
    ids.add(e.id);
    return true;
  };

  /** Events written in order, each to its own stream unless `stream` names one: an append's result. */
  const writeAll = (stream: string | undefined, events: readonly LifecycleEvent[]): AppendResult => {
    const before = log.length;
    let appended = 0;
    for (const e of events) if (write(stream ?? streamOf(e), e)) appended++;
    return {
      appended,
      duplicates: events.length - appended,
      lastPosition: appended ? BigInt(log.length) : null,
      firstPosition: appended ? BigInt(before + 1) : null,
    };
  };

  /** One request, written in order (a stream request checked first): what every append entry point does. */
  const appendOne = (request: GroupRequest): AppendToStreamResult => {
    const { stream, events } = request;
    if (stream !== undefined) {
      const current = streams.get(stream);
      checkExpectedRevision(stream, request.expectedRevision ?? ('any' as ExpectedRevision), current ? BigInt(current.length - 1) : null);
    }
    const result = writeAll(stream, events);
    const after = stream === undefined ? undefined : streams.get(stream);
    return { ...result, nextExpectedRevision: after ? BigInt(after.length - 1) : -1n };
  };

  const parts: StoreParts = {
    url: 'memory:',
    uniqueIds: true,
    async appendToStream(stream, events, options = {}): Promise<AppendToStreamResult> {
      const result = appendOne({ stream, events, ...(options.expectedRevision !== undefined ? { expectedRevision: options.expectedRevision } : {}) });
      if (result.appended) wake();
      return result;
    },
    async appendBatch(events): Promise<AppendResult> {
      const result = writeAll(undefined, events);
      if (result.appended) wake();
      return result;
    },
    async appendGroup(requests): Promise<GroupOutcome[]> {
      // Synchronous, so nothing else can interleave: the group is one transaction here.
      const before = log.length;
      const outcomes = requests.map((request): GroupOutcome => {
        try {
          const { nextExpectedRevision, ...result } = appendOne(request);
          return { success: true, data: request.stream === undefined ? result : { ...result, nextExpectedRevision } };
        } catch (e) {
          if (e instanceof RollcallError && e.code === 'wrong-expected-revision') return { success: false, error: e };
          throw e;
        }
      });
      if (log.length > before) wake();
      return outcomes;
    },
    async *readPages(options: ReadAllOptions = {}) {
      const start = options.after == null ? 0 : Number(options.after);
      const end = options.limit === undefined ? Infinity : start + options.limit;
      // Sliced a page at a time, so that appends made while a reader is paused are seen as before.
      for (let i = start; i < log.length && i < end; i += DEFAULT_PAGE_SIZE) yield log.slice(i, Math.min(i + DEFAULT_PAGE_SIZE, end));
    },
    async *readStream(stream, options = {}) {
      const s = streams.get(stream) ?? [];
      for (let i = Number(options.fromRevision ?? 0n); i < s.length; i++) yield s[i]!;
    },
    subscribePages: (options) => subscribeLog(log, wakers, () => closed, options),
    async head() {
      return log.length ? BigInt(log.length) : null;
    },
    snapshots: {
      async load(name) {
        return snapshots.get(name) ?? null;
      },
      async save(snapshot) {
        snapshots.set(snapshot.name, snapshot);
      },
    },
    async close() {
      closed = true;
      wake();
    },
  };
  return assembleStore(parts, () => closed);
};
