import type { Draft } from 'immer';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { foldEvents, type FoldOptions, type ReplaySource } from '../replay/foldEvents.js';
import type { Violation } from '../projections/checkInvariants.js';
import type { Projection } from '../projections/defineProjection.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { isTerminal, type LifecycleState } from '../projections/lifecycleState.js';

export interface CheckResult {
  state: LifecycleState;
  processed: number;
  violations: Violation[];
}

/**
 * Replays a log while watching the rules that span prefixes: the invariants hold after every batch,
 * and a session once seen terminal is never live or suspended again in any later prefix (rule 2).
 */
export const checkLog = async (
  projection: LifecycleProjection,
  source: ReplaySource,
  options: Omit<FoldOptions<LifecycleState>, 'onBatch'> = {},
): Promise<CheckResult> => {
  const violations: Violation[] = [];
  const terminal = new Set<string>();
  const seenViolation = new Set<string>();
  const report = (v: Violation) => {
    const key = `${v.invariant}\n${v.detail}`;
    if (!seenViolation.has(key)) violations.push(v);
    seenViolation.add(key);
  };

  const revived = (draft: Draft<LifecycleState>, sessionId: string, position: bigint) => {
    const s = draft.sessions.get(sessionId);
    if (s === undefined) {
      if (terminal.has(sessionId) && !draft.evictedSessions.has(sessionId)) {
        report({ invariant: 'terminal-is-final', detail: `session ${sessionId} was terminal and is neither kept nor remembered at position ${position}` });
      }
      return;
    }
    if (terminal.has(sessionId) && !isTerminal(s.state)) {
      report({ invariant: 'terminal-is-final', detail: `session ${sessionId} became ${s.state} again at position ${position}` });
    }
    if (isTerminal(s.state)) terminal.add(sessionId);
  };

  const watched: Projection<LifecycleState, RecordedEvent> = {
    ...projection,
    apply(draft, e) {
      const data = e.data as { sessionId?: string; agentId?: string };
      // The agent's open sessions before the event too: one it ends without naming it (AgentStopped)
      // leaves the open list, and is learnt terminal here, not only at the end of the batch.
      const openBefore = data.agentId === undefined ? [] : [...(draft.agents.get(data.agentId)?.openSessionIds ?? [])];
      projection.apply(draft, e);
      if (data.sessionId !== undefined) revived(draft, data.sessionId, e.position);
      for (const id of openBefore) revived(draft, id, e.position);
      if (data.agentId !== undefined) {
        for (const id of draft.agents.get(data.agentId)?.openSessionIds ?? []) revived(draft, id, e.position);
      }
    },
  };

  const { state, processed } = await foldEvents(watched, source, {
    ...options,
    onBatch(s) {
      for (const session of s.sessions.values()) if (isTerminal(session.state)) terminal.add(session.sessionId);
      for (const v of projection.check(s)) report(v);
    },
  });
  return { state, processed, violations };
};
