// The page's copy of the projection. A batch of changes patches the maps in place and returns a
// new (shallow) model with bumped versions: the cost of an update follows what changed, not the
// fleet's size, so the page keeps up at 10,000 agents. Replaced entities are new objects, so
// memoized rows redraw only when their entity changed.
import type { AgentDetailJson, AgentJson, AnomaliesJson, HostJson, PoolJson, ProjectionJson, SessionJson } from '../projections/viewJson.js';

export interface Versions {
  pools: number;
  agents: number;
  sessions: number;
}

export interface ViewModel {
  position: string | null;
  pools: ReadonlyMap<string, PoolJson>;
  agents: ReadonlyMap<string, AgentJson>;
  sessions: ReadonlyMap<string, SessionJson>;
  anomalies: AnomaliesJson;
  /** Orchestrator hosts and their epochs as of the last full load (an OrchestratorStarted triggers one). */
  hosts: ReadonlyMap<string, HostJson>;
  /** Sorted; a new array only when agents come or go. */
  agentIds: readonly string[];
  /** Sorted; a new array only when pools come or go. */
  poolIds: readonly string[];
  /** Sessions in `starting` or `terminating`. */
  pendingSessionIds: ReadonlySet<string>;
  running: number;
  busy: number;
  /** The newest time the view mentions (ms): the clock of a past view, where "now" means then. */
  newestAtMs: number | null;
  /** Bumped when the matching map changes: what sections memoize on. */
  versions: Versions;
}

interface Mutable {
  pools: Map<string, PoolJson>;
  agents: Map<string, AgentJson>;
  sessions: Map<string, SessionJson>;
  byAgent: Map<string, string[]>;
  pending: Set<string>;
}

// The maps behind each model; only patchView writes them.
const owned = new WeakMap<ViewModel, Mutable>();

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const isPending = (s: SessionJson) => s.state === 'starting' || s.state === 'terminating';

export const fromProjection = (p: ProjectionJson): ViewModel => {
  const m: Mutable = {
    pools: new Map(Object.entries(p.pools)),
    agents: new Map(Object.entries(p.agents)),
    sessions: new Map(Object.entries(p.sessions)),
    byAgent: new Map(),
    pending: new Set(),
  };
  for (const s of m.sessions.values()) {
    const list = m.byAgent.get(s.agentId);
    if (list) list.push(s.sessionId);
    else m.byAgent.set(s.agentId, [s.sessionId]);
    if (isPending(s)) m.pending.add(s.sessionId);
  }
  let running = 0;
  let busy = 0;
  let newest = -Infinity;
  const seen = (t: string | null) => {
    if (t !== null) newest = Math.max(newest, Date.parse(t));
  };
  for (const a of m.agents.values()) {
    if (a.status === 'running') running++;
    if (a.busy) busy++;
    seen(a.lastSeenAt);
    seen(a.startedAt);
    seen(a.stoppedAt);
  }
  for (const s of m.sessions.values()) {
    seen(s.startedAt);
    seen(s.endedAt);
    seen(s.terminatingSince);
  }
  const view: ViewModel = {
    position: p.position,
    pools: m.pools,
    agents: m.agents,
    sessions: m.sessions,
    anomalies: p.anomalies,
    hosts: new Map(Object.entries(p.hosts ?? {})),
    agentIds: [...m.agents.keys()].sort(byCodeUnit),
    poolIds: [...m.pools.keys()].sort(byCodeUnit),
    pendingSessionIds: m.pending,
    running,
    busy,
    newestAtMs: Number.isFinite(newest) ? newest : null,
    versions: { pools: 0, agents: 0, sessions: 0 },
  };
  owned.set(view, m);
  return view;
};

export interface Patch {
  position: string | null;
  /** Fresh pools by id; null = the pool left the view. */
  pools: ReadonlyMap<string, PoolJson | null>;
  /** Fresh agents (with their sessions) by id; null = the agent left the view. */
  agents: ReadonlyMap<string, AgentDetailJson | null>;
  anomalies: AnomaliesJson | null;
}

/** Where `id` is or would go in a sorted array. */
const search = (ids: readonly string[], id: string): number => {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** Adds and removes ids in a sorted array; the same array when nothing came or went. */
const resort = (ids: readonly string[], added: string[], removed: string[]): readonly string[] => {
  if (added.length === 0 && removed.length === 0) return ids;
  const next = [...ids];
  for (const id of removed) {
    const i = search(next, id);
    if (next[i] === id) next.splice(i, 1);
  }
  for (const id of added) next.splice(search(next, id), 0, id);
  return next;
};

/**
 * Applies a patch to the model's maps and returns the model to render. The previous model shares
 * the maps: it is not a snapshot to keep (time travel keeps its own model).
 */
export const patchView = (v: ViewModel, p: Patch): ViewModel => {
  const m = owned.get(v)!;
  const versions = { ...v.versions };
  const poolsAdded: string[] = [];
  const poolsRemoved: string[] = [];
  for (const [id, pool] of p.pools) {
    const had = m.pools.has(id);
    if (pool === null) {
      if (had) poolsRemoved.push(id);
      m.pools.delete(id);
    } else {
      if (!had) poolsAdded.push(id);
      m.pools.set(id, pool);
    }
  }
  if (p.pools.size > 0) versions.pools++;

  let { running, busy } = v;
  const agentsAdded: string[] = [];
  const agentsRemoved: string[] = [];
  for (const [id, detail] of p.agents) {
    const old = m.agents.get(id);
    if (old) {
      if (old.status === 'running') running--;
      if (old.busy) busy--;
    }
    for (const sid of m.byAgent.get(id) ?? []) {
      m.sessions.delete(sid);
      m.pending.delete(sid);
    }
    m.byAgent.delete(id);
    if (detail === null) {
      if (old) agentsRemoved.push(id);
      m.agents.delete(id);
      continue;
    }
    const { sessions: own, ...agent } = detail;
    if (!old) agentsAdded.push(id);
    m.agents.set(id, agent);
    if (agent.status === 'running') running++;
    if (agent.busy) busy++;
    for (const s of own) {
      m.sessions.set(s.sessionId, s);
      if (isPending(s)) m.pending.add(s.sessionId);
    }
    if (own.length > 0) m.byAgent.set(id, own.map((s) => s.sessionId));
  }
  if (p.agents.size > 0) {
    versions.agents++;
    versions.sessions++;
  }
  const next: ViewModel = {
    ...v,
    position: p.position ?? v.position,
    anomalies: p.anomalies ?? v.anomalies,
    agentIds: resort(v.agentIds, agentsAdded, agentsRemoved),
    poolIds: resort(v.poolIds, poolsAdded, poolsRemoved),
    running,
    busy,
    versions,
  };
  owned.set(next, m);
  return next;
};
