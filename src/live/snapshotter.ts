import type { Worker } from 'node:worker_threads';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { snapshotMatchesLog } from '../replay/snapshots.js';
import { startWorker } from '../stores/startWorker.js';
import { fillLadder } from './ladderBuilder.js';
import { RollcallError } from '../errors.js';
import type { EventStore, SnapshotWriterSpec, StoredEvent } from '../stores/eventStore.js';
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
  const stats: SnapshotStats = { saved: 0, failures: 0, maxStallMs: 0, lastStallMs: 0, lastEncodeMs: 0, ladderFilled: 0, ladderFilling: false };
  const stopFilling = new AbortController();
  let filling: Promise<void> = Promise.resolve();
  let savesSinceFill = 0;
  /**
   * Fills the ladder's empty cells in the background (once following, and again every
   * FILL_EVERY saves): a store appended while no server followed it has rungs only near the head.
   */
  const fill = (bytes?: number) => {
    if (!options.fillLadder || closed || stats.ladderFilling) return;
    stats.ladderFilling = true;
    savesSinceFill = 0;
    const onThisThread = () => fillLadder({ store, projection, skipInvalid: options.skipInvalid, signal: stopFilling.signal, ...(bytes !== undefined ? { bytes } : {}) });
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

  const request = () => {
    if (closed || since === 0) return;
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

  /** The worker thread, started once: when the first snapshot is due, or by a fill where the worker can write. */
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
    spawn();
    // The newest snapshot (the one the catch-up used or saved): decoded by the worker
    // (decodeSnapshot); here only whether the log still holds its event at its position.
    const stored = await store.snapshots!.load(projection.name);
    let after: bigint | null = null;
    if (stored !== null && (position === null || stored.position <= position)) {
      const loaded = new Promise<FromWorker>((resolve) => (onLoaded = resolve));
      post({ kind: 'init', snapshot: stored });
      const reply = await loaded;
      if (reply.kind === 'loaded' && reply.position !== null && (await snapshotMatchesLog(store, reply.position, reply.eventId!))) {
        after = reply.position;
      } else {
        post({ kind: 'init', snapshot: null });
      }
    } else {
      post({ kind: 'init', snapshot: null });
    }
    // The events between that snapshot and where the follower started live, read from the store.
    if (position !== null && (after === null || after < position)) {
      let chunk: StoredEvent[] = [];
      for await (const e of store.readAll({ after })) {
        if (e.position > position || closed) break;
        chunk.push(e);
        if (chunk.length >= 2_000) {
          post({ kind: 'events', events: chunk });
          chunk = [];
        }
      }
      if (chunk.length) post({ kind: 'events', events: chunk });
    }
    const queued = backlog ?? [];
    backlog = null;
    for (let i = 0; i < queued.length; i += 2_000) post({ kind: 'events', events: queued.slice(i, i + 2_000) });
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
      setImmediate(() => fill());
    },
    applied(stored) {
      if (closed) return;
      since++;
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
      await Promise.all([saving, filling]);
      const w = worker;
      worker = null;
      if (w === null) return;
      if (writer === null) {
        await w.terminate();
        return;
      }
      // The worker closes its connection to the store, then ends.
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.ref();
      w.postMessage({ kind: 'close' } satisfies ToWorker);
      await exited;
    },
  };
};
