// The page's copy of the projection. Patches keep the identity of every entity they do not touch,
// so memoized rows and sections skip re-rendering and only what changed is redrawn.
import type { AgentDetailJson, AgentJson, AnomaliesJson, PoolJson, ProjectionJson, SessionJson } from './wire.js';

export interface ViewModel {
  position: string | null;
  pools: Readonly<Record<string, PoolJson>>;
  agents: Readonly<Record<string, AgentJson>>;
  sessions: Readonly<Record<string, SessionJson>>;
  anomalies: AnomaliesJson;
  /** Index: the ids of each agent's sessions in view. */
  sessionsByAgent: ReadonlyMap<string, readonly string[]>;
}

const indexSessions = (sessions: Record<string, SessionJson>): Map<string, string[]> => {
  const byAgent = new Map<string, string[]>();
  for (const s of Object.values(sessions)) {
    const list = byAgent.get(s.agentId);
    if (list) list.push(s.sessionId);
    else byAgent.set(s.agentId, [s.sessionId]);
  }
  return byAgent;
};

export const fromProjection = (p: ProjectionJson): ViewModel => ({
  position: p.position,
  pools: p.pools,
  agents: p.agents,
  sessions: p.sessions,
  anomalies: p.anomalies,
  sessionsByAgent: indexSessions(p.sessions),
});

export interface Patch {
  position: string | null;
  /** Fresh pools by id; null = the pool left the view. */
  pools: ReadonlyMap<string, PoolJson | null>;
  /** Fresh agents (with their sessions) by id; null = the agent left the view. */
  agents: ReadonlyMap<string, AgentDetailJson | null>;
  anomalies: AnomaliesJson | null;
}

/** A new view with the patch applied; untouched entities (and untouched maps) keep their identity. */
export const patchView = (v: ViewModel, p: Patch): ViewModel => {
  let pools = v.pools;
  if (p.pools.size > 0) {
    const next = { ...v.pools };
    for (const [id, pool] of p.pools) {
      if (pool === null) delete next[id];
      else next[id] = pool;
    }
    pools = next;
  }
  let agents = v.agents;
  let sessions = v.sessions;
  let sessionsByAgent = v.sessionsByAgent;
  if (p.agents.size > 0) {
    const nextAgents = { ...v.agents };
    const nextSessions: Record<string, SessionJson> = { ...v.sessions };
    const nextIndex = new Map(v.sessionsByAgent);
    for (const [id, detail] of p.agents) {
      for (const sid of nextIndex.get(id) ?? []) delete nextSessions[sid];
      nextIndex.delete(id);
      if (detail === null) {
        delete nextAgents[id];
        continue;
      }
      const { sessions: own, ...agent } = detail;
      nextAgents[id] = agent;
      for (const s of own) nextSessions[s.sessionId] = s;
      if (own.length > 0) nextIndex.set(id, own.map((s) => s.sessionId));
    }
    agents = nextAgents;
    sessions = nextSessions;
    sessionsByAgent = nextIndex;
  }
  return {
    position: p.position ?? v.position,
    pools,
    agents,
    sessions,
    anomalies: p.anomalies ?? v.anomalies,
    sessionsByAgent,
  };
};

/** The pool an agent's current session belongs to, if any. */
export const poolOf = (v: ViewModel, a: AgentJson): string | null =>
  a.currentSessionId === null ? null : (v.sessions[a.currentSessionId]?.poolId ?? null);

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const sortedKeys = (r: Readonly<Record<string, unknown>>): string[] => Object.keys(r).sort(byCodeUnit);
