// Keeping the page current: one full load, then /v1/changes (SSE). Each change names the entities
// it touched; those are refetched (batched, one batch in flight at a time) and patched in place.
import { api } from './api.js';
import { cell } from './cell.js';
import { fromProjection, patchView, type ViewModel } from './model.js';
import type { AgentDetailJson, ChangeJson, PoolJson, StatusJson } from '../projections/viewJson.js';

export type Connection = 'connecting' | 'live' | 'reconnecting';

/** Past this many entities in one batch a full reload is cheaper than fetching them one by one. */
const FULL_RELOAD_OVER = 200;
/** Changes arriving within this window are fetched together. */
const BATCH_MS = 25;
const FETCH_CONCURRENCY = 8;
const RECENT_KEPT = 12;

export const liveView = cell<ViewModel | null>(null);
export const connection = cell<Connection>('connecting');
export const ready = cell<StatusJson | null>(null);
export const loadError = cell<string | null>(null);
/** The newest changes, newest first, for the live feed. */
export const recentChanges = cell<readonly ChangeJson[]>([]);
/** Ids touched by the last applied batch; an open timeline or pool refreshes when its agent or pool is among them. */
export const lastBatch = cell<{ agents: ReadonlySet<string>; pools: ReadonlySet<string>; seq: number }>({ agents: new Set(), pools: new Set(), seq: 0 });

let lastPosition: bigint | null = null;
let source: EventSource | null = null;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let retryDelay = 500;

const pending = { pools: new Set<string>(), agents: new Set<string>(), events: 0, position: null as string | null, full: false };
let batchTimer: ReturnType<typeof setTimeout> | undefined;
let flushing = false;

const mapLimit = async <T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> => {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
};

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const loadFull = async (): Promise<void> => {
  const p = await api.projection();
  liveView.set(fromProjection(p));
  loadError.set(null);
  const pos = p.position === null ? null : BigInt(p.position);
  if (lastPosition === null || (pos !== null && pos > lastPosition)) lastPosition = pos;
};

const schedule = () => {
  if (batchTimer === undefined && !flushing && pending.events > 0) batchTimer = setTimeout(() => void flush(), BATCH_MS);
};

const flush = async (): Promise<void> => {
  batchTimer = undefined;
  if (flushing || pending.events === 0) return;
  flushing = true;
  const pools = [...pending.pools];
  const agents = [...pending.agents];
  const position = pending.position;
  const full = pending.full;
  pending.pools.clear();
  pending.agents.clear();
  pending.events = 0;
  pending.full = false;
  try {
    if (full || pools.length + agents.length > FULL_RELOAD_OVER || liveView.get() === null) {
      await loadFull();
    } else {
      const [freshPools, freshAgents, anomalies] = await Promise.all([
        mapLimit(pools, FETCH_CONCURRENCY, api.pool),
        mapLimit(agents, FETCH_CONCURRENCY, api.agent),
        api.anomalies(),
      ]);
      const view = liveView.get();
      if (view !== null) {
        liveView.set(
          patchView(view, {
            position,
            pools: new Map<string, PoolJson | null>(pools.map((id, i) => [id, freshPools[i]!])),
            agents: new Map<string, AgentDetailJson | null>(agents.map((id, i) => [id, freshAgents[i]!])),
            anomalies,
          }),
        );
      }
    }
    lastBatch.set({ agents: new Set(agents), pools: new Set(pools), seq: lastBatch.get().seq + 1 });
  } catch (e) {
    // The server went away mid-batch: keep the ids and try again once it answers.
    for (const id of pools) pending.pools.add(id);
    for (const id of agents) pending.agents.add(id);
    pending.events += 1;
    pending.position ??= position;
    pending.full ||= full;
    loadError.set(message(e));
    flushing = false;
    setTimeout(schedule, 1000);
    return;
  }
  flushing = false;
  schedule();
};

const onChange = (e: MessageEvent<string>) => {
  const change = JSON.parse(e.data) as ChangeJson;
  const position = BigInt(change.position);
  // A connection never repeats a position, but a resumed one may overlap what the full load saw.
  if (lastPosition !== null && position <= lastPosition) return;
  lastPosition = position;
  for (const id of change.changed.pools) pending.pools.add(id);
  for (const id of change.changed.agents) pending.agents.add(id);
  // A host's new epoch is in no entity a change names: the rare restart reloads the whole view.
  if (change.type === 'OrchestratorStarted') pending.full = true;
  pending.events += 1;
  pending.position = String(change.position);
  const recent = recentChanges.get();
  recentChanges.set([change, ...recent.slice(0, RECENT_KEPT - 1)]);
  schedule();
};

const connect = () => {
  clearTimeout(retryTimer);
  source?.close();
  // `from` hands over from the full load without a gap; the browser's own reconnects then send
  // Last-Event-ID, and a reconnect of ours resumes from the last position seen.
  const es = new EventSource(`v1/changes?from=${lastPosition ?? 0n}`);
  source = es;
  es.addEventListener('change', onChange as EventListener);
  es.addEventListener('open', () => {
    retryDelay = 500;
    connection.set('live');
    void refreshReady();
  });
  es.addEventListener('error', () => {
    connection.set('reconnecting');
    // CONNECTING: the browser retries by itself. CLOSED (e.g. a 503 while the server starts): we do.
    if (es.readyState === EventSource.CLOSED) {
      retryTimer = setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    }
  });
};

const refreshReady = async (): Promise<void> => {
  try {
    const r = await api.ready();
    ready.set(r);
    // A server caught up with a log that is behind what we have seen is on another log (e.g. a
    // memory store restarted): start over. (Its head alone may lag its position for a moment.)
    const known = [r.head, r.position].filter((p): p is string => p !== null).map(BigInt);
    const newest = known.length === 0 ? null : known.reduce((a, b) => (a > b ? a : b));
    if (r.status === 'ready' && newest !== null && lastPosition !== null && newest < lastPosition) {
      lastPosition = null;
      await loadFull();
      connect();
    }
  } catch {
    ready.set(null);
  }
};

/** Loads the projection and follows the server; retries the first load until the server answers. */
export const startLive = async (): Promise<void> => {
  setInterval(() => void refreshReady(), 2000);
  void refreshReady();
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      await loadFull();
      break;
    } catch (e) {
      loadError.set(message(e));
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  connect();
};
