// The time-travel worker: folds the lifecycle projection from a snapshot (a rung of the store's
// ladder) plus the events after it on its own thread, so that decoding a rung (tens of MB of JSON
// at fleet scale), folding the gap and serializing the view never hold the serving thread. The
// serving thread reads the store and posts the events; each fold is a session, several at once.
import { parentPort, workerData } from 'node:worker_threads';
import { CompactIdSet } from '../events/compactIdSet.js';
import type { StoredEvent } from '../stores/eventStore.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import { decodeStored } from './decodeStored.js';
import { markDuplicates } from './dedupeIds.js';
import { foldEvents, type FoldResult } from './foldEvents.js';
import type { ReplayItem } from './replayItem.js';
import { decodeSnapshot, encodeSnapshot } from './snapshots.js';
import type { FromTravel, ToTravel, TravelWorkerOptions } from './travelProtocol.js';
import { toWireError } from './wireError.js';

const { retentionMs } = workerData as TravelWorkerOptions;
const projection = createLifecycleProjection({ retentionMs });
const port = parentPort!;

interface Session {
  gen: number;
  until: bigint | null;
  asOf: string | null;
  skipInvalid: boolean;
  /** The ids seen so far, for a store without unique ids (null otherwise). */
  seen: CompactIdSet | null;
  queue: ReplayItem[][];
  wake: (() => void) | null;
  ended: boolean;
  fold: Promise<FoldResult<LifecycleState>>;
  failure: unknown;
  stopped: boolean;
  /** The last event handed to the fold: a snapshot of the state is taken after it. */
  last: { position: bigint; id: string } | null;
}

const sessions = new Map<number, Session>();
const post = (m: FromTravel, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function* queued(s: Session): AsyncGenerator<ReplayItem[]> {
  for (;;) {
    const chunk = s.queue.shift();
    if (chunk !== undefined) yield chunk;
    else if (s.ended) return;
    else await new Promise<void>((resolve) => (s.wake = resolve));
  }
}

/** Starts (or, after a snapshot was taken, goes on with) the session's fold from `state`. */
const begin = (s: Session, state: LifecycleState | undefined) => {
  s.queue = [];
  s.ended = false;
  s.fold = foldEvents(projection, queued(s), {
    until: s.until,
    asOf: s.asOf,
    skipInvalid: s.skipInvalid,
    ...(state !== undefined ? { initialState: state, adoptInitialState: true } : {}),
  });
  s.fold.then(
    (r) => (s.stopped ||= r.stoppedEarly),
    (e: unknown) => (s.failure ??= e),
  );
};

/** Ends the fold with what it was given: its result once every queued chunk is folded. */
const finish = async (s: Session): Promise<FoldResult<LifecycleState>> => {
  s.ended = true;
  s.wake?.();
  return s.fold;
};

// The fold runs on microtasks alone (its source never waits for I/O): by the next macrotask it has
// taken everything queued, so an acknowledgment posted then says whether it stopped or failed.
const acknowledge = (id: number, s: Session) =>
  setImmediate(() => {
    if (sessions.get(id) !== s) return;
    if (s.failure !== undefined) post({ kind: 'error', id, gen: s.gen, error: toWireError(s.failure) });
    else post({ kind: 'ack', id, gen: s.gen, stopped: s.stopped });
  });

port.on('message', (m: ToTravel) => {
  switch (m.kind) {
    case 'start': {
      const s: Session = {
        gen: m.gen,
        until: m.until === null ? null : BigInt(m.until),
        asOf: m.asOf,
        skipInvalid: m.skipInvalid,
        seen: m.needsIds ? new CompactIdSet() : null,
        queue: [],
        wake: null,
        ended: false,
        fold: Promise.resolve({ state: projection.initialState(), processed: 0, stoppedEarly: false, lastPosition: null }),
        failure: undefined,
        stopped: false,
        last: null,
      };
      sessions.set(m.id, s);
      let state: LifecycleState | undefined;
      if (m.snapshot !== null) {
        const decoded = decodeSnapshot(projection, m.snapshot, { needsIds: m.needsIds });
        const reason = !decoded.usable ? decoded.reason : decoded.eventId !== m.expectEventId ? 'snapshot does not match the log' : null;
        if (reason !== null || !decoded.usable) {
          post({ kind: 'unusable', id: m.id, gen: m.gen, reason: reason ?? 'unusable' });
          sessions.delete(m.id);
          return;
        }
        state = decoded.state;
        if (m.needsIds) s.seen = decoded.seenIds;
        s.last = { position: decoded.position, id: decoded.eventId };
      }
      begin(s, state);
      post({ kind: 'loaded', id: m.id, gen: m.gen });
      return;
    }
    case 'events': {
      const s = sessions.get(m.id);
      if (s === undefined || s.gen !== m.gen) return;
      const items: ReplayItem[] = m.events.map((e: StoredEvent) => decodeStored(e));
      s.queue.push(s.seen === null ? items : markDuplicates(items, s.seen));
      const lastEvent = m.events[m.events.length - 1];
      if (lastEvent !== undefined) s.last = { position: lastEvent.position, id: lastEvent.id };
      s.wake?.();
      acknowledge(m.id, s);
      return;
    }
    case 'view': {
      const s = sessions.get(m.id);
      if (s === undefined || s.gen !== m.gen) return;
      sessions.delete(m.id);
      finish(s).then(
        ({ state }) => {
          const view = projection.view(state);
          // Encoded here: the serving thread sends the bytes as they come (transferred, not copied).
          const bytes = new TextEncoder().encode(JSON.stringify(view));
          post({ kind: 'view', id: m.id, gen: s.gen, json: bytes, position: view.position }, [bytes.buffer as ArrayBuffer]);
        },
        (e: unknown) => post({ kind: 'error', id: m.id, gen: s.gen, error: toWireError(e) }),
      );
      return;
    }
    case 'snapshot': {
      const s = sessions.get(m.id);
      if (s === undefined || s.gen !== m.gen) return;
      finish(s).then(
        ({ state }) => {
          const last = s.last;
          const snapshot = last === null ? null : encodeSnapshot(projection, last.position, last.id, state, s.seen ?? undefined);
          // The fold goes on from the state just encoded (the encoding copied what it needed).
          begin(s, state);
          post({ kind: 'snapshot', id: m.id, gen: s.gen, snapshot });
        },
        (e: unknown) => post({ kind: 'error', id: m.id, gen: s.gen, error: toWireError(e) }),
      );
      return;
    }
    case 'drop':
      sessions.delete(m.id);
      return;
  }
});
