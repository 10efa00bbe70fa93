import { lifecycleView, type ProjectionJson } from './lifecycleView.js';
import { DEFAULT_RETENTION_MS, isLive, isTerminal, type LifecycleState } from './lifecycleState.js';

export interface Violation {
  invariant: string;
  detail: string;
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Checks the projection's invariants by recomputing every derived fact the slow way (a scan of all
 * sessions, not the per-agent index the reducers keep) and comparing. Returns every violation.
 */
export const checkInvariants = (state: LifecycleState, options: { retentionMs?: number } = {}): Violation[] => {
  const out: Violation[] = [];
  const fail = (invariant: string, detail: string) => out.push({ invariant, detail });
  const view: ProjectionJson = lifecycleView(state, { retentionMs: options.retentionMs ?? DEFAULT_RETENTION_MS });

  const liveByAgent = new Map<string, string[]>();
  const openByAgent = new Map<string, string[]>();
  for (const s of Object.values(state.sessions)) {
    if (state.agents[s.agentId] === undefined && !state.removedAgents[s.agentId]) {
      fail('no-phantoms', `session ${s.sessionId} belongs to unknown agent ${s.agentId}`);
    }
    if (isTerminal(s.state) !== (s.endedAt !== null)) fail('terminal-has-end', `session ${s.sessionId} is ${s.state} with endedAt ${s.endedAt}`);
    if (!isLive(s.state) && s.pid !== null) fail('pid-only-while-live', `session ${s.sessionId} is ${s.state} with pid ${s.pid}`);
    if (!isTerminal(s.state)) (openByAgent.get(s.agentId) ?? openByAgent.set(s.agentId, []).get(s.agentId)!).push(s.sessionId);
    if (isLive(s.state)) (liveByAgent.get(s.agentId) ?? liveByAgent.set(s.agentId, []).get(s.agentId)!).push(s.sessionId);
    if (state.endedSessions[s.sessionId] !== undefined) fail('retired-once', `session ${s.sessionId} is both in view and retired`);
  }

  for (const a of Object.values(state.agents)) {
    const open = sorted(openByAgent.get(a.agentId) ?? []);
    if (!same(sorted(a.openSessionIds), open)) {
      fail('open-session-index', `agent ${a.agentId} indexes [${a.openSessionIds}] but its open sessions are [${open}]`);
    }
    const live = liveByAgent.get(a.agentId) ?? [];
    if (live.length > 1) fail('one-live-session', `agent ${a.agentId} has ${live.length} live sessions: ${live.join(', ')}`);
    const agentView = view.agents[a.agentId];
    if (agentView !== undefined) {
      const livePid = live.length === 1 ? state.sessions[live[0]!]!.pid : null;
      if (agentView.pid !== livePid) fail('agent-pid', `agent ${a.agentId} reports pid ${agentView.pid}, its live session has ${livePid}`);
      if ((agentView.status === 'running') !== (live.length > 0)) fail('agent-status', `agent ${a.agentId} is ${agentView.status} with ${live.length} live sessions`);
    }
  }

  const running = sorted([...liveByAgent.keys()].filter((id) => view.agents[id] !== undefined));
  if (!same(view.running, running)) fail('running-set', `running is [${view.running}], agents with a live session are [${running}]`);
  for (const id of view.busy) if (!view.running.includes(id)) fail('busy-implies-running', `agent ${id} is busy without a live session`);

  for (const p of Object.values(view.pools)) {
    const expected = sorted(
      new Set(
        Object.values(state.sessions)
          .filter((s) => isLive(s.state) && s.poolId === p.poolId && state.agents[s.agentId]?.role !== 'director')
          .map((s) => s.agentId),
      ),
    );
    const st = p.status;
    if (!same(st.activeAgentIds, expected)) fail('pool-derived', `pool ${p.poolId} lists [${st.activeAgentIds}], live sessions say [${expected}]`);
    if (st.activeCount !== expected.length) fail('pool-count', `pool ${p.poolId} counts ${st.activeCount}, expected ${expected.length}`);
    const free = p.enabled ? Math.max(0, p.maxSize - expected.length) : 0;
    if (st.availableSlots !== free) fail('pool-slots', `pool ${p.poolId} has ${st.availableSlots} free slots, expected ${free}`);
    if (st.overCapacityBy !== Math.max(0, expected.length - p.maxSize)) fail('pool-over', `pool ${p.poolId} overCapacityBy ${st.overCapacityBy}`);
    const byType = Object.values(st.activeByType).reduce((n, c) => n + c, 0);
    if (byType !== expected.length) fail('pool-by-type', `pool ${p.poolId} activeByType sums to ${byType}, expected ${expected.length}`);
  }

  const a = state.anomalies;
  const sum = Object.values(a.byReason).reduce((n, c) => n + (c ?? 0), 0);
  if (sum !== a.count) fail('anomaly-count', `anomalies.count ${a.count} but byReason sums to ${sum}`);
  if (a.recent.length > 100) fail('anomaly-recent', `anomalies.recent holds ${a.recent.length} entries`);
  return out;
};
