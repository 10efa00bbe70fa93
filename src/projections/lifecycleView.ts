import { agentStatus } from './agentStatus.js';
import { leaseExpiresAt, type AgentRecord, type LifecycleState, type PoolRecord, type SessionRecord } from './lifecycleState.js';
import type { AgentJson, HostJson, PoolJson, ProjectionJson, SessionJson } from './viewJson.js';

// The view's JSON types are written once, in viewJson.ts (imported type-only by the server's
// schemas and the dashboard); re-exported here for the modules that always took them from the view.
export type { AgentJson, HostJson, PoolJson, PoolStatusJson, ProjectionJson, SessionJson } from './viewJson.js';

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A record keyed by ids from input: no prototype, so `__proto__` or `constructor` is an ordinary
 * key (JSON.stringify prints it like any other).
 */
export const idRecord = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/** One session's JSON: the fields the state keeps for it, its lease expiry as ISO. */
export const sessionJson = (s: SessionRecord): SessionJson => ({
  sessionId: s.sessionId,
  agentId: s.agentId,
  poolId: s.poolId,
  state: s.state,
  pid: s.pid,
  host: s.host,
  startedAt: s.startedAt,
  endedAt: s.endedAt,
  terminatingSince: s.terminatingSince,
  terminationReason: s.terminationReason,
  epoch: s.epoch,
  leaseMs: s.leaseMs,
  leaseExpiresAt: leaseExpiresAt(s),
});

/** One agent's JSON, with the live session it was derived from (the view counts it in that session's pool). */
export const agentJson = (sessions: ReadonlyMap<string, SessionRecord>, a: AgentRecord): { json: AgentJson; live: SessionRecord | undefined } => {
  const derived = agentStatus(sessions, a);
  const live = derived.live;
  return {
    live,
    json: {
      agentId: a.agentId,
      name: a.name,
      role: a.role,
      type: a.type,
      status: derived.status,
      currentSessionId: derived.currentSessionId,
      pid: live?.pid ?? null,
      host: live?.host ?? null,
      generation: a.generation,
      busy: derived.busy,
      connection: a.connection === null ? null : { ...a.connection },
      startedAt: a.startedAt,
      stoppedAt: a.stoppedAt,
      lastSeenAt: a.lastSeenAt,
      lastExitReason: a.lastExitReason,
      suspect: a.suspect === null ? null : { ...a.suspect },
      quarantine: a.quarantine === null ? null : { ...a.quarantine, ends: [...a.quarantine.ends] },
    },
  };
};

/** The hosts section, given how many live sessions run on each host. */
export const hostsJson = (state: LifecycleState, liveOnHost: { get(host: string): number | undefined }): Record<string, HostJson> => {
  const hosts = idRecord<HostJson>();
  for (const h of state.hosts.values()) hosts[h.host] = { host: h.host, epoch: h.epoch, startedAt: h.startedAt, liveSessions: liveOnHost.get(h.host) ?? 0 };
  return hosts;
};

/** The pool an agent takes a slot of: its live session's, unless it is a director (directors take none). */
export const occupiedPool = (a: AgentRecord, live: SessionRecord | undefined): string | null =>
  live !== undefined && live.poolId !== null && a.role !== 'director' ? live.poolId : null;

/** One pool's JSON, given the agents occupying it (sorted by code unit; one live session per agent, rule 11). */
export const poolJson = (state: LifecycleState, p: PoolRecord, activeAgentIds: string[]): PoolJson => {
  const activeByType = idRecord<number>();
  for (const id of activeAgentIds) {
    const type = state.agents.get(id)!.type;
    activeByType[type] = (activeByType[type] ?? 0) + 1;
  }
  const activeCount = activeAgentIds.length;
  return {
    poolId: p.poolId,
    name: p.name,
    maxSize: p.maxSize,
    agentTypes: [...p.agentTypes],
    enabled: p.enabled,
    status: {
      activeCount,
      availableSlots: p.enabled ? Math.max(0, p.maxSize - activeCount) : 0,
      overCapacityBy: Math.max(0, activeCount - p.maxSize),
      activeByType,
      activeAgentIds,
    },
  };
};

/** The view's anomalies section: a copy, so that a view handed out never changes. */
export const anomaliesJson = (state: LifecycleState): ProjectionJson['anomalies'] => ({
  count: state.anomalies.count,
  byReason: { ...state.anomalies.byReason },
  recent: state.anomalies.recent.map((r) => ({ ...r })),
});

/**
 * Derives the SPEC §3 view from the state: pool occupancy, running set, busy and agent status are
 * computed from session states here, never counted. Pure. The state holds exactly what is within
 * the retention window, so the view needs no window of its own.
 */
export const lifecycleView = (state: LifecycleState): ProjectionJson => {
  const sessions = idRecord<SessionJson>();
  for (const s of state.sessions.values()) sessions[s.sessionId] = sessionJson(s);
  return viewWithSessions(state, sessions);
};

/**
 * The view with `sessions` as its sessions section: lifecycleView's own work but the sessions'
 * (viewText.ts passes an empty one and encodes the sessions apart, in pieces).
 */
export const viewWithSessions = (state: LifecycleState, sessions: Record<string, SessionJson>): ProjectionJson => {
  const agents = idRecord<AgentJson>();
  const running: string[] = [];
  const busy: string[] = [];
  const quarantined: string[] = [];
  const liveByPool = new Map<string, string[]>();
  const liveOnHost = new Map<string, number>();
  for (const a of state.agents.values()) {
    const { json, live } = agentJson(state.sessions, a);
    if (live !== undefined) running.push(a.agentId);
    if (live?.host != null) liveOnHost.set(live.host, (liveOnHost.get(live.host) ?? 0) + 1);
    if (a.quarantine !== null) quarantined.push(a.agentId);
    const poolId = occupiedPool(a, live);
    if (poolId !== null) {
      const list = liveByPool.get(poolId);
      if (list === undefined) liveByPool.set(poolId, [a.agentId]);
      else list.push(a.agentId);
    }
    if (json.busy) busy.push(a.agentId);
    agents[a.agentId] = json;
  }

  const pools = idRecord<PoolJson>();
  for (const p of state.pools.values()) pools[p.poolId] = poolJson(state, p, [...(liveByPool.get(p.poolId) ?? [])].sort(byCodeUnit));

  return {
    position: state.position === null ? null : state.position.toString(),
    pools,
    agents,
    sessions,
    running: running.sort(byCodeUnit),
    busy: busy.sort(byCodeUnit),
    hosts: hostsJson(state, liveOnHost),
    quarantined: quarantined.sort(byCodeUnit),
    anomalies: anomaliesJson(state),
  };
};
