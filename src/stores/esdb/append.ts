import { NO_STREAM, StreamNotFoundError, jsonEvent, type AppendExpectedRevision, type JSONType } from '@eventstore/db-client';
import { RollcallError } from '../../errors.js';
import { streamOf, type LifecycleEvent } from '../../events/lifecycleEvents.js';
import type { AppendResult, AppendToStreamResult, ExpectedRevision } from '../eventStore.js';
import { checkExpectedRevision } from '../expectedRevision.js';
import type { EsdbConnection } from './connection.js';
import { estimateAppendBytes, toEsdbExpectedRevision } from './records.js';

/*
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

export interface EsdbAppendOptions {
  /** How many streams' ids are kept (least recently used are dropped). Default 10 000. */
  maxCachedStreams?: number;
  /** The server's MaxAppendSize in bytes. Default 1 048 576. */
  maxAppendSize?: number;
}

export interface EsdbAppender {
  appendToStream(stream: string, events: readonly LifecycleEvent[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendToStreamResult>;
  appendBatch(events: readonly LifecycleEvent[]): Promise<AppendResult>;
}

/** What the append path knows about one stream: every id up to revision `readUpTo`. */
interface KnownStream {
  /** Revision of the last event read or written; -1n when none. */
  readUpTo: bigint;
  ids: Set<string>;
}

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

const isWrongExpectedVersion = (e: unknown): boolean => e instanceof RollcallError && e.code === 'wrong-expected-revision';

/** The append path: id-idempotent appends to one stream and ordered batches over many. */
export const createEsdbAppender = (
  conn: EsdbConnection,
  positionOf: (stream: string, revision: bigint) => Promise<bigint | null>,
  options: EsdbAppendOptions = {},
): EsdbAppender => {
  const { client, physical, fail } = conn;
  const maxCachedStreams = options.maxCachedStreams ?? 10_000;
  const maxAppendSize = options.maxAppendSize ?? 1_048_576;
  const known = new Map<string, KnownStream>();

  // Appends of this process run one at a time: no two of them race on one stream's known ids.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
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

  const ensureKnown = (stream: string): Promise<KnownStream> | KnownStream => (known.has(stream) ? touch(stream) : refresh(stream));

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
        events.map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data as JSONType, metadata: e.metadata as JSONType })),
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

  return {
    appendToStream(stream, events, opts = {}) {
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

    appendBatch(events) {
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
  };
};
