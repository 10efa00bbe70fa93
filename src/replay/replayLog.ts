import { CompactIdSet } from '../events/compactIdSet.js';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { Projection } from '../projections/defineProjection.js';
import { statSync } from 'node:fs';
import type { EventStore } from '../stores/eventStore.js';
import { decodeStoredPages } from './decodeStored.js';
import { dedupeIds } from './dedupeIds.js';
import { foldEvents, type FoldOptions, type FoldResult, type ReplaySource } from './foldEvents.js';
import { readOffThread } from './offThread.js';
import type { ReadLinesOptions } from '../ndjson/splitLines.js';
import { readNdjsonEvents } from './readNdjson.js';
import type { ReplayItem } from './replayItem.js';
import { findSnapshot, saveSnapshot } from './snapshots.js';
import { untilAborted } from './untilAborted.js';
import { tracedReplay } from './tracedReplay.js';
import { storeKind, type Span } from '../telemetry/traced.js';

/**
 * Where the log is decoded: in a worker thread while this one folds (`true`), here (`false`), or
 * as measured best (`'auto'`, the default): a file of 8 MB or more in a worker, a store here.
 */
export type OffThreadOption = boolean | 'auto';

// Below this size a worker's start-up (~50 ms of module loading) costs more than it saves.
const OFF_THREAD_MIN_BYTES = 8 << 20;

/** Called after each chunk read with the events read so far, and (stores) how many there are to read. */
export type OnProgress = (done: number, total: number | null) => void;

export interface SourceOptions {
  offThread?: OffThreadOption;
  onProgress?: OnProgress;
}

/** Passes a replay source through, counting what it yields. */
async function* counting(source: ReplaySource, total: number | null, onProgress: OnProgress): AsyncGenerator<readonly ReplayItem[]> {
  let done = 0;
  for await (const chunk of source) {
    done += chunk.length;
    onProgress(done, total);
    yield chunk;
  }
}

/** A store's events after `after`, decoded in pages; in a worker thread only when asked for (`offThread: true`) and the store can be opened there. */
async function* storeItems(store: EventStore, after: bigint | null, options: SourceOptions): AsyncGenerator<readonly ReplayItem[]> {
  const offThread = options.offThread ?? 'auto';
  const url = store.readerUrl?.();
  // Stores another thread can open (sqlite, postgres) number positions 1, 2, 3…: the tail's length is head − after.
  const tail = url === undefined || options.onProgress === undefined ? null : Number(((await store.head()) ?? 0n) - (after ?? 0n));
  // A store is decoded in this thread unless a worker is asked for: measured in `npm run bench`
  // (1M events, sqlite and PostgreSQL, both history shapes), the worker was slower in every case
  // and raised peak RSS by 40–90 MB. Its hand-over (one JSON.parse per event here) costs about
  // what it saves.
  const source =
    url !== undefined && store.uniqueIds && offThread === true ? readOffThread({ kind: 'store', url, after }) : decodeStoredPages(store.readPages({ after }));
  yield* options.onProgress ? counting(source, tail, options.onProgress) : source;
}

export interface ReplayStoreOptions<S> extends Omit<FoldOptions<S>, 'initialState'>, SourceOptions {
  /** Ignore snapshots and replay the whole log. */
  noSnapshot?: boolean;
  /** Save a fresh snapshot when at least this many events were applied after the one used (default 1000). */
  snapshotEvery?: number;
  /** Stops the replay between chunks with `interrupted` (e.g. on SIGINT). */
  signal?: AbortSignal;
}

export interface ReplayResult<S> extends FoldResult<S> {
  /** Position the replay started after (a snapshot's), or null for a full replay. */
  snapshotPosition: bigint | null;
  /** Why an existing snapshot was not used, if one was not. */
  snapshotSkipped: string | null;
  snapshotSaved: boolean;
  /** Why a due snapshot could not be saved (a read-only database, a full disk): the replay itself still succeeded. */
  snapshotError: string | null;
  /**
   * A store without unique ids: every id seen up to the last event processed (the snapshot's set
   * plus the tail's), so that a follower goes on deduplicating exactly where the replay stopped.
   * Null for stores that guarantee unique ids, and for a replay cut short (`until`, `asOf`): its
   * reader may have seen ids past where the fold stopped.
   */
  seenIds: CompactIdSet | null;
}

/**
 * A store's log from `after` as a replay source. A store that guarantees unique ids is read as is;
 * any other is deduplicated exactly (rule 4), continuing from `seen` when a snapshot gave it.
 */
export const readStoreSource = (
  store: EventStore,
  options: { after?: bigint | null; seen?: CompactIdSet } & SourceOptions = {},
): ReplaySource => {
  const source = storeItems(store, options.after ?? null, options);
  return store.uniqueIds ? source : dedupeIds(source, options.seen);
};

/**
 * An NDJSON file (or `-` for stdin) as a replay source: nothing guarantees its ids are unique, so it
 * is deduplicated exactly. A large file is read, validated and deduplicated in a worker thread (a
 * signal then stops the fold between chunks, and the worker with it).
 */
export const readFileSource = (path: string, options: ReadLinesOptions & SourceOptions = {}): ReplaySource => {
  const { offThread = 'auto', onProgress, ...read } = options;
  let source: ReplaySource | null = null;
  if (path !== '-' && offThread !== false) {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      // Unreadable: the in-thread reader reports it, naming the file.
    }
    if (offThread === true ? size > 0 : size >= OFF_THREAD_MIN_BYTES) source = readOffThread({ kind: 'file', path });
  }
  source ??= dedupeIds(readNdjsonEvents(path, read));
  return onProgress ? counting(source, null, onProgress) : source;
};

/**
 * Rebuilds a projection from a store: from the newest valid snapshot plus the tail, or in full.
 * A cut-short replay (`until`, `asOf`) starts from the newest snapshot at or below where it stops
 * (a rung of the store's ladder). Snapshots are kept fresh here, never saved by a cut-short replay.
 */
export const replayStore = <S>(store: EventStore, projection: Projection<S, RecordedEvent>, options: ReplayStoreOptions<S> = {}): Promise<ReplayResult<S>> =>
  tracedReplay(storeKind(store.url), (span) => replayStoreTraced(store, projection, options, span));

const replayStoreTraced = async <S>(
  store: EventStore,
  projection: Projection<S, RecordedEvent>,
  options: ReplayStoreOptions<S>,
  span: Span,
): Promise<ReplayResult<S>> => {
  const cutShort = options.until != null || options.asOf != null;
  const loadSnapshot = store.snapshots !== undefined && !options.noSnapshot;
  const useSnapshots = loadSnapshot && !cutShort;
  let initialState: S | undefined;
  let after: bigint | null = null;
  let snapshotSkipped: string | null = null;
  // Without unique ids in the store, the ids seen so far are part of what a snapshot must carry.
  let seen = store.uniqueIds ? undefined : new CompactIdSet();
  if (loadSnapshot) {
    const verdict = await findSnapshot(projection, store, { atMost: options.until ?? null, asOf: options.asOf ?? null });
    if (!verdict.usable) snapshotSkipped = verdict.reason;
    else {
      initialState = verdict.state;
      after = verdict.position;
      if (seen !== undefined) seen = verdict.seenIds!;
    }
  }
  if (after !== null) span.setAttribute('rollcall.snapshot.position', Number(after));
  const { signal, offThread, onProgress, ...fold } = options;
  const source = readStoreSource(store, {
    after,
    ...(seen !== undefined ? { seen } : {}),
    ...(offThread !== undefined ? { offThread } : {}),
    ...(onProgress !== undefined ? { onProgress } : {}),
  });
  const result = await foldEvents(projection, untilAborted(source, signal), {
    ...fold,
    // Decoded from the snapshot for this replay alone: the fold may own it.
    ...(initialState !== undefined ? { initialState, adoptInitialState: true } : {}),
  });
  // The snapshot is taken after the last event processed; its id ties the snapshot to this log.
  const lastPosition = result.lastPosition;
  let snapshotSaved = false;
  let snapshotError: string | null = null;
  if (useSnapshots && lastPosition !== null && result.processed >= (options.snapshotEvery ?? 1000)) {
    // Best effort: a read-only database or a full disk costs the next replay time, never this one.
    try {
      snapshotSaved = await saveSnapshot(store, projection, lastPosition, result.state, seen);
    } catch (e) {
      snapshotError = e instanceof Error ? e.message : String(e);
    }
  }
  return { ...result, snapshotPosition: after, snapshotSkipped, snapshotSaved, snapshotError, seenIds: cutShort ? null : (seen ?? null) };
};

/** Rebuilds a projection from an NDJSON file (or `-` for stdin) without any store. */
export const replayFile = <S>(
  path: string,
  projection: Projection<S, RecordedEvent>,
  options: FoldOptions<S> & SourceOptions & { signal?: AbortSignal } = {},
): Promise<FoldResult<S>> => {
  const { signal, offThread, onProgress, ...fold } = options;
  const source = readFileSource(path, {
    ...(signal ? { signal } : {}),
    ...(offThread !== undefined ? { offThread } : {}),
    ...(onProgress !== undefined ? { onProgress } : {}),
  });
  return tracedReplay('file', () => foldEvents(projection, untilAborted(source, signal), fold));
};
