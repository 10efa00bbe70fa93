import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { Projection } from '../projections/defineProjection.js';
import type { EventStore } from '../stores/eventStore.js';
import { decodeStoredChunks } from './decodeStored.js';
import { foldEvents, type FoldOptions, type FoldResult } from './foldEvents.js';
import { readNdjsonEvents } from './readNdjson.js';
import { encodeSnapshot, verifySnapshot } from './snapshots.js';
import { untilAborted } from './untilAborted.js';

export interface ReplayStoreOptions<S> extends Omit<FoldOptions<S>, 'initialState'> {
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
}

/**
 * Rebuilds a projection from a store: from the newest valid snapshot plus the tail, or in full.
 * Snapshots are kept fresh here, and never used for a cut-short replay (`until`, `asOf`).
 */
export const replayStore = async <S>(
  store: EventStore,
  projection: Projection<S, RecordedEvent>,
  options: ReplayStoreOptions<S> = {},
): Promise<ReplayResult<S>> => {
  const cutShort = options.until != null || options.asOf != null;
  const useSnapshots = store.snapshots !== undefined && !options.noSnapshot && !cutShort;
  let initialState: S | undefined;
  let after: bigint | null = null;
  let snapshotSkipped: string | null = null;
  if (useSnapshots) {
    const verdict = await verifySnapshot(projection, await store.snapshots!.load(projection.name), store);
    if (verdict.usable) {
      initialState = verdict.state;
      after = verdict.position;
    } else {
      snapshotSkipped = verdict.reason;
    }
  }
  const { signal, ...fold } = options;
  const result = await foldEvents(projection, untilAborted(decodeStoredChunks(store.readAll({ after })), signal), {
    ...fold,
    ...(initialState !== undefined ? { initialState } : {}),
  });
  // The snapshot is taken after the last event processed; its id ties the snapshot to this log.
  const lastPosition = result.lastPosition;
  let snapshotSaved = false;
  let snapshotError: string | null = null;
  if (useSnapshots && lastPosition !== null && result.processed >= (options.snapshotEvery ?? 1000)) {
    // Best effort: a read-only database or a full disk costs the next replay time, never this one.
    try {
      let lastId: string | null = null;
      for await (const e of store.readAll({ after: lastPosition - 1n, limit: 1 })) lastId = e.id;
      if (lastId !== null) {
        await store.snapshots!.save(encodeSnapshot(projection, lastPosition, lastId, result.state));
        snapshotSaved = true;
      }
    } catch (e) {
      snapshotError = e instanceof Error ? e.message : String(e);
    }
  }
  return { ...result, snapshotPosition: after, snapshotSkipped, snapshotSaved, snapshotError };
};

/** Rebuilds a projection from an NDJSON file (or `-` for stdin) without any store. */
export const replayFile = <S>(
  path: string,
  projection: Projection<S, RecordedEvent>,
  options: FoldOptions<S> & { signal?: AbortSignal } = {},
): Promise<FoldResult<S>> => {
  const { signal, ...fold } = options;
  return foldEvents(projection, untilAborted(readNdjsonEvents(path, signal ? { signal } : {}), signal), fold);
};
