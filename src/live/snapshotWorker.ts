// The snapshot worker: keeps a mirror of the live projection on another thread and serializes it
// on request, so that taking a snapshot (tens of MB of JSON and a checksum at fleet scale) never
// stops the follower. It is fed the same stored events the follower applies, in order. Given a
// store it can open (`writer`: sqlite, postgres), it saves the snapshot there itself and tells the
// follower only that it did; otherwise it hands the payload over for the follower to save. With a
// writer it also fills the snapshot ladder (`fill`: ladderBuilder.ts), reading the log and the
// rungs through the writer's connection and folding here, so that neither the fold, the rungs'
// serialization nor their saves ever hold the serving thread. Its saves and the live ones take
// turns on the one connection.
import { parentPort, workerData } from 'node:worker_threads';
import { CompactIdSet } from '../events/compactIdSet.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import { decodeStored } from '../replay/decodeStored.js';
import { markRedelivery } from '../replay/dedupeIds.js';
import { applyItemsInPlace } from '../replay/foldEvents.js';
import { isInvalid, type ReplayItem } from '../replay/replayItem.js';
import { createFoldLane } from '../replay/foldLane.js';
import { openLocalSession } from '../replay/foldSession.js';
import { decodeSnapshot, encodeSnapshot } from '../replay/snapshots.js';
import type { Traveler } from '../replay/travel.js';
import type { Snapshot, SnapshotWriterSpec, StoredEvent } from '../stores/eventStore.js';
import { openSnapshotWriter, type SnapshotWriter } from '../stores/snapshotWriter.js';
import { fillLadder } from './ladderBuilder.js';

export type ToWorker =
  | { kind: 'init'; snapshot: Snapshot | null }
  | { kind: 'events'; events: StoredEvent[] }
  | { kind: 'snapshot' }
  /** Fills the ladder's empty cells through the writer (only with one); `bytes`: the newest rung's size, when known. */
  | { kind: 'fill'; bytes: number | null }
  /** Ends a fill in progress early (it still answers `filled`). */
  | { kind: 'stopFill' }
  /** Closes the writer's connection; the thread then ends. */
  | { kind: 'close' };

export type FromWorker =
  | { kind: 'snapshot'; position: bigint; eventId: string; payload: string; name: string; version: number; at: string | null; encodeMs: number }
  /** Saved by this thread (`writer`): the follower learns only its size, for the ladder builder. */
  | { kind: 'saved'; position: bigint; bytes: number; encodeMs: number }
  | { kind: 'failed'; message: string }
  | { kind: 'skipped'; reason: string }
  /** After `fill`: the rungs it saved, or why it ended early. */
  | { kind: 'filled'; saved: number }
  | { kind: 'fillFailed'; message: string }
  /** After `init`: where the mirror stands (null: the snapshot was unusable, it starts empty). */
  | { kind: 'loaded'; position: bigint | null; eventId: string | null };

export interface WorkerOptions {
  retentionMs: number;
  skipInvalid: boolean;
  /** False (EventStoreDB): the mirror deduplicates exactly, as the follower does, and its snapshots carry the ids seen. */
  uniqueIds: boolean;
  /** Where this thread saves the snapshots it takes (null: it hands them to the follower). */
  writer: SnapshotWriterSpec | null;
}

const { retentionMs, skipInvalid, uniqueIds, writer: writerSpec } = workerData as WorkerOptions;
const port = parentPort!;
/** Opened on the first save. */
let writer: Promise<SnapshotWriter> | null = null;
const openWriter = (): Promise<SnapshotWriter> => {
  if (writer === null) {
    writer = openSnapshotWriter(writerSpec!);
    // A writer that failed to open is tried again at the next save or fill.
    writer.catch(() => (writer = null));
  }
  return writer;
};
/** The saves of this thread (live snapshots, ladder rungs), one at a time on the writer's connection. */
let saves: Promise<void> = Promise.resolve();
const saveInTurn = (w: SnapshotWriter, snapshot: Snapshot): Promise<void> => {
  const next = saves.then(() => w.save(snapshot));
  saves = next.catch(() => undefined);
  return next;
};
const projection = createLifecycleProjection({ retentionMs });
/** The ladder builder folds on this thread: its sessions are local, its pages paced between the mirror's messages. */
const localTraveler: Traveler = { open: (o) => openLocalSession(projection, o), close: async () => undefined };
const fillLane = createFoldLane();
let filling: { stop: AbortController; done: Promise<void> } | null = null;

const fill = (bytes: number | null): void => {
  const stop = new AbortController();
  const done = (async () => {
    const w = await openWriter();
    const { reads } = w;
    const saved = await fillLadder({
      store: { uniqueIds: reads.uniqueIds, readAll: reads.readAll, snapshots: { ...reads.snapshots, save: (s) => saveInTurn(w, s) } },
      projection,
      skipInvalid,
      signal: stop.signal,
      lane: fillLane,
      traveler: localTraveler,
      ...(bytes !== null ? { bytes } : {}),
    });
    port.postMessage({ kind: 'filled', saved } satisfies FromWorker);
  })().catch((e: unknown) => port.postMessage({ kind: 'fillFailed', message: (e as Error)?.message ?? String(e) } satisfies FromWorker));
  filling = { stop, done };
};
const freshIds = (): CompactIdSet | null => (uniqueIds ? null : new CompactIdSet());
let state: LifecycleState = projection.initialState();
let seen = freshIds();
let lastPosition: bigint | null = null;
let lastId: string | null = null;
let broken: string | null = null;

port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'init': {
      state = projection.initialState();
      seen = freshIds();
      lastPosition = null;
      lastId = null;
      if (message.snapshot === null) return;
      // Decoded here, off the follower's thread; the follower then checks that the log still holds
      // this event at this position (verifySnapshot's last step).
      const decoded = decodeSnapshot(projection, message.snapshot, { needsIds: !uniqueIds });
      if (decoded.usable) {
        state = decoded.state;
        seen = uniqueIds ? null : decoded.seenIds;
        lastPosition = decoded.position;
        lastId = decoded.eventId;
      }
      port.postMessage({ kind: 'loaded', position: lastPosition, eventId: lastId } satisfies FromWorker);
      return;
    }
    case 'events': {
      if (broken !== null) return;
      const items: ReplayItem[] = [];
      for (const stored of message.events) {
        const item = decodeStored(stored);
        if (isInvalid(item) && !skipInvalid) {
          broken = `position ${item.position} is not a valid event`;
          break;
        }
        items.push(markRedelivery(item, seen));
        lastPosition = stored.position;
        lastId = stored.id;
      }
      applyItemsInPlace(projection, state, items);
      return;
    }
    case 'snapshot': {
      if (broken !== null || lastPosition === null || lastId === null) {
        port.postMessage({ kind: 'skipped', reason: broken ?? 'nothing applied yet' } satisfies FromWorker);
        return;
      }
      const started = performance.now();
      const snapshot = encodeSnapshot(projection, lastPosition, lastId, state, seen ?? undefined);
      const encodeMs = performance.now() - started;
      if (writerSpec !== null) {
        const { position } = snapshot;
        openWriter()
          .then((w) => saveInTurn(w, snapshot))
          .then(
            () => port.postMessage({ kind: 'saved', position, bytes: snapshot.payload.length, encodeMs } satisfies FromWorker),
            (e: unknown) => port.postMessage({ kind: 'failed', message: (e as Error)?.message ?? String(e) } satisfies FromWorker),
          );
        return;
      }
      port.postMessage({
        kind: 'snapshot',
        position: lastPosition,
        eventId: lastId,
        payload: snapshot.payload,
        name: snapshot.name,
        at: snapshot.at ?? null,
        version: snapshot.version,
        encodeMs,
      } satisfies FromWorker);
      return;
    }
    case 'fill': {
      if (writerSpec !== null) fill(message.bytes);
      else port.postMessage({ kind: 'fillFailed', message: 'no writer: the follower fills the ladder' } satisfies FromWorker);
      return;
    }
    case 'stopFill': {
      filling?.stop.abort();
      return;
    }
    case 'close': {
      filling?.stop.abort();
      const closing = (filling?.done ?? Promise.resolve())
        .then(() => saves)
        .then(() => (writer === null ? undefined : writer.then((w) => w.close(), () => undefined)));
      void closing.finally(() => port.close());
      return;
    }
  }
});
