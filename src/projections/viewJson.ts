// The JSON rollcall sends (SPEC §3 and the HTTP API), written once. It imports nothing, so every
// reader can take it type-only: `lifecycleView` builds these values, `serve/viewSchemas` is checked
// against them at compile time (so the OpenAPI document cannot leave them behind), and the
// dashboard reads them like any HTTP client would.

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
  | 'invalid-event'
  /** An event naming an orchestrator epoch older than its host's current one (SPEC §7.1). */
  | 'stale-epoch'
  /** A quarantined agent was started anyway: applied, and recorded (SPEC §7.4). */
  | 'quarantined-start';

export type AgentStatusName = 'running' | 'idle' | 'removed';

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

export interface ConnectionJson {
  connectionId: string;
  state: 'connected' | 'disconnected';
  since: string;
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
  connection: ConnectionJson | null;
  startedAt: string | null;
  stoppedAt: string | null;
  lastSeenAt: string | null;
  lastExitReason: string | null;
  /** A reconciler's warning until its next sign of life (SPEC §7.3), else null. */
  suspect: SuspectJson | null;
  /** Crash-loop quarantine (SPEC §7.4), else null. */
  quarantine: QuarantineJson | null;
}

export interface SuspectJson {
  since: string;
  reason: string;
}

export interface QuarantineJson {
  since: string;
  reason: string;
  /** Positions of the abnormal ends that made it so. */
  ends: string[];
}

/** An orchestrator host (SPEC §7.1): its epoch, since when, and how many live sessions run on it. */
export interface HostJson {
  host: string;
  epoch: number;
  startedAt: string;
  liveSessions: number;
}

/** A session in the view: exactly the fields the state keeps for it. */
export interface SessionJson {
  sessionId: string;
  agentId: string;
  poolId: string | null;
  state: SessionStateName;
  pid: number | null;
  /** The host its process last ran on (AgentSpawned/SessionResumed), or null. */
  host: string | null;
  startedAt: string | null;
  endedAt: string | null;
  terminatingSince: string | null;
  terminationReason: string | null;
  /** The orchestrator epoch of the event that last made it live (SPEC §7.1), or null. */
  epoch: number | null;
  /** The length of its lease (SPEC §7.2), or null when it holds its slot without one. */
  leaseMs: number | null;
  /** When its lease lapses unless renewed (event time); null without a lease or while suspended. */
  leaseExpiresAt: string | null;
}

/** One ignored event. */
export interface AnomalyJson {
  position: string;
  eventId: string | null;
  type: string | null;
  reason: AnomalyReason;
}

export interface AnomaliesJson {
  count: number;
  byReason: Partial<Record<AnomalyReason, number>>;
  recent: AnomalyJson[];
}

/** The projection JSON of SPEC §3: `GET /v1/projection`, what `replay --json` prints. */
export interface ProjectionJson {
  position: string | null;
  pools: Record<string, PoolJson>;
  agents: Record<string, AgentJson>;
  sessions: Record<string, SessionJson>;
  running: string[];
  busy: string[];
  /** Hosts that announced an epoch (OrchestratorStarted). */
  hosts: Record<string, HostJson>;
  /** Quarantined agents (sorted ids). */
  quarantined: string[];
  anomalies: AnomaliesJson;
}

/** `GET /v1/agents/{id}`: the agent plus its sessions in view. */
export type AgentDetailJson = AgentJson & { sessions: SessionJson[] };

/** One entry of an audit (`GET /v1/agents/{id}/audit`, `rollcall audit --json`). */
export interface AuditEntryJson {
  position: string;
  at: string;
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  /** What the event changed, as `field: before → after` (empty when it changed nothing). */
  changes: string[];
  /** Set when the rules ignored the event. */
  anomaly: AnomalyReason | null;
}

/** `GET /v1/agents/{id}/audit`, `rollcall audit AGENT_ID --json`. */
export interface AgentAuditJson {
  agentId: string;
  entries: AuditEntryJson[];
  /** The agent as the projection shows it at the end of the log (null if it never existed). */
  agent: AgentJson | null;
  /** The agent's sessions still in view at the end. */
  sessions: SessionJson[];
  /** Plain-language answer to "why is this agent (still) counted?". */
  explanation: string[];
}

/** `GET /readyz` (200 or 503). */
export interface StatusJson {
  status: 'ready' | 'catching-up' | 'store-unavailable';
  position: string | null;
  head: string | null;
  /** Why following stopped for good, when it did. */
  message?: string | undefined;
}

/** The data of one `event: change` of `GET /v1/changes`. */
export interface ChangeJson {
  position: string;
  type: string;
  changed: { pools: string[]; agents: string[]; sessions: string[] };
}

/** A rule that would free a slot, and when (event time) when that is known (SPEC §7.5). */
export interface ReleasedBy {
  rule: 'lease' | 'start-timeout' | 'terminating-timeout' | 'disconnect-grace' | 'pid-check' | 'orchestrator-restart' | 'own-end';
  /** When it frees the slot, if nothing happens first. */
  at?: string;
  /** What it needs to happen before it fires. */
  requires?: string;
  detail?: string;
}

/** The event that made a session live. */
export interface LiveSince {
  position: string;
  type: string;
  at: string;
}

/** One session holding a slot, and why it still does. */
export interface HolderJson {
  agentId: string;
  sessionId: string;
  state: SessionStateName;
  since: LiveSince | null;
  lastSeenAt: string | null;
  host: string | null;
  epoch: number | null;
  pid: number | null;
  leaseExpiresAt: string | null;
  suspect: SuspectJson | null;
  quarantine: QuarantineJson | null;
  releasedBy: ReleasedBy[];
}

/** `rollcall explain pool`, `GET /v1/pools/{poolId}/explain`. */
export interface PoolExplainJson {
  poolId: string;
  /** The position and event time the answer is as of. */
  position: string | null;
  asOf: string | null;
  exists: boolean;
  used: number;
  max: number | null;
  enabled: boolean | null;
  holders: HolderJson[];
}

/** `rollcall explain agent`, `GET /v1/agents/{agentId}/explain`. */
export interface AgentExplainJson {
  agentId: string;
  position: string | null;
  asOf: string | null;
  exists: boolean;
  status: 'running' | 'idle' | 'removed' | null;
  /** Whether it takes a slot, and of which pool. */
  counted: boolean;
  poolId: string | null;
  holder: HolderJson | null;
  explanation: string[];
}

/** One session's hold on one slot of a pool: from the event that made it take the slot to the one that freed it. */
export interface SlotIntervalJson {
  /** The slot (0-based): the lowest one free when it took its slot, assigned in log order from the log's start. */
  slot: number;
  agentId: string;
  sessionId: string;
  /** When (event time) and at which position it took the slot. */
  from: string;
  fromPosition: string;
  /** When it freed it; null while it still holds it at the end of the range. */
  to: string | null;
  toPosition: string | null;
  /** How it freed it: the session's termination reason, else its state then (e.g. `suspended`). */
  endedAs: string | null;
  /** Whether it ended abnormally in SPEC §7.4's sense (a crash, a failed or lost start, a lapsed lease, a restart). */
  abnormal: boolean;
}

/** `GET /v1/pools/{poolId}/slots`: who held which slot of a pool when, over a range of event time. */
export interface PoolSlotHistoryJson {
  poolId: string;
  /** The position and event time the log was read to. */
  position: string | null;
  /** The range asked for (event time, inclusive). */
  from: string;
  to: string;
  exists: boolean;
  /** The pool's maximum at the end of the range (null when it does not exist then). */
  max: number | null;
  /** Slots drawn: one more than the highest slot any interval in the range took. */
  slots: number;
  /** Every hold that overlaps the range, by start. */
  intervals: SlotIntervalJson[];
  /** True when more holds overlapped the range than one answer carries (the oldest were left out). */
  truncated: boolean;
}
