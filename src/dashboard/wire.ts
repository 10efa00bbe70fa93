// The JSON the server sends (SPEC §3 and §6). Types only: the dashboard talks to the server through
// the public HTTP API like any client, and these imports vanish from the bundle.
import type { AgentJson, PoolJson, ProjectionJson, SessionJson } from '../projections/lifecycleView.js';
import type { AgentAudit, AuditEntry } from '../projections/auditAgent.js';

export type { AgentJson, PoolJson, ProjectionJson, SessionJson, AgentAudit, AuditEntry };

export type AnomaliesJson = ProjectionJson['anomalies'];

/** `GET /v1/agents/{id}`: the agent plus its sessions in view. */
export type AgentDetailJson = AgentJson & { sessions: SessionJson[] };

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
