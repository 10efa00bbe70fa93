import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { applyItems, applyItemsInPlace, type ReplaySource } from '../replay/foldEvents.js';
import { isDuplicate, isInvalid, type ReplayItem } from '../replay/replayItem.js';
import { agentStatus } from '../projections/agentStatus.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { isLive, type LifecycleState } from '../projections/lifecycleState.js';
import type { ProjectionJson } from '../projections/lifecycleView.js';
import type { AgentAuditJson as AgentAudit, AgentJson, AuditEntryJson as AuditEntry, SessionJson } from '../projections/viewJson.js';

export type { AgentAuditJson as AgentAudit, AuditEntryJson as AuditEntry } from '../projections/viewJson.js';

/** Field → shown value; a Map because session ids from input are part of the keys. */
type Flat = Map<string, string>;

const show = (v: unknown): string => (v === null || v === undefined ? 'null' : typeof v === 'string' ? v : JSON.stringify(v));

/** The facts about one agent and the named sessions that an audit line can report changes of. */
const facts = (state: LifecycleState, agentId: string, sessionIds: Iterable<string>): Flat => {
  const out: Flat = new Map();
  const a = state.agents.get(agentId);
  if (a !== undefined) {
    const derived = agentStatus(state.sessions, a);
    out.set('status', derived.status);
    out.set('currentSessionId', show(derived.currentSessionId));
    out.set('pid', show(derived.live?.pid ?? null));
    out.set('host', show(derived.live?.host ?? null));
    out.set('generation', String(a.generation));
    out.set('busy', String(derived.busy));
    out.set('connection', a.connection === null ? 'null' : `${a.connection.connectionId} ${a.connection.state}`);
    out.set('lastExitReason', show(a.lastExitReason));
    out.set('lastSeenAt', show(a.lastSeenAt));
  }
  for (const id of sessionIds) {
    const s = state.sessions.get(id);
    if (s === undefined || s.agentId !== agentId) continue;
    out.set(`${id}.state`, s.state);
    out.set(`${id}.pid`, show(s.pid));
    out.set(`${id}.poolId`, show(s.poolId));
    out.set(`${id}.terminationReason`, show(s.terminationReason));
  }
  return out;
};

const diff = (before: Flat, after: Flat): string[] => {
  const keys = new Set([...before.keys(), ...after.keys()]);
  const out: string[] = [];
  for (const k of keys) {
    const b = before.get(k) ?? '(none)';
    const a = after.get(k) ?? '(none)';
    // A field appearing empty (a new agent's null pid) is not news.
    if (b !== a && !(b === '(none)' && a === 'null')) out.push(`${k}: ${b} → ${a}`);
  }
  return out;
};

/**
 * An agent's lifecycle timeline: every event that names it, what each one changed, and the
 * anomalies. Other events are folded in batches as usual (at most a chunk of the source at a
 * time); the agent's own are applied one by one.
 */
export const auditAgent = async (projection: LifecycleProjection, source: ReplaySource, agentId: string): Promise<AgentAudit> => {
  let state = projection.initialState();
  const entries: AuditEntry[] = [];
  let pending: ReplayItem[] = [];
  // Events about other agents are applied in place (the audit owns its state); the agent's own go
  // through immer so that the state before each of them stays intact for the diff.
  const flush = () => {
    if (pending.length) applyItemsInPlace(projection, state, pending);
    pending = [];
  };
  for await (const chunk of source) {
    for (const item of chunk) {
      if (isInvalid(item)) throw item.invalid;
      const event: RecordedEvent = isDuplicate(item) ? item.event : item;
      const data = event.data as Record<string, unknown>;
      if (data['agentId'] !== agentId) {
        pending.push(item);
        continue;
      }
      flush();
      const named = typeof data['sessionId'] === 'string' ? [data['sessionId']] : [];
      const ids = (s: LifecycleState) => [...named, ...(s.agents.get(agentId)?.openSessionIds ?? [])];
      const before = state;
      const anomaliesBefore = before.anomalies.count;
      state = applyItems(projection, state, [item]);
      const sessionIds = new Set([...ids(before), ...ids(state)]);
      const anomaly = state.anomalies.count > anomaliesBefore ? state.anomalies.recent[state.anomalies.recent.length - 1]!.reason : null;
      entries.push({
        position: event.position.toString(),
        at: event.metadata.at,
        eventId: event.id,
        type: event.type,
        data,
        changes: diff(facts(before, agentId, sessionIds), facts(state, agentId, sessionIds)),
        anomaly,
      });
    }
    // Folded chunk by chunk (the source paces its chunks on the serving thread's lane): an agent
    // that falls silent must not leave the rest of the log to one synchronous fold at the end.
    flush();
  }
  flush();
  const view = projection.view(state);
  const agent = view.agents[agentId] ?? null;
  const sessions = Object.values(view.sessions).filter((s) => s.agentId === agentId);
  return { agentId, entries, agent, sessions, explanation: explain(view, agent, sessions, entries) };
};

const explain = (view: ProjectionJson, agent: AgentJson | null, sessions: SessionJson[], entries: AuditEntry[]): string[] => {
  if (agent === null) {
    return entries.length === 0 ? ['no event in the log names this agent'] : ['the agent is not in the projection (never registered, or removed and past the retention window)'];
  }
  if (agent.status !== 'running') {
    return [`not counted: ${agent.status}, no live session${agent.lastExitReason ? ` (last exit: ${agent.lastExitReason} at ${agent.stoppedAt})` : ''}`];
  }
  const live = sessions.find((s) => isLive(s.state))!;
  const lastForSession = [...entries].reverse().find((e) => e.data['sessionId'] === live.sessionId && e.anomaly === null);
  const pool = live.poolId === null ? undefined : view.pools[live.poolId];
  const lines = [
    `counted as running because session ${live.sessionId} is ${live.state}` +
      (live.state === 'terminating' ? ` (termination requested at ${live.terminatingSince}, no end event since)` : '') +
      (live.pid !== null ? `, pid ${live.pid}` : '') +
      (live.host !== null ? ` on ${live.host}` : ''),
  ];
  if (pool) lines.push(`it holds a slot in pool ${pool.poolId} (${pool.status.activeCount}/${pool.maxSize} used)`);
  else if (live.poolId !== null) lines.push(`its pool ${live.poolId} is not in the projection (deleted or never created)`);
  if (lastForSession) lines.push(`last event for that session: ${lastForSession.type} at position ${lastForSession.position} (${lastForSession.at})`);
  lines.push('if the process is gone, `rollcall reconcile` appends the event that ends it');
  return lines;
};
