// The JSON the server sends (SPEC §3 and §6), as a client of the public HTTP API sees it: written
// here rather than imported, so the browser code depends on the contract and not on the library's
// internals. test/dashboard/model.test.ts checks at compile time that the library's view and audit
// types fit these.

export interface PoolJson {
  poolId: string;
  name: string;
  maxSize: number;
  agentTypes: string[];
  enabled: boolean;
  status: {
    activeCount: number;
    availableSlots: number;
    overCapacityBy: number;
    activeByType: Record<string, number>;
    activeAgentIds: string[];
  };
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
  status: 'running' | 'idle' | 'removed';
  currentSessionId: string | null;
  pid: number | null;
  host?: string | null;
  generation: number;
  busy: boolean;
  connection: ConnectionJson | null;
  startedAt: string | null;
  stoppedAt: string | null;
  lastSeenAt: string | null;
  lastExitReason: string | null;
}

export type SessionState = 'starting' | 'running' | 'suspended' | 'terminating' | 'terminated' | 'failed';

export interface SessionJson {
  sessionId: string;
  agentId: string;
  poolId: string | null;
  state: SessionState;
  pid: number | null;
  host?: string | null;
  startedAt: string | null;
  endedAt: string | null;
  terminatingSince: string | null;
  terminationReason: string | null;
}

export interface AnomalyJson {
  position: string;
  eventId: string | null;
  type: string | null;
  /** A reason of SPEC §2 (new ones may appear). */
  reason: string;
}

export interface AnomaliesJson {
  count: number;
  byReason: Partial<Record<string, number>>;
  recent: AnomalyJson[];
}

/** `GET /v1/projection`: SPEC §3. */
export interface ProjectionJson {
  position: string | null;
  pools: Record<string, PoolJson>;
  agents: Record<string, AgentJson>;
  sessions: Record<string, SessionJson>;
  running: string[];
  busy: string[];
  anomalies: AnomaliesJson;
}

/** `GET /v1/agents/{id}`: the agent plus its sessions in view. */
export type AgentDetailJson = AgentJson & { sessions: SessionJson[] };

/** One entry of `GET /v1/agents/{id}/audit` (what `rollcall audit --json` prints). */
export interface AuditEntry {
  position: string;
  at: string;
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  /** `field: before → after`; empty when the event changed nothing. */
  changes: string[];
  anomaly: string | null;
}

/** `GET /v1/agents/{id}/audit`. */
export interface AgentAudit {
  agentId: string;
  entries: AuditEntry[];
  agent: AgentJson | null;
  sessions: SessionJson[];
  /** The plain answer to "why is this agent (not) counted?". */
  explanation: string[];
}

/** `GET /readyz` (200 or 503). */
export interface ReadyJson {
  status: 'ready' | 'catching-up' | 'store-unavailable';
  position: string | null;
  head: string | null;
}

/** One `event: change` of `GET /v1/changes`. */
export interface ChangeJson {
  position: string;
  type: string;
  changed: { pools: string[]; agents: string[]; sessions: string[] };
}
