import type { Worker } from 'node:worker_threads';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { snapshotMatchesLog } from '../replay/snapshots.js';
import { startWorker } from '../stores/startWorker.js';
import { fillLadder } from './ladderBuilder.js';
import { RollcallError } from '../errors.js';
import type { EventStore, SnapshotLease, SnapshotWriterSpec, StoredEvent } from '../stores/eventStore.js';
import type { FromWorker, ToWorker, WorkerOptions } from './snapshotWorker.js';

export interface SnapshotStats {
  /** Snapshots saved while following. */
  saved: number;
  /** Saves that failed (best effort: following goes on). */
  failures: number;
  /**
   * Longest time the follower's thread spent on one snapshot: receiving the worker's word that it
   * saved it, or (a store only this thread can write: memory, EventStoreDB) receiving the payload
   * and the store's synchronous part of saving it.
   */
  maxStallMs: number;
  lastStallMs: number;
  /** Time the worker took to serialize the last one (off the follower's thread). */
  lastEncodeMs: number;
  /**
   * Rungs the ladder builder saved to fill the cells of the ladder that had none (ladderBuilder.ts):
   * on the worker, through its writer, where it has one; else on this thread.
   */
  ladderFilled: number;
  /** True while the ladder builder runs. */
  ladderFilling: boolean;
  /**
   * Whether this runtime keeps the store's live snapshot (mirror, saves, ladder fill). Always, on a
   * store with no snapshot lease; where the store has one (PostgreSQL: EventStore.snapshotLease),
   * only while this runtime holds it: the others follow without a mirror and ask again each time a
   * snapshot would be due, so one of them takes over when the keeper stops.
   */
  keeping: boolean;
}

export interface Snapshotter {
  /**
   * Starts mirroring once the follower has caught up at `position`, folded from the store's
   * `incarnation` (EventStore.incarnation): the worker saves into that file only.
   */
  start(position: bigint | null, incarnation?: number): void;
  /** Called with each stored event after the follower applied it. */
  applied(stored: StoredEvent): void;
  readonly stats: SnapshotStats;
  close(): Promise<void>;
}

/** Live saves between two runs of the ladder builder. */
const FILL_EVERY = 16;

/**
 * Keeps the store's snapshot fresh while following, every `everyEvents` events or `everyMs` after
 * the last one, without stalling the follower: a worker thread holds a mirror of the projection,
 * fed the same stored events in batches, and serializes it on request. Where the worker can open the
 * store itself (sqlite, postgres: EventStore.snapshotWriter) it saves the snapshot there too, and
 * this thread only counts it; otherwise this thread hands the finished payload to the store. It starts from the store's newest valid snapshot (the one the
 * catch-up just saved or used) plus the events after it. Best effort: failures are counted. With
 * `fillLadder` (serve) it also fills the ladder's empty cells, a bounded job that then ends.
 */
export const createSnapshotter = (options: {
  store: EventStore;
  projection: LifecycleProjection;
  skipInvalid: boolean;
  everyEvents: number;
  everyMs: number;
  /** Fill the ladder's empty cells once caught up and every FILL_EVERY saves (serve's runtime only). */
  fillLadder: boolean;
}): Snapshotter => {
  const { store, projection } = options;
  /** A store shared by several runtimes (PostgreSQL): one of them at a time keeps the snapshot. */
  const leased = store.snapshotLease !== undefined;
  const stats: SnapshotStats = { saved: 0, failures: 0, maxStallMs: 0, lastStallMs: 0, lastEncodeMs: 0, ladderFilled: 0, ladderFilling: false, keeping: !leased };
  let stopFilling = new AbortController();
  let filling: Promise<void> = Promise.resolve();
  let savesSinceFill = 0;
  /**
   * Fills the ladder's empty cells in the background (once following, and again every
   * FILL_EVERY saves): a store appended while no server followed it has rungs only near the head.
   */
  const fill = (bytes?: number) => {
    if (!options.fillLadder || closed || stats.ladderFilling || !stats.keeping) return;
    stats.ladderFilling = true;
    savesSinceFill = 0;
    const { signal } = stopFilling;
    const onThisThread = () => fillLadder({ store, projection, skipInvalid: options.skipInvalid, signal, ...(bytes !== undefined ? { bytes } : {}) });
    filling = fillOnWorker(bytes)
      .then((n) => n ?? onThisThread())
      .then(
        (n) => {
          stats.ladderFilled += n;
        },
        () => {
          stats.failures++;
        },
      )
      .finally(() => {
        stats.ladderFilling = false;
      });
  };
  let worker: Worker | null = null;
  /** The worker failed: a fill then runs on this thread rather than start another (only bringUp starts one with a mirror). */
  let workerGone = false;
  let closed = false;
  /** Events applied before the worker was up (at most about `everyEvents`: it starts when a snapshot is due). */
  let backlog: StoredEvent[] | null = [];
  let batch: StoredEvent[] = [];
  let flushScheduled = false;
  let since = 0;
  let inFlight = false;
  let timer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();
  /** Settles `saving` when the worker reports a save it did itself. */
  let resolveSaving: (() => void) | null = null;

  const post = (m: ToWorker) => worker?.postMessage(m);

  const flush = () => {
    flushScheduled = false;
    if (batch.length === 0) return;
    post({ kind: 'events', events: batch });
    batch = [];
  };

  let startedAt: bigint | null = null;
  let startedIncarnation: number | undefined;
  /** Where the worker saves (null: this thread saves what it hands over). */
  let writer: SnapshotWriterSpec | null = null;
  let bringingUp = false;

  /** The lease, while this runtime keeps the snapshot of a leased store. */
  let lease: SnapshotLease | null = null;
  /** A lease asked for and not answered yet. */
  let leasing = false;
  let lastApplied: bigint | null = null;
  /** A worker being shut down after this runtime lost the lease (close waits for it). */
  let retiring: Promise<void> = Promise.resolve();

  /** Asks for the lease (a runtime that does not keep the snapshot, each time one would be due). */
  const askLease = (then: (l: SnapshotLease | null) => void) => {
    if (leasing || closed) return;
    leasing = true;
    store.snapshotLease!().then(
      (l) => {
        leasing = false;
        if (closed) void l?.release();
        else then(l);
      },
      // Unreachable or refused: asked again when the next snapshot is due.
      () => (leasing = false),
    );
  };

  /**
   * Starts keeping the snapshot from where the follower stands (events it applied before are read
   * from the store by bringUp, later ones queued): the mirror starts when the first is due, as at start.
   */
  const keep = (l: SnapshotLease | null) => {
    if (l === null) return;
    lease = l;
    stats.keeping = true;
    startedAt = lastApplied ?? startedAt;
    backlog = [];
    batch = [];
    bringingUp = false;
    inFlight = false;
    fill();
  };

  /** Another runtime holds the lease now (this one's connection broke meanwhile): its mirror goes. */
  const stopKeeping = () => {
    stats.keeping = false;
    lease = null;
    stopFilling.abort();
    stopFilling = new AbortController();
    post({ kind: 'stopFill' });
    const w = worker;
    const itsWriter = writer;
    worker = null;
    writer = null;
    backlog = [];
    batch = [];
    bringingUp = false;
    inFlight = false;
    resolveSaving?.();
    if (w !== null) retiring = Promise.all([retiring, retire(w, itsWriter)]).then(() => undefined);
  };

  const request = () => {
    if (closed || since === 0) return;
    if (!stats.keeping) {
      // Not this runtime's to keep (yet): ask again, at most once per snapshot due.
      since = 0;
      askLease(keep);
      return;
    }
    if (lease !== null && !lease.held) {
      // The lease's connection broke: take it again, or leave the snapshot to whoever has it now.
      askLease((l) => {
        if (l === null) stopKeeping();
        else lease = l;
      });
      return;
    }
    // The worker starts when the first snapshot is due: an idle follower never pays for it.
    if (!bringingUp) {
      bringingUp = true;
      bringUp(startedAt).catch(() => {
        stats.failures++;
        void worker?.terminate();
        worker = null;
      });
      return;
    }
    if (inFlight || worker === null || backlog !== null) return;
    flush();
    inFlight = true;
    since = 0;
    if (writer !== null) saving = new Promise<void>((resolve) => (resolveSaving = resolve));
    post({ kind: 'snapshot' });
  };

  let onLoaded: ((m: FromWorker) => void) | null = null;
  let onFilled: ((m: Extract<FromWorker, { kind: 'filled' | 'fillFailed' }>) => void) | null = null;

  const onMessage = (m: FromWorker) => {
    if (m.kind === 'loaded') {
      onLoaded?.(m);
      onLoaded = null;
      return;
    }
    if (m.kind === 'filled' || m.kind === 'fillFailed') {
      onFilled?.(m);
      onFilled = null;
      return;
    }
    if (m.kind === 'skipped') {
      inFlight = false;
      return;
    }
    const started = performance.now();
    if (m.kind === 'saved' || m.kind === 'failed') {
      if (m.kind === 'saved') {
        stats.lastEncodeMs = m.encodeMs;
        stats.saved++;
        if (++savesSinceFill >= FILL_EVERY) fill(m.bytes);
      } else {
        // eslint-disable-next-line no-console -- only when the operator asked for debug output
        if (process.env['ROLLCALL_DEBUG']) console.error(m.message);
        stats.failures++;
      }
      inFlight = false;
      stats.lastStallMs = performance.now() - started;
      stats.maxStallMs = Math.max(stats.maxStallMs, stats.lastStallMs);
      resolveSaving?.();
      return;
    }
    stats.lastEncodeMs = m.encodeMs;
    // A store's save may do its work synchronously (SQLite): that part is the follower's stall.
    const pending = store.snapshots!.save({ name: m.name, version: m.version, position: m.position, payload: m.payload, at: m.at });
    stats.lastStallMs = performance.now() - started;
    stats.maxStallMs = Math.max(stats.maxStallMs, stats.lastStallMs);
    saving = pending.then(
      () => {
        stats.saved++;
        if (++savesSinceFill >= FILL_EVERY) fill(m.payload.length);
      },
      () => {
        stats.failures++;
      },
    ).finally(() => {
      inFlight = false;
    });
  };

  /** Ends a worker: a writer's closes its connection first (after its saves), others are terminated. */
  function retire(w: Worker, workerWriter: SnapshotWriterSpec | null): Promise<void> {
    if (workerWriter === null) return w.terminate().then(() => undefined);
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.ref();
    w.postMessage({ kind: 'close' } satisfies ToWorker);
    return exited;
  }

  /** The worker thread, started once (again after stopKeeping): when the first snapshot is due, or by a fill where the worker can write. */
  function spawn(): Worker {
    if (worker !== null) return worker;
    writer = store.snapshotWriter?.() ?? null;
    // The store reopened another file since the follower folded its log: that file gets nothing from this fold.
    if (writer?.sqlite !== undefined && writer.sqlite.incarnation !== (startedIncarnation ?? 0)) {
      throw new RollcallError('store-unavailable', `${store.url}: the store file was replaced; no snapshot of the old one is saved into it`);
    }
    const w = startWorker(import.meta.url, 'snapshotWorker', {
      workerData: { retentionMs: projection.retentionMs, skipInvalid: options.skipInvalid, uniqueIds: store.uniqueIds, writer } satisfies WorkerOptions,
    });
    w.unref();
    w.on('message', onMessage);
    w.on('error', (e) => {
      // eslint-disable-next-line no-console -- only when the operator asked for debug output
      if (process.env['ROLLCALL_DEBUG']) console.error(e);
      // A broken worker only means no more fresh snapshots; the follower is unaffected.
      stats.failures++;
      worker = null;
      workerGone = true;
      onLoaded?.({ kind: 'loaded', position: null, eventId: null });
      onFilled?.({ kind: 'fillFailed', message: e.message });
      resolveSaving?.();
    });
    worker = w;
    return w;
  }

  /**
   * The ladder filled on the worker, through its writer's connection (reads, fold, serialization
   * and saves all off this thread): the rungs it saved, or null where it has no writer (this
   * thread fills it then).
   */
  async function fillOnWorker(bytes?: number): Promise<number | null> {
    if (worker === null && (workerGone || !store.snapshotWriter?.())) return null;
    const w = spawn();
    if (writer === null) return null;
    return new Promise<number>((resolve, reject) => {
      onFilled = (m) => (m.kind === 'filled' ? resolve(m.saved) : reject(new Error(m.message)));
      w.postMessage({ kind: 'fill', bytes: bytes ?? null } satisfies ToWorker);
    });
  }

  // Declared before use by request(); hoisted as a function.
  async function bringUp(position: bigint | null): Promise<void> {
    const w = spawn();
    /** This runtime stopped keeping the snapshot meanwhile (stopKeeping): nothing more goes to any worker from here. */
    const stale = () => worker !== w;
    const send = (m: ToWorker) => {
      if (!stale()) w.postMessage(m);
    };
    // The newest snapshot (the one the catch-up used or saved): decoded by the worker
    // (decodeSnapshot); here only whether the log still holds its event at its position.
    const stored = await store.snapshots!.load(projection.name);
    if (stale()) return;
    let after: bigint | null = null;
    if (stored !== null && (position === null || stored.position <= position)) {
      const loaded = new Promise<FromWorker>((resolve) => (onLoaded = resolve));
      send({ kind: 'init', snapshot: stored });
      const reply = await loaded;
      if (stale()) return;
      if (reply.kind === 'loaded' && reply.position !== null && (await snapshotMatchesLog(store, reply.position, reply.eventId!))) {
        after = reply.position;
      } else {
        send({ kind: 'init', snapshot: null });
      }
    } else {
      send({ kind: 'init', snapshot: null });
    }
    // The events between that snapshot and where the follower started live, read from the store.
    if (position !== null && (after === null || after < position)) {
      let chunk: StoredEvent[] = [];
      for await (const e of store.readAll({ after })) {
        if (e.position > position || closed || stale()) break;
        chunk.push(e);
        if (chunk.length >= 2_000) {
          send({ kind: 'events', events: chunk });
          chunk = [];
        }
      }
      if (chunk.length) send({ kind: 'events', events: chunk });
    }
    if (stale()) return;
    const queued = backlog ?? [];
    backlog = null;
    for (let i = 0; i < queued.length; i += 2_000) send({ kind: 'events', events: queued.slice(i, i + 2_000) });
    request();
  }

  return {
    stats,
    start(position, incarnation) {
      startedAt = position;
      startedIncarnation = incarnation;
      timer = setInterval(() => {
        if (since > 0) request();
      }, options.everyMs);
      timer.unref();
      // Caught up: the newest rung is the one the catch-up used or saved, at or near the head.
      if (leased) {
        // The lease first: a runtime that does not get it keeps no mirror and fills nothing.
        askLease(keep);
      } else {
        setImmediate(() => fill());
      }
    },
    applied(stored) {
      if (closed) return;
      since++;
      lastApplied = stored.position;
      if (!stats.keeping) {
        if (since >= options.everyEvents) request();
        return;
      }
      if (backlog !== null) {
        backlog.push(stored);
        if (since >= options.everyEvents) request();
        return;
      }
      batch.push(stored);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
      if (since >= options.everyEvents) request();
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      stopFilling.abort();
      post({ kind: 'stopFill' });
      await Promise.all([saving, filling, retiring]);
      const w = worker;
      worker = null;
      // The worker closes its connection to the store (after its saves), then ends; the lease goes after it.
      if (w !== null) await retire(w, writer);
      await lease?.release();
      lease = null;
    },
  };
};
