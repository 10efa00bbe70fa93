import { DEFAULT_RETENTION_MS, isLive, isTerminal, type AnomalyRecord, type AnomalyReason, type ConnectionRecord, type LifecycleState, type SessionRecord } from './lifecycleState.js';

export interface PoolStatusJson {
  activeCount: number;
  availableSlots: number;
  overCapacityBy: number;
  activeByType: Record<string, number>;
  activeAgentIds: string[];
}

export interface PoolJson {
  poolId: string;
  name: string;
  maxSize: number;
  agentTypes: string[];
  enabled: boolean;
  status: PoolStatusJson;
}

export interface AgentJson {
  agentId: string;
  name: string | null;
  role: string;
  type: string;
  status: 'running' | 'idle' | 'removed';
  currentSessionId: string | null;
  pid: number | null;
  generation: number;
  busy: boolean;
  connection: ConnectionRecord | null;
  startedAt: string | null;
  stoppedAt: string | null;
  lastSeenAt: string | null;
  lastExitReason: string | null;
}

/** A session in the view has exactly the fields the state keeps for it. */
export type SessionJson = SessionRecord;

/** The projection JSON of SPEC §3: what `replay --json` prints and other services consume. */
export interface ProjectionJson {
  position: string | null;
  pools: Record<string, PoolJson>;
  agents: Record<string, AgentJson>;
  sessions: Record<string, SessionJson>;
  running: string[];
  busy: string[];
  anomalies: { count: number; byReason: Partial<Record<AnomalyReason, number>>; recent: AnomalyRecord[] };
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Derives the SPEC §3 view from the state: pool occupancy, running set, busy and agent status are
 * computed from session states here, never counted. Pure; `retentionMs` must match the projection's.
 */
export const lifecycleView = (state: LifecycleState, options: { retentionMs?: number } = {}): ProjectionJson => {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const horizon = state.newestAtMs === null ? -Infinity : state.newestAtMs - retentionMs;
  const visible = (endedAt: string | null) => endedAt === null || Date.parse(endedAt) >= horizon;

  const sessions: Record<string, SessionJson> = {};
  for (const s of Object.values(state.sessions)) {
    if (isTerminal(s.state) && !visible(s.endedAt)) continue;
    sessions[s.sessionId] = { ...s };
  }

  const agents: Record<string, AgentJson> = {};
  const running: string[] = [];
  const busy: string[] = [];
  const liveByPool = new Map<string, Set<string>>();
  for (const a of Object.values(state.agents)) {
    if (a.removedAt !== null && !visible(a.removedAt)) continue;
    let live: SessionJson | undefined;
    for (const id of a.openSessionIds) {
      const s = state.sessions[id]!;
      if (isLive(s.state)) live = s;
    }
    const isBusy =
      a.run !== null &&
      a.run.generation === a.generation &&
      state.sessions[a.run.sessionId] !== undefined &&
      isLive(state.sessions[a.run.sessionId]!.state);
    if (live !== undefined) {
      running.push(a.agentId);
      if (live.poolId !== null && a.role !== 'director') {
        let set = liveByPool.get(live.poolId);
        if (set === undefined) liveByPool.set(live.poolId, (set = new Set()));
        set.add(a.agentId);
      }
    }
    if (isBusy) busy.push(a.agentId);
    agents[a.agentId] = {
      agentId: a.agentId,
      name: a.name,
      role: a.role,
      type: a.type,
      status: a.removedAt !== null ? 'removed' : live !== undefined ? 'running' : 'idle',
      currentSessionId: a.openSessionIds[a.openSessionIds.length - 1] ?? null,
      pid: live?.pid ?? null,
      generation: a.generation,
      busy: isBusy,
      connection: a.connection === null ? null : { ...a.connection },
      startedAt: a.startedAt,
      stoppedAt: a.stoppedAt,
      lastSeenAt: a.lastSeenAt,
      lastExitReason: a.lastExitReason,
    };
  }

  const pools: Record<string, PoolJson> = {};
  for (const p of Object.values(state.pools)) {
    const activeAgentIds = [...(liveByPool.get(p.poolId) ?? [])].sort(byCodeUnit);
    const activeByType: Record<string, number> = {};
    for (const id of activeAgentIds) {
      const type = state.agents[id]!.type;
      activeByType[type] = (activeByType[type] ?? 0) + 1;
    }
    const activeCount = activeAgentIds.length;
    pools[p.poolId] = {
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
  }

  return {
    position: state.position === null ? null : state.position.toString(),
    pools,
    agents,
    sessions,
    running: running.sort(byCodeUnit),
    busy: busy.sort(byCodeUnit),
    anomalies: {
      count: state.anomalies.count,
      byReason: { ...state.anomalies.byReason },
      recent: state.anomalies.recent.map((r) => ({ ...r })),
    },
  };
};
