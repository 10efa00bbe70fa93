import { isLive, type AgentRecord, type SessionRecord } from './lifecycleState.js';
import type { AgentStatusName } from './viewJson.js';

export type { AgentStatusName } from './viewJson.js';

/** What SPEC §3 derives about one agent from its sessions. */
export interface AgentStatus {
  status: AgentStatusName;
  /** Its live session (at most one, rule 11), if any. */
  live: SessionRecord | undefined;
  /** Its live session, else its non-terminal session most recently live, else null. */
  currentSessionId: string | null;
  /** Rule 7: its run in flight has the current generation and runs in a session that is still live. */
  busy: boolean;
}

/**
 * The one place that derives an agent's status, live session and busy flag from the state: the
 * view, the invariants, the audit and (through the view) the reconciler all read it from here.
 */
export const agentStatus = (sessions: ReadonlyMap<string, SessionRecord>, a: AgentRecord): AgentStatus => {
  let live: SessionRecord | undefined;
  for (const id of a.openSessionIds) {
    const s = sessions.get(id);
    if (s !== undefined && isLive(s.state)) live = s;
  }
  const run = a.run;
  const runIn = run === null ? undefined : sessions.get(run.sessionId);
  return {
    status: a.removedAt !== null ? 'removed' : live !== undefined ? 'running' : 'idle',
    live,
    currentSessionId: a.openSessionIds[a.openSessionIds.length - 1] ?? null,
    busy: run !== null && run.generation === a.generation && runIn !== undefined && isLive(runIn.state),
  };
};
