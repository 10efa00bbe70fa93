import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { agentStatus } from '../projections/agentStatus.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { isLive, type LifecycleState, type SessionRecord } from '../projections/lifecycleState.js';
import { occupiedPool } from '../projections/lifecycleView.js';
import type { AgentExplainJson, HolderJson, LiveSince, PoolExplainJson, ReleasedBy } from '../projections/viewJson.js';

// The answers' JSON is part of the wire format, written once beside the view's (the dashboard reads it).
export type { AgentExplainJson, HolderJson, LiveSince, PoolExplainJson, ReleasedBy } from '../projections/viewJson.js';
import { applyItemsInPlace, type ReplaySource } from '../replay/foldEvents.js';
import { isDuplicate, isInvalid } from '../replay/replayItem.js';

/** The reconciler's thresholds the answer assumes (the caller passes the reconciler's config). */
export interface ExplainRules {
  pidCheck: boolean;
  disconnectGraceMs: number | null;
  terminatingTimeoutMs: number | null;
  startingTimeoutMs: number | null;
}

export interface ExplainOptions {
  rules: ExplainRules;
  /** The answer as of this position (inclusive) … */
  until?: bigint | null;
  /** … or as of this event time (inclusive). */
  asOf?: string | null;
}

interface Folded {
  state: LifecycleState;
  liveSince: Map<string, LiveSince>;
}

/**
 * Folds the log up to `until`/`asOf`, remembering for each live session the event that made it
 * live (the state keeps when it started, not which event made it live again).
 */
const foldWithLiveSince = async (projection: LifecycleProjection, source: ReplaySource, options: ExplainOptions): Promise<Folded> => {
  const state = projection.initialState();
  const liveSince = new Map<string, LiveSince>();
  const until = options.until ?? null;
  const asOfMs = options.asOf == null ? null : Date.parse(options.asOf);
  outer: for await (const chunk of source) {
    for (const item of chunk) {
      if (isInvalid(item)) throw item.invalid;
      const event: RecordedEvent = isDuplicate(item) ? item.event : item;
      if (until !== null && event.position > until) break outer;
      if (asOfMs !== null && Date.parse(event.metadata.at) > asOfMs) break outer;
      const sessionId = (event.data as { sessionId?: unknown }).sessionId;
      const named = typeof sessionId === 'string' && !isDuplicate(item) ? sessionId : null;
      const wasLive = named !== null && isLive(state.sessions.get(named)?.state ?? 'terminated');
      applyItemsInPlace(projection, state, [item]);
      if (named !== null && !wasLive && isLive(state.sessions.get(named)?.state ?? 'terminated')) {
        liveSince.set(named, { position: event.position.toString(), type: event.type, at: event.metadata.at });
      }
    }
  }
  for (const id of liveSince.keys()) if (!isLive(state.sessions.get(id)?.state ?? 'terminated')) liveSince.delete(id);
  return { state, liveSince };
};

const plus = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();

/** The rules that would free this session's slot, earliest first (those without a time after). */
export const releasedBy = (state: LifecycleState, s: SessionRecord, rules: ExplainRules): ReleasedBy[] => {
  const agent = state.agents.get(s.agentId);
  const timed: ReleasedBy[] = [];
  const untimed: ReleasedBy[] = [];
  if (s.leaseExpiresAt !== null) timed.push({ rule: 'lease', at: s.leaseExpiresAt });
  if (s.state === 'starting' && rules.startingTimeoutMs !== null && s.startedAt !== null) {
    timed.push({ rule: 'start-timeout', at: plus(s.startedAt, rules.startingTimeoutMs) });
  }
  const connection = agent?.connection ?? null;
  const disconnected = connection !== null && connection.state === 'disconnected';
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

const holderOf = (folded: Folded, s: SessionRecord, rules: ExplainRules): HolderJson => {
  const a = folded.state.agents.get(s.agentId);
  return {
    agentId: s.agentId,
    sessionId: s.sessionId,
    state: s.state,
    since: folded.liveSince.get(s.sessionId) ?? null,
    lastSeenAt: a?.lastSeenAt ?? null,
    host: s.host,
    epoch: s.epoch,
    pid: s.pid,
    leaseExpiresAt: s.leaseExpiresAt,
    suspect: a?.suspect === undefined || a.suspect === null ? null : { ...a.suspect },
    quarantine: a?.quarantine === undefined || a.quarantine === null ? null : { ...a.quarantine, ends: [...a.quarantine.ends] },
    releasedBy: releasedBy(folded.state, s, rules),
  };
};

const asOfOf = (state: LifecycleState) => ({ position: state.position === null ? null : state.position.toString(), asOf: state.newestAt });

/** Why a pool is as full as it is: every session holding one of its slots, and what would free each. */
export const explainPool = async (projection: LifecycleProjection, source: ReplaySource, poolId: string, options: ExplainOptions): Promise<PoolExplainJson> => {
  const folded = await foldWithLiveSince(projection, source, options);
  const { state } = folded;
  const pool = state.pools.get(poolId);
  const holders: HolderJson[] = [];
  for (const a of state.agents.values()) {
    const live = agentStatus(state.sessions, a).live;
    if (live !== undefined && occupiedPool(a, live) === poolId) holders.push(holderOf(folded, live, options.rules));
  }
  holders.sort((x, y) => (x.agentId < y.agentId ? -1 : x.agentId > y.agentId ? 1 : 0));
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

/** Why an agent is (not) counted, in the same form. */
export const explainAgent = async (projection: LifecycleProjection, source: ReplaySource, agentId: string, options: ExplainOptions): Promise<AgentExplainJson> => {
  const folded = await foldWithLiveSince(projection, source, options);
  const { state } = folded;
  const a = state.agents.get(agentId);
  if (a === undefined) {
    return { agentId, ...asOfOf(state), exists: false, status: null, counted: false, poolId: null, holder: null, explanation: ['the agent is not in the projection (never registered, or removed and past the retention window)'] };
  }
  const { status, live } = agentStatus(state.sessions, a);
  const poolId = occupiedPool(a, live);
  const holder = live === undefined ? null : holderOf(folded, live, options.rules);
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
