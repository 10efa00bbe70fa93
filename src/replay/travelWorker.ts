// The time-travel worker: folds the lifecycle projection from a snapshot (a rung of the store's
// ladder) plus the events after it on its own thread, so that decoding a rung (tens of MB of JSON
// at fleet scale), folding the gap and serializing the view never hold the serving thread. Given
// a store it can open itself (`travel`), it also reads the store here: the serving thread then
// only sends the bytes. Otherwise the serving thread posts the events of a session.
import { parentPort, workerData } from 'node:worker_threads';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import { openStore } from '../stores/openStore.js';
import { createFoldLane } from './foldLane.js';
import { openLocalSession, type FoldSession, type LocalFoldSession, type ReachedState } from './foldSession.js';
import type { FoldTarget } from './nearestSnapshot.js';
import { eventIdAt } from './snapshots.js';
import { foldToward, type ReachedStart } from './travel.js';
import type { FromTravel, ToTravel, TravelWorkerOptions } from './travelProtocol.js';
import { toWireError } from './wireError.js';

const { retentionMs } = workerData as TravelWorkerOptions;
const projection = createLifecycleProjection({ retentionMs });
const port = parentPort!;
const sessions = new Map<number, FoldSession>();
const post = (m: FromTravel, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
/** Sessions folded here, for `travel`: this thread has nothing else to share its loop with. */
const local = { open: (o: Parameters<typeof openLocalSession>[1]) => openLocalSession(projection, o) };
const unpaced = createFoldLane(Infinity);

/**
 * The state the last whole fold reached, for the store and `skipInvalid` it was folded with: the
 * next travel at or after it (within its time, for `asOf`) folds on from there instead of decoding
 * a rung, as a client stepping forward through history does. One state (hundreds of MB at fleet
 * scale), owned by one travel at a time, dropped after KEEP_MS unused.
 */
const KEEP_MS = 60_000;
let kept: { key: string; reached: ReachedState; timer: NodeJS.Timeout } | null = null;
const takeKept = (key: string): ReachedState | undefined => {
  if (kept === null || kept.key !== key) return undefined;
  const { reached, timer } = kept;
  clearTimeout(timer);
  kept = null;
  return reached;
};
const keep = (key: string, reached: ReachedState) => {
  if (kept !== null) clearTimeout(kept.timer);
  const timer = setTimeout(() => (kept = null), KEEP_MS);
  timer.unref();
  kept = { key, reached, timer };
};

/** A whole fold to the target on a store this thread opened, from the kept state when it is the nearest start. */
const travelHere = async (store: Awaited<ReturnType<typeof openStore>>, key: string, target: FoldTarget, skipInvalid: boolean) => {
  let warm = store.uniqueIds ? takeKept(key) : undefined;
  const from = warm;
  const reached: ReachedStart<LocalFoldSession> | undefined =
    from === undefined
      ? undefined
      : {
          position: from.position,
          at: from.state.newestAt,
          eventId: from.eventId,
          open: (o) => {
            // The fold owns the state from here: it is not kept again unless this fold completes.
            warm = undefined;
            return openLocalSession(projection, o, from);
          },
        };
  try {
    const { session, startedAfter } = await foldToward(local, store, projection, target, { skipInvalid, lane: unpaced, ...(reached ? { reached } : {}) });
    try {
      const view = await session.view();
      const end = session.reached();
      const eventId = end === null || !store.uniqueIds ? null : await eventIdAt(store, end.position);
      if (end !== null && eventId !== null) warm = { ...end, eventId };
      return { ...view, startedAfter: startedAfter?.toString() ?? null };
    } finally {
      session.close();
    }
  } finally {
    // The state this fold reached, or the one it did not use (a target below it): the last to end is kept.
    if (warm !== undefined) keep(key, warm);
  }
};

/** Whole folds (`travel`) running at once, at most MAX_TRAVELS; the others wait in order. */
const MAX_TRAVELS = 2;
let travelling = 0;
const waiting: Array<() => void> = [];
const turnToTravel = async (): Promise<void> => {
  if (travelling < MAX_TRAVELS) {
    travelling++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
};
const doneTravelling = () => {
  const next = waiting.shift();
  if (next !== undefined) next();
  else travelling--;
};

const answer = (id: number, gen: number, work: Promise<FromTravel>) =>
  work.then(
    (m) => post(m, m.kind === 'view' ? [m.json.buffer as ArrayBuffer] : []),
    (e: unknown) => post({ kind: 'error', id, gen, error: toWireError(e) }),
  );

port.on('message', (m: ToTravel) => {
  if (m.kind === 'drop') {
    sessions.get(m.id)?.close();
    sessions.delete(m.id);
    return;
  }
  if (m.kind === 'travel') {
    void answer(m.id, 0, (async () => {
      // Each fold holds a whole state (hundreds of MB at fleet scale): a few at a time, the rest in turn.
      await turnToTravel();
      const store = await openStore(m.url, { create: false }).catch((e: unknown) => {
        doneTravelling();
        throw e;
      });
      try {
        const target = { until: m.until === null ? null : BigInt(m.until), asOf: m.asOf };
        const r = await travelHere(store, JSON.stringify([m.url, m.skipInvalid]), target, m.skipInvalid);
        return { ...r, kind: 'view', id: m.id, gen: 0 } as const;
      } finally {
        await store.close();
        doneTravelling();
      }
    })());
    return;
  }
  const { id, gen } = m;
  if (m.kind === 'start') {
    const s = openLocalSession(projection, { ...m, until: m.until === null ? null : BigInt(m.until) });
    sessions.set(id, s);
    void answer(id, gen, s.settle().then((o) => (o === 'unusable' ? { kind: 'unusable', id, gen, reason: 'the snapshot was refused' } : { kind: 'loaded', id, gen })));
    return;
  }
  const s = sessions.get(id);
  if (s === undefined) return;
  if (m.kind === 'events') void answer(id, gen, s.push(m.events).then((o) => ({ kind: 'ack', id, gen, stopped: o === 'stopped' })));
  else if (m.kind === 'view') {
    sessions.delete(id);
    void answer(id, gen, s.view().then((v) => ({ kind: 'view', id, gen, ...v, startedAfter: null })));
  } else if (m.kind === 'explain') {
    sessions.delete(id);
    void answer(id, gen, s.explain(m.question).then((a) => ({ kind: 'explained', id, gen, answer: a })));
  } else if (m.kind === 'track') void answer(id, gen, s.track(m.events).then((changes) => ({ kind: 'changes', id, gen, changes })));
  else void answer(id, gen, s.snapshot().then((snapshot) => ({ kind: 'snapshot', id, gen, snapshot })));
});
