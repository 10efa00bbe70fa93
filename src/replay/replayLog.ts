import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { Projection } from '../projections/defineProjection.js';
import type { EventStore } from '../stores/eventStore.js';
import { decodeStoredChunks } from './decodeStored.js';
import { foldEvents, type FoldOptions, type FoldResult } from './foldEvents.js';
import { readNdjsonEvents } from './readNdjson.js';
import { encodeSnapshot, verifySnapshot } from './snapshots.js';

export interface ReplayStoreOptions<S> extends Omit<FoldOptions<S>, 'initialState'> {
  /** Ignore snapshots and replay the whole log. */
  noSnapshot?: boolean;
  /** Save a fresh snapshot when at least this many events were applied after the one used (default 1000). */
  snapshotEvery?: number;
}

export interface ReplayResult<S> extends FoldResult<S> {
  /** Position the replay started after (a snapshot's), or null for a full replay. */
  snapshotPosition: bigint | null;
  /** Why an existing snapshot was not used, if one was not. */
  snapshotSkipped: string | null;
  snapshotSaved: boolean;
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
  const result = await foldEvents(projection, decodeStoredChunks(store.readAll({ after })), {
    ...options,
    ...(initialState !== undefined ? { initialState } : {}),
  });
  // The snapshot is taken after the last event processed; its id ties the snapshot to this log.
  const lastPosition = result.lastPosition;
  let snapshotSaved = false;
  if (useSnapshots && lastPosition !== null && result.processed >= (options.snapshotEvery ?? 1000)) {
    let lastId: string | null = null;
    for await (const e of store.readAll({ after: lastPosition - 1n, limit: 1 })) lastId = e.id;
    if (lastId !== null) {
      await store.snapshots!.save(encodeSnapshot(projection, lastPosition, lastId, result.state));
      snapshotSaved = true;
    }
  }
  return { ...result, snapshotPosition: after, snapshotSkipped, snapshotSaved };
};

/** Rebuilds a projection from an NDJSON file (or `-` for stdin) without any store. */
export const replayFile = <S>(
  path: string,
  projection: Projection<S, RecordedEvent>,
  options: FoldOptions<S> = {},
): Promise<FoldResult<S>> => foldEvents(projection, readNdjsonEvents(path), options);
