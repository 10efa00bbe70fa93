// TEMPORARY: a naive stand-in for src/live's openRollcall, so serve can be built and tested before
// the real runtime lands. Deleted as soon as it does.
import { RollcallError } from '../errors.js';
import type { Change, LiveStatus, LiveSubscribeOptions, OpenRollcallOptions, Rollcall } from '../live/types.js';
import { createLifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import { lifecycleView } from '../projections/lifecycleView.js';
import { decodeStored } from '../replay/decodeStored.js';
import { applyItemsInPlace } from '../replay/foldEvents.js';
import { isInvalid } from '../replay/replayItem.js';

export const openDevRollcall = async (options: OpenRollcallOptions): Promise<Rollcall> => {
  const { store } = options;
  const projection = createLifecycleProjection(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs });
  let state: LifecycleState = projection.initialState();
  const log: Change[] = [];
  const listeners = new Set<{ fn: (c: Change) => void; after: bigint | null; caught: boolean; onCaughtUp?: (p: bigint | null) => void }>();
  const waiters = new Set<{ position: bigint; resolve: () => void }>();
  const status: LiveStatus = { position: null, head: null, caughtUp: false, storeAvailable: true, lastError: null };
  const startHead = await store.head();
  status.head = startHead;
  const abort = new AbortController();
  let caughtUpResolve!: () => void;
  const caughtUp = new Promise<void>((r) => (caughtUpResolve = r));
  const markCaught = () => {
    if (status.caughtUp) return;
    status.caughtUp = true;
    caughtUpResolve();
    for (const l of listeners) if (!l.caught) ((l.caught = true), l.onCaughtUp?.(status.position));
  };
  if (startHead === null) markCaught();

  const headPoll = setInterval(() => {
    store.head().then(
      (h) => {
        status.head = h;
        status.storeAvailable = true;
        status.lastError = null;
      },
      (e: unknown) => {
        status.storeAvailable = false;
        status.lastError = e instanceof RollcallError ? e : new RollcallError('store-unavailable', String(e));
      },
    );
  }, 200);

  void (async () => {
    try {
      for await (const stored of store.subscribe({ after: null, signal: abort.signal })) {
        const item = decodeStored(stored);
        applyItemsInPlace(projection, state, [item]);
        // A new outer object per event: readers tell states apart by identity.
        state = { ...state };
        const d = (isInvalid(item) ? {} : item.data) as { poolId?: string; agentId?: string; sessionId?: string };
        const u = { position: stored.position, type: stored.type };
        status.position = u.position;
        const ids = (v: string | undefined) => (v === undefined ? [] : [v]);
        const change: Change = { position: u.position, type: u.type, changed: { pools: ids(d.poolId), agents: ids(d.agentId), sessions: ids(d.sessionId) } };
        log.push(change);
        for (const l of listeners) {
          if (l.after === null || change.position > l.after) l.fn(change);
        }
        for (const w of waiters) if (u.position >= w.position) (waiters.delete(w), w.resolve());
        if (!status.caughtUp && startHead !== null && u.position >= startHead) markCaught();
        if (status.head === null || u.position > status.head) status.head = u.position;
        for (const l of listeners) if (!l.caught && status.caughtUp && status.head !== null && u.position >= status.head) ((l.caught = true), l.onCaughtUp?.(u.position));
      }
    } catch (e) {
      if (!abort.signal.aborted) {
        status.storeAvailable = false;
        status.lastError = e instanceof RollcallError ? e : new RollcallError('store-unavailable', String(e));
      }
    }
  })();

  return {
    view: () => lifecycleView(state, { retentionMs: projection.retentionMs }),
    state: () => state,
    position: () => status.position,
    status: () => ({ ...status }),
    subscribe(fn, opts: LiveSubscribeOptions = {}) {
      const from = opts.from ?? status.position;
      for (const c of log) if (from === null || c.position > from) fn(c);
      const entry = { fn, after: status.position, caught: false, ...(opts.onCaughtUp ? { onCaughtUp: opts.onCaughtUp } : {}) };
      listeners.add(entry);
      if (status.caughtUp && (status.head === null || (status.position ?? -1n) >= status.head)) ((entry.caught = true), opts.onCaughtUp?.(status.position));
      return () => listeners.delete(entry);
    },
    whenCaughtUp: () => caughtUp,
    whenProcessed(position, opts = {}) {
      if (status.position !== null && status.position >= position) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { position, resolve: () => (clearTimeout(t), resolve()) };
        const t = setTimeout(() => (waiters.delete(w), reject(new RollcallError('store-unavailable', 'timeout'))), opts.timeoutMs ?? 5000);
        waiters.add(w);
      });
    },
    async close() {
      abort.abort();
      clearInterval(headPoll);
    },
  };
};
