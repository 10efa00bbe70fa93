import type { Draft } from 'immer';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { checkInvariants, type Violation } from '../projections/checkInvariants.js';
import type { Projection } from '../projections/defineProjection.js';
import { isTerminal, type LifecycleState } from '../projections/lifecycleState.js';
import { foldEvents, type FoldOptions, type ReplaySource } from './foldEvents.js';

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
  projection: Projection<LifecycleState, RecordedEvent> & { retentionMs: number },
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
    const s = draft.sessions[sessionId];
    if (s === undefined) return;
    if (terminal.has(sessionId) && !isTerminal(s.state)) {
      report({ invariant: 'terminal-is-final', detail: `session ${sessionId} became ${s.state} again at position ${position}` });
    }
    if (isTerminal(s.state)) terminal.add(sessionId);
  };

  const watched: Projection<LifecycleState, RecordedEvent> = {
    ...projection,
    apply(draft, e) {
      projection.apply(draft, e);
      const data = e.data as { sessionId?: string; agentId?: string };
      if (data.sessionId !== undefined) revived(draft, data.sessionId, e.position);
      if (data.agentId !== undefined) {
        for (const id of draft.agents[data.agentId]?.openSessionIds ?? []) revived(draft, id, e.position);
      }
    },
  };

  const { state, processed } = await foldEvents(watched, source, {
    ...options,
    onBatch(s) {
      for (const session of Object.values(s.sessions)) if (isTerminal(session.state)) terminal.add(session.sessionId);
      for (const v of checkInvariants(s, { retentionMs: projection.retentionMs })) report(v);
    },
  });
  return { state, processed, violations };
};
