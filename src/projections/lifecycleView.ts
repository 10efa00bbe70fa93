import { agentStatus, type AgentStatusName } from './agentStatus.js';
import type { AnomalyRecord, AnomalyReason, ConnectionRecord, LifecycleState, SessionRecord } from './lifecycleState.js';

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
  status: AgentStatusName;
  currentSessionId: string | null;
  pid: number | null;
  /** Its live session's host, else null. */
  host: string | null;
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
 * A record keyed by ids from input: no prototype, so `__proto__` or `constructor` is an ordinary
 * key (JSON.stringify prints it like any other).
 */
export const idRecord = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/**
 * Derives the SPEC §3 view from the state: pool occupancy, running set, busy and agent status are
 * computed from session states here, never counted. Pure. The state holds exactly what is within
 * the retention window, so the view needs no window of its own (the second argument is ignored;
 * it is accepted so that callers written against the older signature still compile).
 */
export const lifecycleView = (state: LifecycleState, _legacy?: { retentionMs?: number }): ProjectionJson => {
  const sessions = idRecord<SessionJson>();
  for (const s of state.sessions.values()) sessions[s.sessionId] = { ...s };

  const agents = idRecord<AgentJson>();
  const running: string[] = [];
  const busy: string[] = [];
  const liveByPool = new Map<string, string[]>();
  for (const a of state.agents.values()) {
    const derived = agentStatus(state.sessions, a);
    const live = derived.live;
    if (live !== undefined) {
      running.push(a.agentId);
      if (live.poolId !== null && a.role !== 'director') {
        const list = liveByPool.get(live.poolId);
        if (list === undefined) liveByPool.set(live.poolId, [a.agentId]);
        else list.push(a.agentId);
      }
    }
    if (derived.busy) busy.push(a.agentId);
    agents[a.agentId] = {
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
    };
  }

  const pools = idRecord<PoolJson>();
  for (const p of state.pools.values()) {
    // One live session per agent (rule 11), so each agent is listed once.
    const activeAgentIds = [...(liveByPool.get(p.poolId) ?? [])].sort(byCodeUnit);
    const activeByType = idRecord<number>();
    for (const id of activeAgentIds) {
      const type = state.agents.get(id)!.type;
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
