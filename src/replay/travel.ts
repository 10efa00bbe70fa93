import type { Worker } from 'node:worker_threads';
import type { ExplainQuestion } from '../projections/explainState.js';
import type { AgentExplainJson, PoolExplainJson } from '../projections/viewJson.js';
import { RollcallError } from '../errors.js';
import type { EventStore, Snapshot } from '../stores/eventStore.js';
import { paced, sharedFoldLane, type FoldLane } from './foldLane.js';
import type { FoldTarget } from './nearestSnapshot.js';
import { outsideOf, peekEventId, snapshotMatchesLog, type SnapshotProjection } from './snapshots.js';
import { startWorker } from '../stores/startWorker.js';
import { pagesUpTo } from './timeTravel.js';
import type { FromTravel, ToTravel, TravelWorkerOptions } from './travelProtocol.js';
import { fromWireError } from './wireError.js';
import type { FoldSession, FoldSessionOptions, PushOutcome, ViewBytes } from './foldSession.js';
import { tracedReplay } from './tracedReplay.js';
import { untilAborted } from './untilAborted.js';
import { storeKind } from '../telemetry/traced.js';

/** Events per message to the worker, and messages the worker may have yet to fold before the reader waits. */
const PAGE = 1024;
const WINDOW = 8;

/**
 * A worker thread (started on first use, not keeping the process alive) folding the lifecycle
 * projection for time travel and for building the snapshot ladder. Nothing of a fold runs on the
 * caller's thread but reading the store and posting what it read.
 */
export interface Traveler {
  open(options: FoldSessionOptions): FoldSession;
  /** The whole fold on the worker, which opens the store by `url` itself (see `travelTo`). */
  travel?(url: string, target: FoldTarget, skipInvalid: boolean): Promise<TravelResult>;
  close(): Promise<void>;
}

export const createTraveler = (options: TravelWorkerOptions): Traveler => {
  let worker: Worker | null = null;
  let nextId = 1;
  const inboxes = new Map<number, { replies: FromTravel[]; wake: (() => void) | null; failure: Error | null }>();

  const failAll = (e: Error) => {
    worker = null;
    for (const box of inboxes.values()) {
      box.failure = e;
      box.wake?.();
    }
  };
  const ensure = (): Worker => {
    if (worker !== null) return worker;
    const w = startWorker(import.meta.url, 'travelWorker', { workerData: options satisfies TravelWorkerOptions });
    w.unref();
    w.on('message', (m: FromTravel) => {
      const box = inboxes.get(m.id);
      if (box === undefined) return;
      box.replies.push(m);
      box.wake?.();
    });
    w.on('error', (e) => failAll(new Error(`the time-travel thread failed: ${e.message}`, { cause: e })));
    w.on('exit', () => failAll(new Error('the time-travel thread stopped')));
    worker = w;
    return w;
  };

  const open = (o: FoldSessionOptions): FoldSession => {
    const id = nextId++;
    const gen = 1;
    const box: { replies: FromTravel[]; wake: (() => void) | null; failure: Error | null } = { replies: [], wake: null, failure: null };
    inboxes.set(id, box);
    const w = ensure();
    const post = (m: ToTravel) => w.postMessage(m);
    const next = async (): Promise<FromTravel> => {
      for (;;) {
        const m = box.replies.shift();
        if (m !== undefined) return m;
        if (box.failure !== null) throw box.failure;
        await new Promise<void>((resolve) => (box.wake = resolve));
      }
    };
    let pending = 0;
    let outcome: PushOutcome = 'ok';
    /** Takes one reply off the queue of those owed. */
    const take = async () => {
      const m = await next();
      pending--;
      if (m.kind === 'error') throw fromWireError(m.error);
      if (m.kind === 'unusable') {
        // The worker ignores everything else posted for this session.
        outcome = 'unusable';
        pending = 0;
      } else if (m.kind === 'ack' && m.stopped && outcome === 'ok') outcome = 'stopped';
    };
    const settle = async () => {
      while (pending > 0) await take();
      return outcome;
    };
    const ask = async <K extends FromTravel['kind']>(m: ToTravel, kind: K): Promise<Extract<FromTravel, { kind: K }>> => {
      if ((await settle()) === 'unusable') throw new Error('the snapshot the fold started from was refused');
      post(m);
      const reply = await next();
      if (reply.kind === 'error') throw fromWireError(reply.error);
      if (reply.kind !== kind) throw new Error(`the time-travel thread answered ${reply.kind}, not ${kind}`);
      return reply as Extract<FromTravel, { kind: K }>;
    };
    post({
      kind: 'start',
      id,
      gen,
      snapshot: o.snapshot,
      expectEventId: o.expectEventId,
      until: o.until == null ? null : o.until.toString(),
      asOf: o.asOf ?? null,
      skipInvalid: o.skipInvalid,
      needsIds: o.needsIds,
    });
    pending = 1;
    return {
      async push(events) {
        if (outcome !== 'ok') return outcome;
        // Only what the worker decodes: the parsed data and metadata, not their texts as well.
        post({ kind: 'events', id, gen, events: events.map(({ dataText: _d, metadataText: _m, ...e }) => e) });
        pending++;
        while (pending > WINDOW && outcome === 'ok') await take();
        return outcome;
      },
      settle,
      async view() {
        const { kind: _k, id: _i, gen: _g, startedAfter: _s, ...bytes } = await ask({ kind: 'view', id, gen }, 'view');
        return bytes;
      },
      async explain(question) {
        return (await ask({ kind: 'explain', id, gen, question }, 'explained')).answer;
      },
      async snapshot() {
        return (await ask({ kind: 'snapshot', id, gen }, 'snapshot')).snapshot;
      },
      async track(events) {
        return (await ask({ kind: 'track', id, gen, events: events.map(({ dataText: _d, metadataText: _m, ...e }) => e) }, 'changes')).changes;
      },
      close() {
        if (!inboxes.delete(id)) return;
        // A reply still awaited never comes (the worker drops the session): its wait ends here.
        box.failure ??= new RollcallError('interrupted', 'the fold session was closed');
        box.wake?.();
        worker?.postMessage({ kind: 'drop', id } satisfies ToTravel);
      },
    };
  };

  const travel = async (url: string, target: FoldTarget, skipInvalid: boolean): Promise<TravelResult> => {
    const id = nextId++;
    const box: { replies: FromTravel[]; wake: (() => void) | null; failure: Error | null } = { replies: [], wake: null, failure: null };
    inboxes.set(id, box);
    try {
      ensure().postMessage({ kind: 'travel', id, url, until: target.until == null ? null : target.until.toString(), asOf: target.asOf ?? null, skipInvalid } satisfies ToTravel);
      for (;;) {
        const m = box.replies.shift();
        if (m?.kind === 'error') throw fromWireError(m.error);
        if (m?.kind === 'view') return travelResult(m, m.startedAfter === null ? null : BigInt(m.startedAfter));
        if (box.failure !== null) throw box.failure;
        await new Promise<void>((resolve) => (box.wake = resolve));
      }
    } finally {
      inboxes.delete(id);
    }
  };

  return {
    open,
    travel,
    async close() {
      const w = worker;
      worker = null;
      await w?.terminate();
    },
  };
};

interface Candidate {
  position: bigint;
  load: () => Promise<Snapshot | null>;
}

/**
 * The rungs a fold to `target` may start from, newest first, and where it may stop reading: at
 * `until`, or for a time alone at the first rung known to be past it (its newest event is later,
 * so the first later event is at or below it).
 */
const candidates = async (store: EventStore, name: string, target: FoldTarget): Promise<{ rungs: Candidate[]; stopAt: bigint | null }> => {
  const snapshots = store.snapshots;
  const outside = outsideOf({ atMost: target.until ?? null, asOf: target.asOf ?? null });
  let stopAt = target.until ?? null;
  if (snapshots?.rungs !== undefined && snapshots.loadAt !== undefined) {
    const all = await snapshots.rungs(name);
    if (stopAt === null && target.asOf != null) {
      const asOfMs = Date.parse(target.asOf);
      stopAt = all.find((r) => r.at != null && Date.parse(r.at) > asOfMs)?.position ?? null;
    }
    const within = all.filter((r) => outside(r.position, r.at) === null).reverse();
    return { rungs: within.map((r) => ({ position: r.position, load: () => snapshots.loadAt!(name, r.position) })), stopAt };
  }
  const one = snapshots === undefined ? null : await snapshots.load(name);
  return { rungs: one !== null && outside(one.position, one.at) === null ? [{ position: one.position, load: async () => one }] : [], stopAt };
};

export interface TravelResult {
  /** The view (SPEC §3) at the target, as JSON bytes. */
  json: Uint8Array;
  position: string | null;
  /** Position of the rung the fold started after (null: from the start of the log). */
  startedAfter: bigint | null;
  /** Events folded after the rung, whether `until`/`asOf` cut the log short, the last one folded. */
  processed: number;
  stoppedEarly: boolean;
  lastPosition: bigint | null;
}

const travelResult = (v: ViewBytes, startedAfter: bigint | null): TravelResult => ({
  json: v.json,
  position: v.position,
  startedAfter,
  processed: v.processed,
  stoppedEarly: v.stoppedEarly,
  lastPosition: v.lastPosition === null ? null : BigInt(v.lastPosition),
});

/** A fold of `projection` (named for its snapshots) to `target`, answered as view bytes. */
export type Travel = (
  traveler: Traveler,
  store: EventStore,
  projection: Pick<SnapshotProjection<unknown>, 'name'>,
  target: FoldTarget,
  options: { skipInvalid: boolean; lane?: FoldLane },
) => Promise<TravelResult>;

/** A fold session brought to its target, and the rung it started after (null: the start of the log). */
export interface FoldedSession<T extends FoldSession = FoldSession> {
  session: T;
  startedAfter: bigint | null;
}

/**
 * A start a fold may take besides the rungs: the state an earlier fold on the same thread reached
 * (travelWorker.ts keeps its last one), already decoded. Taken like a rung: within the target, the
 * nearest such start at or below it, and only while the log still holds `eventId` at `position`.
 */
export interface ReachedStart<T extends FoldSession> {
  position: bigint;
  /** The newest event time folded into it, as a rung's. */
  at: string | null;
  eventId: string;
  open(o: FoldSessionOptions): T;
}

type StartOptions = Omit<FoldSessionOptions, 'snapshot' | 'expectEventId'>;

/**
 * A fold of the projection to `target` on the traveler's thread, from the nearest rung at or
 * below it plus the gap, left open for what the caller asks next (its view, or changes tracked
 * after it). This thread reads the store a page per turn of the shared lane and posts it; decoding
 * the rung and folding happen on the worker. A rung the log no longer matches, or the worker
 * refuses, is skipped for the next one down; the last resort is the start of the log (the only
 * start with `useRungs: false`). A `reached` start nearer than every rung is taken first.
 */
export const foldToward = async <T extends FoldSession = FoldSession>(
  traveler: { open(o: FoldSessionOptions): T },
  store: EventStore,
  projection: Pick<SnapshotProjection<unknown>, 'name'>,
  target: FoldTarget,
  options: { skipInvalid: boolean; lane?: FoldLane; useRungs?: boolean; signal?: AbortSignal; reached?: ReachedStart<T> },
): Promise<FoldedSession<T>> => {
  const lane = options.lane ?? sharedFoldLane;
  await lane.pace();
  const { rungs, stopAt } = options.useRungs === false ? { rungs: [], stopAt: target.until ?? null } : await candidates(store, projection.name, target);
  const starts: Array<{ position: bigint; open: (o: StartOptions) => Promise<T | null> }> = rungs.map((rung) => ({
    position: rung.position,
    open: async (o) => {
      await lane.pace();
      const snapshot = await rung.load();
      const expectEventId = snapshot === null ? null : peekEventId(snapshot);
      if (expectEventId === null || !(await snapshotMatchesLog(store, rung.position, expectEventId))) return null;
      return traveler.open({ ...o, snapshot, expectEventId });
    },
  }));
  const reached = options.reached;
  if (reached !== undefined && outsideOf({ atMost: target.until ?? null, asOf: target.asOf ?? null })(reached.position, reached.at) === null) {
    const at = starts.findIndex((s) => s.position <= reached.position);
    starts.splice(at < 0 ? starts.length : at, 0, {
      position: reached.position,
      open: async (o) => ((await snapshotMatchesLog(store, reached.position, reached.eventId)) ? reached.open({ ...o, snapshot: null, expectEventId: null }) : null),
    });
  }
  const o: StartOptions = { until: target.until ?? null, asOf: target.asOf ?? null, skipInvalid: options.skipInvalid, needsIds: !store.uniqueIds };
  for (const start of [...starts, null]) {
    const session = start === null ? traveler.open({ ...o, snapshot: null, expectEventId: null }) : await start.open(o);
    if (session === null) continue;
    let kept = false;
    try {
      let outcome: PushOutcome = 'ok';
      const pages = paced(pagesUpTo(store, start?.position ?? null, stopAt, PAGE), lane);
      for await (const page of untilAborted(pages, options.signal)) {
        outcome = await session.push(page);
        if (outcome !== 'ok') break;
      }
      if (outcome === 'ok') outcome = await session.settle();
      if (outcome === 'unusable') continue;
      kept = true;
      return { session, startedAfter: start?.position ?? null };
    } finally {
      if (!kept) session.close();
    }
  }
  throw new Error('unreachable: a fold from the start of the log needs no snapshot');
};

/**
 * The projection's view at a past point of the log (`until` and/or `asOf`, as `replay`): a fold
 * toward it (`foldToward`), its view serialized on the worker.
 */
export const travelView: Travel = async (traveler, store, projection, target, options) => {
  const { session, startedAfter } = await foldToward(traveler, store, projection, target, options);
  try {
    return travelResult(await session.view(), startedAfter);
  } finally {
    session.close();
  }
};

/** Explain (SPEC §7.5) at a past point of the log: a fold toward it (`foldToward`), answered on the worker. */
export const explainAt = async (
  traveler: Traveler,
  store: EventStore,
  projection: Pick<SnapshotProjection<unknown>, 'name'>,
  target: FoldTarget,
  question: ExplainQuestion,
  options: { skipInvalid: boolean; lane?: FoldLane },
): Promise<PoolExplainJson | AgentExplainJson> => {
  const { session } = await foldToward(traveler, store, projection, target, options);
  try {
    return await session.explain(question);
  } finally {
    session.close();
  }
};

/**
 * `travelView` where it costs this thread least: for a store another thread can open (SQLite on a
 * file, PostgreSQL), the worker reads the store, picks and decodes the rung, folds and serializes,
 * and this thread only receives the bytes; otherwise (memory) this thread reads a page per turn.
 */
export const travelTo: Travel = async (traveler, store, projection, target, options) => {
  const url = store.readerUrl?.();
  // In a `rollcall.replay` span, as every replay (the state stays on the worker: none here).
  const { state: _state, ...result } = await tracedReplay(storeKind(store.url), async (span) => {
    const r = url !== undefined && traveler.travel !== undefined ? await traveler.travel(url, target, options.skipInvalid) : await travelView(traveler, store, projection, target, options);
    if (r.startedAfter !== null) span.setAttribute('rollcall.snapshot.position', Number(r.startedAfter));
    return { ...r, state: null };
  });
  return result;
};
