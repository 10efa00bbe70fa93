// The time-travel worker: folds the lifecycle projection from a snapshot (a rung of the store's
// ladder) plus the events after it on its own thread, so that decoding a rung (tens of MB of JSON
// at fleet scale), folding the gap and serializing the view never hold the serving thread. Given
// a store it can open itself (`travel`), it also reads the store here: the serving thread then
// only sends the bytes. Otherwise the serving thread posts the events of a session.
import { parentPort, workerData } from 'node:worker_threads';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import { openStore } from '../stores/openStore.js';
import { createFoldLane } from './foldLane.js';
import { openLocalSession, type FoldSession } from './foldSession.js';
import { travelView } from './travel.js';
import type { FromTravel, ToTravel, TravelWorkerOptions } from './travelProtocol.js';
import { toWireError } from './wireError.js';

const { retentionMs } = workerData as TravelWorkerOptions;
const projection = createLifecycleProjection({ retentionMs });
const port = parentPort!;
const sessions = new Map<number, FoldSession>();
const post = (m: FromTravel, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
/** Sessions folded here, for `travel`: this thread has nothing else to share its loop with. */
const local = { open: (o: Parameters<typeof openLocalSession>[1]) => openLocalSession(projection, o), close: async () => undefined };
const unpaced = createFoldLane(Infinity);

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
        const r = await travelView(local, store, projection, target, { skipInvalid: m.skipInvalid, lane: unpaced });
        return { ...r, kind: 'view', id: m.id, gen: 0, lastPosition: r.lastPosition?.toString() ?? null, startedAfter: r.startedAfter?.toString() ?? null } as const;
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
