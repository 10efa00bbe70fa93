import { agentStatus } from './agentStatus.js';
import { leaseExpiresAt, type LifecycleState, type SessionRecord } from './lifecycleState.js';
import { occupiedPool } from './lifecycleView.js';
import type { AgentExplainJson, HolderJson, PoolExplainJson, ReleasedBy } from './viewJson.js';

// Explain (SPEC §7.5) as a pure function of a state, like the view: the state keeps each live
// session's liveSince, so an answer needs nothing but the state it is asked of (the live one, or
// one folded to a past moment: by `replay`'s folds on the CLI, or on the time-travel worker).

/** The reconciler's thresholds the answer assumes (the caller passes the reconciler's config). */
export interface ExplainRules {
  pidCheck: boolean;
  disconnectGraceMs: number | null;
  terminatingTimeoutMs: number | null;
  startingTimeoutMs: number | null;
}

/** What an explain asks: a pool's holders or one agent, under the reconciler's thresholds. */
export interface ExplainQuestion {
  kind: 'pool' | 'agent';
  id: string;
  rules: ExplainRules;
}

const plus = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();

/** The rules that would free this session's slot, earliest first (those without a time after). */
export const releasedBy = (state: LifecycleState, s: SessionRecord, rules: ExplainRules): ReleasedBy[] => {
  const agent = state.agents.get(s.agentId);
  const timed: ReleasedBy[] = [];
  const untimed: ReleasedBy[] = [];
  const lease = leaseExpiresAt(s);
  if (lease !== null) timed.push({ rule: 'lease', at: lease });
  if (s.state === 'starting' && rules.startingTimeoutMs !== null && s.startedAt !== null) {
    timed.push({ rule: 'start-timeout', at: plus(s.startedAt, rules.startingTimeoutMs) });
  }
  const connection = agent?.connection ?? null;
  const disconnected = connection !== null && connection.state === 'disconnected';
  // Stryker disable next-line ConditionalExpression: of a live session only a terminating one has a terminatingSince (set when it turns terminating, never cleared while live), so the state test adds nothing the third test does not
  if (s.state === 'terminating' && rules.terminatingTimeoutMs !== null && s.terminatingSince !== null) {
    const at = plus(s.terminatingSince, rules.terminatingTimeoutMs);
    timed.push(disconnected ? { rule: 'terminating-timeout', at } : { rule: 'terminating-timeout', at, requires: 'agent disconnected' });
  }
  if ((s.state === 'starting' || s.state === 'running') && disconnected && rules.disconnectGraceMs !== null) {
    timed.push({ rule: 'disconnect-grace', at: plus(connection.since, rules.disconnectGraceMs) });
  }
  if (rules.pidCheck && s.pid !== null && s.host !== null) untimed.push({ rule: 'pid-check', detail: `pid ${s.pid} on ${s.host}`, requires: 'the process exits' });
  if (s.host !== null && state.hosts.has(s.host)) {
    untimed.push({ rule: 'orchestrator-restart', detail: `a restart of ${s.host} that does not adopt it`, requires: 'the orchestrator restarts' });
  }
  timed.sort((a, b) => Date.parse(a.at!) - Date.parse(b.at!));
  const all = [...timed, ...untimed];
  return all.length > 0 ? all : [{ rule: 'own-end', detail: 'healthy: only its own end frees it' }];
};

const holderOf = (state: LifecycleState, s: SessionRecord, rules: ExplainRules): HolderJson => {
  const a = state.agents.get(s.agentId);
  return {
    agentId: s.agentId,
    sessionId: s.sessionId,
    state: s.state,
    since: state.liveSince.get(s.sessionId) ?? null,
    lastSeenAt: a?.lastSeenAt ?? null,
    host: s.host,
    epoch: s.epoch,
    pid: s.pid,
    leaseExpiresAt: leaseExpiresAt(s),
    suspect: a?.suspect === undefined || a.suspect === null ? null : { ...a.suspect },
    quarantine: a?.quarantine === undefined || a.quarantine === null ? null : { ...a.quarantine, ends: [...a.quarantine.ends] },
    releasedBy: releasedBy(state, s, rules),
  };
};

const asOfOf = (state: LifecycleState) => ({ position: state.position === null ? null : state.position.toString(), asOf: state.newestAt });

/** Why a pool is as full as it is (in `state`): every session holding one of its slots, and what would free each. */
export const explainPoolIn = (state: LifecycleState, poolId: string, rules: ExplainRules): PoolExplainJson => {
  const pool = state.pools.get(poolId);
  const holders: HolderJson[] = [];
  for (const a of state.agents.values()) {
    const live = agentStatus(state.sessions, a).live;
    if (live !== undefined && occupiedPool(a, live) === poolId) holders.push(holderOf(state, live, rules));
  }
  holders.sort((x, y) =>
    x.agentId < y.agentId
      ? -1
      : // Stryker disable next-line ConditionalExpression,EqualityOperator: holders are distinct agents (one live session each), so here x > y always, and V8's sort tells 1 from 0 only by `< 0`: 1, 0, >= or <= order alike
        x.agentId > y.agentId
        ? 1
        : 0,
  );
  return {
    poolId,
    ...asOfOf(state),
    exists: pool !== undefined,
    used: holders.length,
    max: pool?.maxSize ?? null,
    enabled: pool?.enabled ?? null,
    holders,
  };
};

/** Why an agent is (not) counted (in `state`), in the same form. */
export const explainAgentIn = (state: LifecycleState, agentId: string, rules: ExplainRules): AgentExplainJson => {
  const a = state.agents.get(agentId);
  if (a === undefined) {
    return { agentId, ...asOfOf(state), exists: false, status: null, counted: false, poolId: null, holder: null, explanation: ['the agent is not in the projection (never registered, or removed and past the retention window)'] };
  }
  const { status, live } = agentStatus(state.sessions, a);
  const poolId = occupiedPool(a, live);
  const holder = live === undefined ? null : holderOf(state, live, rules);
  const explanation: string[] = [];
  if (live === undefined) {
    explanation.push(`not counted: ${status}, no live session${a.lastExitReason !== null ? ` (last exit: ${a.lastExitReason} at ${a.stoppedAt})` : ''}`);
  } else {
    explanation.push(
      poolId !== null
        ? `counted in pool ${poolId}: session ${live.sessionId} is ${live.state}`
        : `running (session ${live.sessionId} is ${live.state}) but takes no slot: ${a.role === 'director' ? 'directors take none' : 'its session names no pool'}`,
    );
    for (const r of holder!.releasedBy) explanation.push(`freed by ${r.rule}${r.at !== undefined ? ` at ${r.at}` : ''}${r.requires !== undefined ? ` (requires ${r.requires})` : ''}${r.detail !== undefined ? `: ${r.detail}` : ''}`);
  }
  if (a.suspect !== null) explanation.push(`suspect since ${a.suspect.since}: ${a.suspect.reason}`);
  if (a.quarantine !== null) explanation.push(`quarantined since ${a.quarantine.since}: ${a.quarantine.reason} (ends at positions ${a.quarantine.ends.join(', ')})`);
  return { agentId, ...asOfOf(state), exists: true, status, counted: poolId !== null, poolId, holder, explanation };
};

/** The answer to `q` in `state`. */
export const explainIn = (state: LifecycleState, q: ExplainQuestion): PoolExplainJson | AgentExplainJson =>
  q.kind === 'pool' ? explainPoolIn(state, q.id, q.rules) : explainAgentIn(state, q.id, q.rules);
