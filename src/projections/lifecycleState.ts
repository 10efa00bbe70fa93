/** Session states of SPEC §2. */
export type SessionStateName = 'starting' | 'running' | 'suspended' | 'terminating' | 'terminated' | 'failed';

/** Why an event was ignored (SPEC §2 rules), plus `invalid-event` for undecodable stored events. */
export type AnomalyReason =
  | 'duplicate'
  | 'invalid-transition'
  | 'session-agent-mismatch'
  | 'unknown-agent'
  | 'removed-agent'
  | 'unknown-session'
  | 'stale-generation'
  | 'stale-pid'
  | 'stale-connection'
  | 'unknown-pool'
  | 'pool-exists'
  | 'agent-exists'
  | 'invalid-event';

export interface SessionRecord {
  sessionId: string;
  agentId: string;
  poolId: string | null;
  state: SessionStateName;
  pid: number | null;
  startedAt: string | null;
  endedAt: string | null;
  terminatingSince: string | null;
  terminationReason: string | null;
}

export interface ConnectionRecord {
  connectionId: string;
  state: 'connected' | 'disconnected';
  since: string;
}

export interface AgentRecord {
  agentId: string;
  name: string | null;
  role: string;
  type: string;
  removedAt: string | null;
  generation: number;
  /** The run in flight, if any; busy is derived from it (rule 7). */
  run: { sessionId: string; generation: number } | null;
  connection: ConnectionRecord | null;
  startedAt: string | null;
  stoppedAt: string | null;
  lastSeenAt: string | null;
  lastExitReason: string | null;
  /**
   * Index: ids of this agent's non-terminal sessions, the most recently started last. It is the
   * same thing as filtering `sessions` by agent and state; `checkInvariants` proves it every replay.
   */
  openSessionIds: string[];
}

export interface PoolRecord {
  poolId: string;
  name: string;
  maxSize: number;
  agentTypes: string[];
  enabled: boolean;
}

export interface AnomalyRecord {
  position: string;
  eventId: string | null;
  type: string | null;
  reason: AnomalyReason;
}

export interface Anomalies {
  count: number;
  byReason: Partial<Record<AnomalyReason, number>>;
  recent: AnomalyRecord[];
}

/**
 * The lifecycle projection's state. Everything a reader sees (pool occupancy, running set, busy,
 * agent status) is derived from it by `lifecycleView`; nothing here is a counter.
 */
export interface LifecycleState {
  /** Global position of the last event processed (a string only in the view: it is set per event). */
  position: bigint | null;
  newestAt: string | null;
  newestAtMs: number | null;
  pools: Record<string, PoolRecord>;
  agents: Record<string, AgentRecord>;
  sessions: Record<string, SessionRecord>;
  /** Terminal sessions that left the view: id → owning agent id, so they stay final (rule 2). */
  endedSessions: Record<string, string>;
  /** Removed agents that left the view: ids are never reused. */
  removedAgents: Record<string, true>;
  /** Minute bucket (of endedAt / removedAt) → entries due to leave the view: `s:<id>` / `a:<id>`. */
  retiring: Record<string, string[]>;
  /**
   * Minute bucket of an event's `at` → ids seen in it (a redelivery carries the same id and `at`).
   * A Map of Sets because this is the hottest lookup of the fold; snapshots serialize it as arrays.
   */
  seenIds: Map<number, Set<string>>;
  /** Buckets below this one have been evicted. */
  evictedBelow: number;
  anomalies: Anomalies;
}

export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
export const isLive = (s: SessionStateName): boolean => s === 'starting' || s === 'running' || s === 'terminating';
export const isTerminal = (s: SessionStateName): boolean => s === 'terminated' || s === 'failed';

export const initialLifecycleState = (): LifecycleState => ({
  position: null,
  newestAt: null,
  newestAtMs: null,
  pools: {},
  agents: {},
  sessions: {},
  endedSessions: {},
  removedAgents: {},
  retiring: {},
  seenIds: new Map(),
  evictedBelow: 0,
  anomalies: { count: 0, byReason: {}, recent: [] },
});
