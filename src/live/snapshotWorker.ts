// The snapshot worker: keeps a mirror of the live projection on another thread and serializes it
// on request, so that taking a snapshot (tens of MB of JSON and a checksum at fleet scale) never
// stops the follower. It is fed the same stored events the follower applies, in order. Given a
// store it can open (`writer`: sqlite, postgres), it saves the snapshot there itself and tells the
// follower only that it did; otherwise it hands the payload over for the follower to save.
import { parentPort, workerData } from 'node:worker_threads';
import { CompactIdSet } from '../events/compactIdSet.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import { decodeStored } from '../replay/decodeStored.js';
import { markRedelivery } from '../replay/dedupeIds.js';
import { applyItemsInPlace } from '../replay/foldEvents.js';
import { isInvalid, type ReplayItem } from '../replay/replayItem.js';
import { decodeSnapshot, encodeSnapshot } from '../replay/snapshots.js';
import type { Snapshot, SnapshotWriterSpec, StoredEvent } from '../stores/eventStore.js';
import { openSnapshotWriter, type SnapshotWriter } from '../stores/snapshotWriter.js';

export type ToWorker =
  | { kind: 'init'; snapshot: Snapshot | null }
  | { kind: 'events'; events: StoredEvent[] }
  | { kind: 'snapshot' }
  /** Closes the writer's connection; the thread then ends. */
  | { kind: 'close' };

export type FromWorker =
  | { kind: 'snapshot'; position: bigint; eventId: string; payload: string; name: string; version: number; at: string | null; encodeMs: number }
  /** Saved by this thread (`writer`): the follower learns only its size, for the ladder builder. */
  | { kind: 'saved'; position: bigint; bytes: number; encodeMs: number }
  | { kind: 'failed'; message: string }
  | { kind: 'skipped'; reason: string }
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
/** Opened on the first save. */
let writer: Promise<SnapshotWriter> | null = null;
const projection = createLifecycleProjection({ retentionMs });
const freshIds = (): CompactIdSet | null => (uniqueIds ? null : new CompactIdSet());
let state: LifecycleState = projection.initialState();
let seen = freshIds();
let lastPosition: bigint | null = null;
let lastId: string | null = null;
let broken: string | null = null;

const port = parentPort!;
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
        writer ??= openSnapshotWriter(writerSpec);
        // A writer that failed to open is tried again at the next snapshot.
        writer.catch(() => (writer = null));
        writer
          .then((w) => w.save(snapshot))
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
    case 'close': {
      const closing = writer === null ? Promise.resolve() : writer.then((w) => w.close(), () => undefined);
      void closing.finally(() => port.close());
      return;
    }
  }
});
