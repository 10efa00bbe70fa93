import { lifecycleView, type ProjectionJson } from './lifecycleView.js';
import { DEFAULT_QUARANTINE_AFTER, DEFAULT_RETENTION_MS, isLive, isTerminal, leaseExpiresAt, type LifecycleState } from './lifecycleState.js';

export interface Violation {
  invariant: string;
  detail: string;
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const push = (m: Map<string, string[]>, k: string, v: string) => {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
};

/**
 * Checks the projection's invariants by recomputing every derived fact the slow way (a scan of all
 * sessions, not the per-agent and per-host indexes the reducers keep) and comparing, and that every index the
 * state keeps (open sessions, the retirement queue, the evicted ids) is the thing it stands for.
 * Returns every violation. `retentionMs` and `quarantineAfter` must be the projection's
 * (`LifecycleProjection.check` passes them).
 */
export const checkInvariants = (state: LifecycleState, options: { retentionMs?: number; quarantineAfter?: number } = {}): Violation[] => {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const quarantineAfter = options.quarantineAfter ?? DEFAULT_QUARANTINE_AFTER;
  const out: Violation[] = [];
  const fail = (invariant: string, detail: string) => out.push({ invariant, detail });
  const view: ProjectionJson = lifecycleView(state);

  const liveByAgent = new Map<string, string[]>();
  const openByAgent = new Map<string, string[]>();
  const queued = new Set<string>();
  for (const r of state.retiring) queued.add(`${r.agent ? 'a' : 's'}:${r.id}`);
  for (let i = 1; i < state.retiring.length; i++) {
    if (state.retiring[(i - 1) >> 1]!.dueMs > state.retiring[i]!.dueMs) fail('retire-heap', `retirement queue out of heap order at ${i}`);
  }
  for (const [id, s] of state.sessions) {
    if (id !== s.sessionId) fail('session-key', `session ${s.sessionId} is kept under ${id}`);
    if (!state.agents.has(s.agentId) && !state.evictedAgents.has(s.agentId)) {
      fail('no-phantoms', `session ${s.sessionId} belongs to unknown agent ${s.agentId}`);
    }
    if (isTerminal(s.state) !== (s.endedAt !== null)) fail('terminal-has-end', `session ${s.sessionId} is ${s.state} with endedAt ${s.endedAt}`);
    if (!isLive(s.state) && s.pid !== null) fail('pid-only-while-live', `session ${s.sessionId} is ${s.state} with pid ${s.pid}`);
    if (!isTerminal(s.state)) push(openByAgent, s.agentId, s.sessionId);
    if (isLive(s.state)) push(liveByAgent, s.agentId, s.sessionId);
    if (isTerminal(s.state) && !queued.has(`s:${s.sessionId}`)) fail('retire-queued', `terminal session ${s.sessionId} is not queued to leave`);
    if (isTerminal(s.state) && state.newestAtMs !== null && Date.parse(s.endedAt!) < state.newestAtMs - retentionMs) {
      fail('retention', `session ${s.sessionId} ended at ${s.endedAt}, past the window, and is still kept`);
    }
    if (state.evictedSessions.has(s.sessionId)) fail('evicted-once', `session ${s.sessionId} is both kept and evicted`);
    // SPEC §7.1: a restart ended every live session of its host it did not adopt (adopted ones took its epoch).
    const host = s.host === null ? undefined : state.hosts.get(s.host);
    if (isLive(s.state) && host !== undefined && s.epoch !== null && s.epoch < host.epoch) {
      fail('epoch-fenced', `session ${s.sessionId} is live on ${host.host} at epoch ${s.epoch}, older than the host's ${host.epoch}`);
    }
    // SPEC §7.2: the clock never passes a live session's lease.
    if (isLive(s.state) && s.leaseExpiresMs !== null && state.newestAtMs !== null && s.leaseExpiresMs < state.newestAtMs) {
      fail('lease-honoured', `session ${s.sessionId} is live with its lease lapsed at ${leaseExpiresAt(s)}`);
    }
    // Explain's `since` (SPEC §7.5): every live session knows the event that made it live, no other session is remembered.
    if (isLive(s.state) !== state.liveSince.has(s.sessionId)) fail('live-since', `session ${s.sessionId} is ${s.state} ${isLive(s.state) ? 'without' : 'with'} a liveSince`);
    if (s.leaseExpiresMs !== null && s.leaseMs === null) fail('lease-length', `session ${s.sessionId} has a lease expiry without a lease length`);
  }

  for (const [id, a] of state.agents) {
    if (id !== a.agentId) fail('agent-key', `agent ${a.agentId} is kept under ${id}`);
    if (state.evictedAgents.has(a.agentId)) fail('evicted-once', `agent ${a.agentId} is both kept and evicted`);
    const open = sorted(openByAgent.get(a.agentId) ?? []);
    if (!same(sorted(a.openSessionIds), open)) {
      fail('open-session-index', `agent ${a.agentId} indexes [${a.openSessionIds}] but its open sessions are [${open}]`);
    }
    if (a.removedAt !== null && !queued.has(`a:${a.agentId}`)) fail('retire-queued', `removed agent ${a.agentId} is not queued to leave`);
    const live = liveByAgent.get(a.agentId) ?? [];
    if (live.length > 1) fail('one-live-session', `agent ${a.agentId} has ${live.length} live sessions: ${live.join(', ')}`);
    if (live.length === 1 && a.openSessionIds.at(-1) !== live[0]) fail('current-session', `agent ${a.agentId}'s live session ${live[0]} is not its current one`);
    const agentView = view.agents[a.agentId]!;
    // Looked up by id: a session kept under another key (session-key) is not found, not a crash.
    const livePid = live.length === 1 ? (state.sessions.get(live[0]!)?.pid ?? null) : null;
    if (agentView.pid !== livePid) fail('agent-pid', `agent ${a.agentId} reports pid ${agentView.pid}, its live session has ${livePid}`);
    if ((agentView.status === 'running') !== (live.length > 0 && a.removedAt === null)) fail('agent-status', `agent ${a.agentId} is ${agentView.status} with ${live.length} live sessions`);
    // SPEC §7.4: quarantined exactly when its window holds quarantineAfter abnormal ends (frozen while quarantined).
    if ((a.quarantine !== null) !== (a.abnormalEnds.length >= quarantineAfter)) {
      fail('quarantine-count', `agent ${a.agentId} is ${a.quarantine === null ? 'not ' : ''}quarantined with ${a.abnormalEnds.length} abnormal ends in its window`);
    }
    if (a.quarantine !== null && !same(a.quarantine.ends, a.abnormalEnds.map((x) => x.position))) {
      fail('quarantine-ends', `agent ${a.agentId}'s quarantine names [${a.quarantine.ends}], its window holds [${a.abnormalEnds.map((x) => x.position)}]`);
    }
    if (a.suspect !== null && live.length === 0) fail('suspect-live', `agent ${a.agentId} is suspect without a live session`);
    if (a.run !== null && !isLive(state.sessions.get(a.run.sessionId)?.state ?? 'terminated')) fail('run-outlives-session', `agent ${a.agentId} has a run in ${a.run.sessionId}, which is not live`);
  }

  const quarantined = sorted([...state.agents.values()].filter((a) => a.quarantine !== null).map((a) => a.agentId));
  // A cross-check of lifecycleView, which lists the same records' ids in the same order: no state
  // can fail it while the view is right, so its mutants are equivalent here.
  // Stryker disable next-line ConditionalExpression,StringLiteral: no state makes the view's quarantined list differ from this one
  if (!same(view.quarantined, quarantined)) fail('quarantined-set', `quarantined is [${view.quarantined}], agents in quarantine are [${quarantined}]`);
  for (const h of Object.values(view.hosts)) {
    const n = [...state.sessions.values()].filter((s) => isLive(s.state) && s.host === h.host).length;
    if (h.liveSessions !== n) fail('host-live-sessions', `host ${h.host} counts ${h.liveSessions} live sessions, expected ${n}`);
  }
  for (const id of state.liveSince.keys()) if (!state.sessions.has(id)) fail('live-since', `liveSince remembers ${id}, which is not in the state`);
  const listed = new Map<string, string[]>();
  for (const s of state.sessions.values()) if (isLive(s.state) && s.host !== null) push(listed, s.host, s.sessionId);
  for (const host of new Set([...listed.keys(), ...state.liveOnHost.keys()])) {
    const want = sorted(listed.get(host) ?? []);
    const have = sorted(state.liveOnHost.get(host) ?? []);
    if (!same(have, want) || (want.length === 0 && state.liveOnHost.has(host))) {
      fail('host-session-index', `host ${host} indexes [${have}] but its live sessions are [${want}]`);
    }
  }
  for (let i = 1; i < state.leases.length; i++) {
    if (state.leases[(i - 1) >> 1]!.dueMs > state.leases[i]!.dueMs) fail('lease-heap', `lease queue out of heap order at ${i}`);
  }

  const running = sorted(liveByAgent.keys());
  if (!same(view.running, running)) fail('running-set', `running is [${view.running}], agents with a live session are [${running}]`);
  for (const id of view.busy) if (!view.running.includes(id)) fail('busy-implies-running', `agent ${id} is busy without a live session`);

  for (const p of Object.values(view.pools)) {
    const expected = sorted(
      new Set(
        [...state.sessions.values()]
          .filter((s) => isLive(s.state) && s.poolId === p.poolId && state.agents.get(s.agentId)?.role !== 'director')
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
