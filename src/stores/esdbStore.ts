import {
  BACKWARDS,
  END,
  ErrorType,
  EventStoreDBClient,
  NO_STREAM,
  START,
  StreamNotFoundError,
  jsonEvent,
  streamNameFilter,
  type AppendExpectedRevision,
  type JSONType,
  type Position,
} from '@eventstore/db-client';
import { RollcallError } from '../errors.js';
import { streamOf, type LifecycleEvent } from '../events/lifecycleEvents.js';
import type {
  AppendResult,
  AppendToStreamResult,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  Snapshot,
  SnapshotStore,
  StoredEvent,
  SubscribeOptions,
} from './eventStore.js';
import {
  ROLLCALL_STREAM_PREFIXES,
  comparePositions,
  isRollcallRecord,
  commandErrorType,
  estimateAppendBytes,
  maskUrl,
  splitConnectionString,
  toEsdbExpectedRevision,
  toEsdbPosition,
  toPublicPosition,
  toRollcallError,
  toStoredEvent,
} from './esdbMapping.js';
import { checkExpectedRevision } from './expectedRevision.js';

/*
 * EventStoreDB (and KurrentDB) adapter over @eventstore/db-client.
 *
 * Positions. Our public position is the commit part of EventStoreDB's {commit, prepare}; appends
 * write commit = prepare = the event's log position, so it is unique and increasing. `after` is
 * mapped back to {commit: after, prepare: after}, which is exactly the position of the event that
 * had it. $all reads are inclusive of their start (we drop the event at `after` ourselves);
 * subscription starts are exclusive. A subscription resumes from the full {commit, prepare} of the
 * last event it received, never from a filtered checkpoint: checkpoints have arrived with
 * prepare = 0 and a commit ahead of the last event (KurrentDB #2606, #3989, #4970), so this adapter
 * registers no checkpoint handler at all.
 *
 * Idempotency on id. The server only dedupes a re-append with the same expected revision (best
 * effort with ANY). So appends first learn the target stream's ids (the whole stream once per
 * process, then only its new tail) and send only unseen events; appendBatch then writes each run of
 * consecutive same-stream events with the exact expected revision it just read, so a writer that
 * slipped in between is detected (WrongExpectedVersion), the stream re-read and the run re-filtered.
 * Limits: ids are unique per stream (one id in two streams is two events: EventStoreDB has no global
 * id index); the first append to a stream in a process reads that whole stream; a batch is not
 * atomic (each run of one stream is one append, split further only to stay within the server's
 * MaxAppendSize), but re-running it completes it with nothing doubled. Runs are appended one after
 * another, in order, so a batch of many short runs costs one round trip per run.
 */

export interface EsdbStoreOptions {
  /** `esdb://host:2113?tls=false` (any @eventstore/db-client connection string). */
  url: string;
  /** How long opening waits for the server before failing with `store-unavailable`. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Backoff of the subscription's resubscribe loop. Defaults 100 ms doubling to 5000 ms. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Told about every dropped subscription before it is resumed (for logs and tests). */
  onSubscriptionRetry?: (error: unknown, attempt: number) => void;
  /** How many streams' ids the append path keeps (least recently used are dropped). Default 10 000. */
  maxCachedStreams?: number;
  /**
   * Prefix of every stream this store writes and reads (`<namespace>agent-…`), so that several
   * rollcall logs can share one server, e.g. test runs against a real EventStoreDB. Default none;
   * also `?namespace=` in the URL.
   */
  namespace?: string;
  /**
   * The server's MaxAppendSize in bytes (default 1 048 576, the server's default; also
   * `?maxAppendSize=` in the URL). appendBatch splits a run of one stream's events into appends
   * below it; one appendToStream call stays one (atomic) append and fails if it is larger.
   */
  maxAppendSize?: number;
}

/** What the append path knows about one stream: every id up to revision `readUpTo`. */
interface KnownStream {
  /** Revision of the last event read or written; -1n when none. */
  readUpTo: bigint;
  ids: Set<string>;
}

/** A store of the streams that snapshot saves go to (outside the `agent-`/`pool-` prefixes). */
const SNAPSHOT_STREAM_PREFIX = 'rollcall-snapshots-';
const SNAPSHOT_EVENT_TYPE = 'RollcallSnapshot';
const MAX_APPEND_ATTEMPTS = 5;

const idKey = (id: string): string => id.toLowerCase();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** EventStoreDB ids are UUIDs (SPEC §1.1 says so too); say it plainly instead of a gRPC error. */
const requireUuids = (events: readonly LifecycleEvent[]): void => {
  for (const e of events) {
    if (!UUID.test(e.id)) {
      throw new RollcallError('invalid-event', `event id "${e.id}" is not a UUID (EventStoreDB stores only UUID event ids)`, {
        path: 'id',
      });
    }
  }
};

/** Splits events into consecutive chunks whose estimated size stays within `budget` (a lone larger event is its own chunk). */
const chunkBySize = <E extends LifecycleEvent>(events: readonly E[], budget: number): E[][] => {
  const chunks: E[][] = [];
  let current: E[] = [];
  let size = 0;
  for (const e of events) {
    const bytes = estimateAppendBytes(e);
    if (current.length && size + bytes > budget) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(e);
    size += bytes;
  }
  if (current.length) chunks.push(current);
  return chunks;
};

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** Opens an EventStoreDB store and checks, within `connectTimeoutMs`, that the server answers. */
export const openEsdbStore = async (options: EsdbStoreOptions): Promise<EventStore> => {
  const url = maskUrl(options.url);
  let client: EventStoreDBClient;
  const { connectionString, params } = splitConnectionString(options.url);
  try {
    client = EventStoreDBClient.connectionString(connectionString);
  } catch (e) {
    throw new RollcallError('usage', `invalid EventStoreDB URL ${url}: ${(e as Error).message}`, { cause: e });
  }
  const maxAppendSize = options.maxAppendSize ?? params.maxAppendSize ?? 1_048_576;
  const initialDelay = options.retry?.initialDelayMs ?? 100;
  const maxDelay = options.retry?.maxDelayMs ?? 5000;
  const maxCachedStreams = options.maxCachedStreams ?? 10_000;
  const ns = options.namespace ?? params.namespace ?? '';
  const physical = (stream: string): string => ns + stream;
  const ours = (e: { streamId: string; type: string }): boolean => isRollcallRecord(e, ns);
  const lifetime = new AbortController();
  const fail = (e: unknown, what: string, stream?: string) => toRollcallError(e, url, what, stream);

  // --- appends ---------------------------------------------------------------------------------

  const known = new Map<string, KnownStream>();
  // Appends of this process run one at a time: no two of them race on one stream's known ids.
  let appendQueue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = appendQueue.then(work, work);
    appendQueue = run.catch(() => undefined);
    return run;
  };

  const touch = (stream: string): KnownStream => {
    let k = known.get(stream);
    if (k) known.delete(stream);
    else k = { readUpTo: -1n, ids: new Set() };
    known.set(stream, k);
    while (known.size > maxCachedStreams) known.delete(known.keys().next().value!);
    return k;
  };

  /** Reads what is new in `stream` since we last looked and returns what we know of it. */
  const refresh = async (stream: string): Promise<KnownStream> => {
    const k = touch(stream);
    const read = client.readStream(physical(stream), { fromRevision: k.readUpTo + 1n });
    try {
      for await (const resolved of read) {
        const e = resolved.event;
        if (!e) continue;
        k.ids.add(idKey(e.id));
        if (e.revision > k.readUpTo) k.readUpTo = e.revision;
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) {
        // Absent (or deleted since we looked): nothing of it can be a duplicate any more.
        k.readUpTo = -1n;
        k.ids.clear();
      } else throw fail(e, `read stream ${stream}`, stream);
    } finally {
      void read.cancel().catch(() => undefined);
    }
    return k;
  };

  const ensureKnown = (stream: string): Promise<KnownStream> | KnownStream => {
    const k = known.get(stream);
    return k ? touch(stream) : refresh(stream);
  };

  /** Drops ids already stored in the stream, or earlier in this call. */
  const unseen = (events: readonly LifecycleEvent[], k: KnownStream, seen: Set<string>): LifecycleEvent[] => {
    const fresh: LifecycleEvent[] = [];
    const local = new Set<string>();
    for (const e of events) {
      const key = idKey(e.id);
      if (k.ids.has(key) || seen.has(key) || local.has(key)) continue;
      local.add(key);
      fresh.push(e);
    }
    return fresh;
  };

  /** One append of events to one stream; updates what we know of the stream on success. */
  const write = async (
    stream: string,
    events: readonly LifecycleEvent[],
    expectedRevision: AppendExpectedRevision,
    k: KnownStream,
  ): Promise<{ nextExpectedRevision: bigint; lastPosition: bigint | null }> => {
    const before = k.readUpTo;
    let result;
    try {
      result = await client.appendToStream(
        physical(stream),
        events.map((e) =>
          jsonEvent({ id: e.id, type: e.type, data: e.data as JSONType, metadata: e.metadata as JSONType }),
        ),
        { expectedRevision },
      );
    } catch (e) {
      throw fail(e, `append to ${stream}`, stream);
    }
    for (const e of events) k.ids.add(idKey(e.id));
    // Contiguous with what we had read: we now know the stream up to the new revision. Otherwise
    // someone else wrote too (possible with 'any'), and the next refresh reads the gap.
    if (result.nextExpectedRevision === before + BigInt(events.length)) k.readUpTo = result.nextExpectedRevision;
    // The server reports a write as {commit: last event's log position, prepare: first event's};
    // the larger part is the last event's position whichever way round a server version puts them.
    const p = result.position;
    const lastPosition = p ? (p.commit > p.prepare ? p.commit : p.prepare) : await positionOf(stream, result.nextExpectedRevision);
    return { nextExpectedRevision: result.nextExpectedRevision, lastPosition };
  };

  const positionOf = async (stream: string, revision: bigint): Promise<bigint | null> => {
    for await (const e of readStream(stream, { fromRevision: revision })) return e.position;
    return null;
  };

  const isWrongExpectedVersion = (e: unknown): boolean =>
    e instanceof RollcallError && e.code === 'wrong-expected-revision';

  // --- reads -----------------------------------------------------------------------------------

  async function* readAll(opts: ReadAllOptions = {}): AsyncGenerator<StoredEvent> {
    const after = opts.after ?? null;
    const limit = opts.limit ?? Infinity;
    if (limit <= 0) return;
    // readAll of client 6.2.1 cannot filter on the server: system and foreign events are skipped here.
    const read = client.readAll({ fromPosition: after === null ? START : toEsdbPosition(after) });
    let n = 0;
    try {
      for await (const resolved of read) {
        const e = resolved.event;
        if (!e || !ours(e)) continue;
        const position = toPublicPosition(e.position);
        // A forward read of $all includes the event at its start position; ours is exclusive.
        if (after !== null && position <= after) continue;
        yield toStoredEvent(e, position, ns);
        if (++n >= limit) return;
      }
    } catch (e) {
      throw fail(e, 'read $all');
    } finally {
      void read.cancel().catch(() => undefined);
    }
  }

  async function* readStream(stream: string, opts: { fromRevision?: bigint } = {}): AsyncGenerator<StoredEvent> {
    const read = client.readStream(physical(stream), { fromRevision: opts.fromRevision ?? START });
    try {
      for await (const resolved of read) {
        const e = resolved.event;
        if (!e) continue;
        // Stream reads carry the event's $all position on servers ≥ 22.6 (else 0, then the outer commit).
        const position = e.position && e.position.commit > 0n ? toPublicPosition(e.position) : (resolved.commitPosition ?? 0n);
        yield toStoredEvent(e, position, ns);
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return;
      throw fail(e, `read stream ${stream}`, stream);
    } finally {
      void read.cancel().catch(() => undefined);
    }
  }

  const head = async (): Promise<bigint | null> => {
    const read = client.readAll({ fromPosition: END, direction: BACKWARDS });
    try {
      for await (const resolved of read) {
        const e = resolved.event;
        if (e && ours(e)) return toPublicPosition(e.position);
      }
      return null;
    } catch (e) {
      throw fail(e, 'read $all backwards');
    } finally {
      void read.cancel().catch(() => undefined);
    }
  };

  // --- live ------------------------------------------------------------------------------------

  async function* subscribe(opts: SubscribeOptions = {}): AsyncGenerator<StoredEvent> {
    // One signal for "stop": the caller's, or the store closing.
    const stop = new AbortController();
    const onStop = () => stop.abort();
    opts.signal?.addEventListener('abort', onStop, { once: true });
    lifetime.signal.addEventListener('abort', onStop, { once: true });
    if (opts.signal?.aborted || lifetime.signal.aborted) stop.abort();
    // The exact {commit, prepare} of the last event received: where a resubscription starts (exclusive).
    let last: Position | null = opts.after == null ? null : toEsdbPosition(opts.after);
    let attempt = 0;
    let failing = false;
    try {
      while (!stop.signal.aborted) {
        const sub = client.subscribeToAll({
          fromPosition: last ?? START,
          filter: streamNameFilter({ prefixes: ROLLCALL_STREAM_PREFIXES.map(physical) }),
        });
        const cancel = () => {
          void sub.unsubscribe().catch(() => undefined);
          sub.destroy();
        };
        stop.signal.addEventListener('abort', cancel, { once: true });
        // The server confirms a (re)subscription: the store is reachable again, even with no event to deliver.
        if (failing) sub.on('confirmation', () => {
          failing = false;
          opts.onStatus?.({ available: true });
        });
        let failure: unknown = new Error('subscription ended by the server');
        try {
          for await (const resolved of sub) {
            const e = resolved.event;
            if (!e) continue;
            const position: Position = e.position;
            // Never re-yield: a server that included its start event, or a replay after resubscribing.
            if (last && comparePositions(position, last) <= 0) continue;
            last = position;
            attempt = 0;
            if (failing) {
              failing = false;
              opts.onStatus?.({ available: true });
            }
            if (!ours(e)) continue;
            yield toStoredEvent(e, toPublicPosition(position), ns);
            if (stop.signal.aborted) return;
          }
        } catch (e) {
          failure = e;
        } finally {
          stop.signal.removeEventListener('abort', cancel);
          if (!sub.destroyed) cancel();
        }
        if (stop.signal.aborted) return;
        if (commandErrorType(failure) === ErrorType.ACCESS_DENIED) throw fail(failure, 'subscribe to $all');
        attempt++;
        failing = true;
        opts.onStatus?.({ available: false, error: fail(failure, 'follow $all') });
        options.onSubscriptionRetry?.(failure, attempt);
        await sleep(Math.min(maxDelay, initialDelay * 2 ** Math.min(attempt - 1, 30)), stop.signal);
      }
    } finally {
      opts.signal?.removeEventListener('abort', onStop);
      lifetime.signal.removeEventListener('abort', onStop);
    }
  }

  // --- snapshots -------------------------------------------------------------------------------

  const trimmedSnapshotStreams = new Set<string>();
  const snapshots: SnapshotStore = {
    load: (name) => loadSnapshot(name),
    async save(snapshot) {
      const event = jsonEvent({
        type: SNAPSHOT_EVENT_TYPE,
        data: {
          name: snapshot.name,
          version: snapshot.version,
          position: snapshot.position.toString(),
          payload: snapshot.payload,
        },
      });
      const stream = physical(SNAPSHOT_STREAM_PREFIX + snapshot.name);
      try {
        await client.appendToStream(stream, event);
      } catch (e) {
        if (commandErrorType(e) === ErrorType.MAXIMUM_APPEND_SIZE_EXCEEDED) {
          throw new RollcallError('io', `snapshot ${snapshot.name} is larger than EventStoreDB's maximum append size`, {
            cause: e,
          });
        }
        throw fail(e, `save snapshot ${snapshot.name}`);
      }
      // Only the newest snapshot is ever read: let the server drop older ones (once per process;
      // best effort, as a user may lack the right to write stream metadata).
      if (!trimmedSnapshotStreams.has(stream)) {
        trimmedSnapshotStreams.add(stream);
        await client.setStreamMetadata(stream, { maxCount: 2 }).catch(() => undefined);
      }
    },
  };

  const loadSnapshot = async (name: string): Promise<Snapshot | null> => {
    const read = client.readStream(physical(SNAPSHOT_STREAM_PREFIX + name), { fromRevision: END, direction: BACKWARDS, maxCount: 1 });
    try {
      for await (const resolved of read) {
        const data = resolved.event?.data as Record<string, unknown> | undefined;
        // A damaged record is no snapshot: the caller replays in full.
        if (
          !data ||
          typeof data !== 'object' ||
          typeof data['name'] !== 'string' ||
          typeof data['version'] !== 'number' ||
          typeof data['position'] !== 'string' ||
          !/^\d+$/.test(data['position']) ||
          typeof data['payload'] !== 'string'
        ) {
          return null;
        }
        return { name: data['name'], version: data['version'], position: BigInt(data['position']), payload: data['payload'] };
      }
      return null;
    } catch (e) {
      if (e instanceof StreamNotFoundError) return null;
      throw fail(e, `load snapshot ${name}`);
    } finally {
      void read.cancel().catch(() => undefined);
    }
  };

  // --- the store -------------------------------------------------------------------------------

  const store: EventStore = {
    url,
    appendToStream(stream, events, opts = {}): Promise<AppendToStreamResult> {
      return exclusive(async () => {
        requireUuids(events);
        const expected: ExpectedRevision = opts.expectedRevision ?? 'any';
        const k = await refresh(stream);
        const fresh = unseen(events, k, new Set());
        const duplicates = events.length - fresh.length;
        if (!fresh.length) {
          // Nothing to write, but the caller's expectation is still checked, as every store does.
          checkExpectedRevision(stream, expected, k.readUpTo < 0n ? null : k.readUpTo);
          return { appended: 0, duplicates, lastPosition: null, nextExpectedRevision: k.readUpTo };
        }
        const r = await write(stream, fresh, toEsdbExpectedRevision(expected), k);
        return { appended: fresh.length, duplicates, lastPosition: r.lastPosition, nextExpectedRevision: r.nextExpectedRevision };
      });
    },

    appendBatch(events): Promise<AppendResult> {
      return exclusive(async () => {
        requireUuids(events);
        const runs: Array<{ stream: string; events: LifecycleEvent[] }> = [];
        for (const e of events) {
          const stream = streamOf(e);
          const tail = runs[runs.length - 1];
          if (tail && tail.stream === stream) tail.events.push(e);
          else runs.push({ stream, events: [e] });
        }
        // Learn every stream's ids up front (a few reads at a time), so that a re-run of an
        // interrupted batch, from this process or another, skips what is already stored.
        const streams = [...new Set(runs.map((r) => r.stream))];
        for (let i = 0; i < streams.length; i += 8) await Promise.all(streams.slice(i, i + 8).map(refresh));

        const seen = new Set<string>();
        let appended = 0;
        let lastPosition: bigint | null = null;
        for (const run of runs) {
          for (let attempt = 1; ; attempt++) {
            const k = await ensureKnown(run.stream);
            const fresh = unseen(run.events, k, seen);
            if (!fresh.length) break;
            try {
              // Within the server's MaxAppendSize: one append per chunk, each at the exact revision.
              for (const chunk of chunkBySize(fresh, maxAppendSize)) {
                const r = await write(run.stream, chunk, k.readUpTo < 0n ? NO_STREAM : k.readUpTo, k);
                appended += chunk.length;
                if (r.lastPosition !== null) lastPosition = r.lastPosition;
              }
              break;
            } catch (e) {
              // Someone else appended to this stream since we read it: read again, filter again.
              if (!isWrongExpectedVersion(e) || attempt >= MAX_APPEND_ATTEMPTS) throw e;
              await refresh(run.stream);
            }
          }
          for (const e of run.events) seen.add(idKey(e.id));
        }
        return { appended, duplicates: events.length - appended, lastPosition };
      });
    },

    readAll,
    readStream,
    subscribe,
    head: async () => head(),
    snapshots,
    async close() {
      lifetime.abort();
      await client.dispose();
    },
  };

  // Fail fast (and clearly) when nothing answers: an unreachable host would otherwise hang until
  // the first call's own deadline, and a refused connection would surface as a raw gRPC error.
  const timeoutMs = options.connectTimeoutMs ?? 3000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      head(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new RollcallError(
                'store-unavailable',
                `EventStoreDB at ${url} did not answer within ${timeoutMs} ms (is it running and reachable? use ?tls=false for an insecure node)`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } catch (e) {
    await client.dispose().catch(() => undefined);
    if (e instanceof RollcallError && e.code === 'store-unavailable') throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new RollcallError('store-unavailable', `EventStoreDB at ${url} is unavailable: ${reason}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
  return store;
};
