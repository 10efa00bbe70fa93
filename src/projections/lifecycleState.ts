import { CompactIdSet } from '../events/compactIdSet.js';
import type { AnomaliesJson, AnomalyJson, ConnectionJson, LiveSince, QuarantineJson, SessionJson, SessionStateName, SuspectJson } from './viewJson.js';

// What the view shows exactly as the state keeps it is written once, in viewJson.ts.
export type { AnomalyReason, SessionStateName } from './viewJson.js';

/**
 * A session as the state keeps it: what the view shows, but its lease expiry as epoch ms (renewed
 * on every heartbeat, so kept as a number the reducer compares; the view writes it as ISO).
 */
export type SessionRecord = Omit<SessionJson, 'leaseExpiresAt'> & {
  /** When its lease lapses unless renewed (event time, epoch ms); null without a lease or while suspended. */
  leaseExpiresMs: number | null;
};

/** A session's lease expiry as the view shows it (ISO), or null. */
export const leaseExpiresAt = (s: SessionRecord): string | null => (s.leaseExpiresMs === null ? null : new Date(s.leaseExpiresMs).toISOString());

export type ConnectionRecord = ConnectionJson;
export type SuspectRecord = SuspectJson;
export type QuarantineRecord = QuarantineJson;

/** An orchestrator's host and its current epoch (SPEC §7.1). */
export interface HostRecord {
  host: string;
  epoch: number;
  /** `at` of the OrchestratorStarted that set this epoch. */
  startedAt: string;
}

/** A live session's lease, due to lapse at `dueMs` unless renewed (a renewal leaves a stale entry behind, skipped on pop). */
export interface LeaseEntry {
  dueMs: number;
  id: string;
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
  /** A reconciler's warning (AgentSuspected) until the next sign of life or the end of its live session. */
  suspect: SuspectRecord | null;
  /** Crash-loop quarantine (SPEC §7.4) until an AgentReleased. */
  quarantine: QuarantineRecord | null;
  /**
   * Its recent abnormal ends (position and time) in event-time order, at most `quarantineAfter`, all within the window
   * of the newest; frozen while quarantined, cleared by AgentReleased.
   */
  abnormalEnds: Array<{ position: string; atMs: number }>;
  /**
   * Index: ids of this agent's non-terminal sessions, the most recently live last. It is the
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

export type AnomalyRecord = AnomalyJson;

export type Anomalies = AnomaliesJson;

/** A terminal session (or removed agent) due to leave the state once the clock passes `dueMs` + retention. */
export interface RetireEntry {
  /** Its `endedAt` (or `removedAt`) in ms. */
  dueMs: number;
  id: string;
  agent: boolean;
}

/**
 * The lifecycle projection's state. Everything a reader sees (pool occupancy, running set, busy,
 * agent status) is derived from it by `lifecycleView`; nothing here is a counter.
 *
 * Every collection keyed by an id from input is a Map (or an id set), never a plain object, so
 * that no id (`__proto__`, `constructor`) can reach a prototype.
 */
export interface LifecycleState {
  /** Global position of the last event processed (a string only in the view: it is set per event). */
  position: bigint | null;
  newestAt: string | null;
  newestAtMs: number | null;
  pools: Map<string, PoolRecord>;
  agents: Map<string, AgentRecord>;
  /** Every non-terminal session, and each terminal one until the retention window has passed it. */
  sessions: Map<string, SessionRecord>;
  /**
   * Ids of terminal sessions that left the state after the retention window, held compactly, so
   * they stay final (rule 2). Grows only.
   */
  evictedSessions: CompactIdSet;
  /** Ids of removed agents that left the state: ids are never reused. Grows only. */
  evictedAgents: CompactIdSet;
  /** Min-heap on `dueMs` of what is due to leave the state; the clock pops only what expires. */
  retiring: RetireEntry[];
  /** Orchestrator hosts by name: their current epoch. */
  hosts: Map<string, HostRecord>;
  /**
   * Index: ids of the live sessions that run on each host (a host with none has no entry), so a
   * restart touches its own host's sessions, not every agent. It is the same thing as filtering
   * `sessions` by state and host; `checkInvariants` proves it. Not in snapshots: rebuilt on load.
   */
  liveOnHost: Map<string, Set<string>>;
  /** Min-heap on `dueMs` of live sessions' leases; the clock pops only what lapses. */
  leases: LeaseEntry[];
  /**
   * For each live session (and only those), the event that last made it live: its creation or a
   * resume. Not in the view; explain's `since` (SPEC §7.5) reads it, so an answer needs no fold.
   */
  liveSince: Map<string, LiveSince>;
  anomalies: Anomalies;
}

export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** SPEC §7.4: this many abnormal ends … */
export const DEFAULT_QUARANTINE_AFTER = 3;
/** … within this much event time quarantine an agent. */
export const DEFAULT_QUARANTINE_WINDOW_MS = 10 * 60 * 1000;
export const isLive = (s: SessionStateName): boolean => s === 'starting' || s === 'running' || s === 'terminating';
export const isTerminal = (s: SessionStateName): boolean => s === 'terminated' || s === 'failed';

export const initialLifecycleState = (): LifecycleState => ({
  position: null,
  newestAt: null,
  newestAtMs: null,
  pools: new Map(),
  agents: new Map(),
  sessions: new Map(),
  evictedSessions: new CompactIdSet(),
  evictedAgents: new CompactIdSet(),
  retiring: [],
  hosts: new Map(),
  liveOnHost: new Map(),
  leases: [],
  liveSince: new Map(),
  anomalies: { count: 0, byReason: {}, recent: [] },
});

/** A deep copy that owns everything (the id sets included, which `structuredClone` cannot copy). */
export const cloneLifecycleState = (s: LifecycleState): LifecycleState => {
  const { evictedSessions, evictedAgents, ...plain } = s;
  return { ...structuredClone(plain), evictedSessions: evictedSessions.clone(), evictedAgents: evictedAgents.clone() };
};
