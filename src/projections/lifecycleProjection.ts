import type { Draft } from 'immer';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { parseIsoMs } from '../events/parseIsoMs.js';
import { defineProjection, type InvalidEventInfo, type Projection } from './defineProjection.js';
import {
  DEFAULT_RETENTION_MS,
  initialLifecycleState,
  isLive,
  isTerminal,
  type AgentRecord,
  type AnomalyReason,
  type LifecycleState,
  type SessionRecord,
  type SessionStateName,
} from './lifecycleState.js';

type S = Draft<LifecycleState>;
type Agent = Draft<AgentRecord>;
type Session = Draft<SessionRecord>;
type E = RecordedEvent;
type EventOf<T extends E['type']> = Extract<E, { type: T }>;

export interface LifecycleOptions {
  /** How long a terminal session (or removed agent) stays in the view after it ended. Default 24 h. */
  retentionMs?: number;
}

const RECENT_ANOMALIES = 100;
const BUCKET_MS = 60_000;

const bucketOf = (ms: number): number => Math.floor(ms / BUCKET_MS);

const recordAnomaly = (draft: S, position: string, eventId: string | null, type: string | null, reason: AnomalyReason) => {
  const a = draft.anomalies;
  a.count++;
  a.byReason[reason] = (a.byReason[reason] ?? 0) + 1;
  a.recent.push({ position, eventId, type, reason });
  if (a.recent.length > RECENT_ANOMALIES) a.recent.shift();
};

const anomaly = (draft: S, e: E, reason: AnomalyReason): void =>
  recordAnomaly(draft, e.position.toString(), e.id, e.type, reason);

// Same-length UTC ISO strings order like their instants; anything else is compared as parsed times.
const laterOf = (a: string | null, b: string): string => {
  if (a === null) return b;
  if (a.length === b.length && a.endsWith('Z') && b.endsWith('Z')) return b > a ? b : a;
  return Date.parse(b) > Date.parse(a) ? b : a;
};

/** Moves the clock to the newest `at` seen and evicts whatever the retention window has passed. */
const advanceClock = (draft: S, at: string, atMs: number, retentionMs: number) => {
  if (draft.newestAtMs !== null && atMs <= draft.newestAtMs) return;
  draft.newestAt = at;
  draft.newestAtMs = atMs;
  // Everything in a bucket below `cutoff` ended more than the retention window before `atMs`.
  const cutoff = bucketOf(atMs - retentionMs);
  if (cutoff <= draft.evictedBelow) return;
  draft.evictedBelow = cutoff;
  // Integer-like keys iterate in ascending order, so the walk stops at the first young bucket.
  // Buckets are inserted roughly in time order; a late event's older bucket is swept just the same.
  for (const key of draft.seenIds.keys()) if (key < cutoff) draft.seenIds.delete(key);
  for (const key of Object.keys(draft.retiring)) {
    if (Number(key) >= cutoff) break;
    for (const entry of draft.retiring[key]!) retire(draft, entry);
    delete draft.retiring[key];
  }
};

const retire = (draft: S, entry: string) => {
  const id = entry.slice(2);
  if (entry.startsWith('s:')) {
    const s = draft.sessions[id];
    if (s === undefined || !isTerminal(s.state)) return;
    draft.endedSessions[id] = s.agentId;
    delete draft.sessions[id];
  } else {
    const a = draft.agents[id];
    if (a === undefined || a.removedAt === null) return;
    draft.removedAgents[id] = true;
    delete draft.agents[id];
  }
};

const scheduleRetirement = (draft: S, entry: string, atMs: number) => {
  const key = String(Math.max(bucketOf(atMs), draft.evictedBelow));
  (draft.retiring[key] ??= []).push(entry);
};

/** Marks the id as seen; false when it already was (a redelivery of the same event). */
const firstDelivery = (draft: S, id: string, atMs: number): boolean => {
  const bucket = bucketOf(atMs);
  // Below the eviction horizon the id can no longer be checked; the transition rules still hold.
  if (bucket < draft.evictedBelow) return true;
  let ids = draft.seenIds.get(bucket);
  if (ids === undefined) draft.seenIds.set(bucket, (ids = new Set()));
  if (ids.has(id)) return false;
  ids.add(id);
  return true;
};

const hasLiveSession = (draft: S, agent: Agent): boolean => {
  for (const id of agent.openSessionIds) if (isLive(draft.sessions[id]!.state)) return true;
  return false;
};

/** Resolves the agent an event names, or records why it cannot (rule 6). */
const agentFor = (draft: S, e: E, agentId: string): Agent | undefined => {
  const agent = draft.agents[agentId];
  if (agent !== undefined && agent.removedAt === null) return agent;
  anomaly(draft, e, agent !== undefined || draft.removedAgents[agentId] ? 'removed-agent' : 'unknown-agent');
  return undefined;
};

type Lookup = { kind: 'session'; session: Session } | { kind: 'retired' } | { kind: 'none' };

/** Finds a session, enforcing that it belongs to the agent the event names (rule 3). */
const lookupSession = (draft: S, e: E, agentId: string, sessionId: string): Lookup | undefined => {
  const session = draft.sessions[sessionId];
  const owner = session?.agentId ?? draft.endedSessions[sessionId];
  if (owner !== undefined && owner !== agentId) {
    anomaly(draft, e, 'session-agent-mismatch');
    return undefined;
  }
  if (session !== undefined) return { kind: 'session', session };
  return owner !== undefined ? { kind: 'retired' } : { kind: 'none' };
};

/** A session that must exist already: unknown or retired sessions are anomalies. */
const existingSession = (draft: S, e: E, agentId: string, sessionId: string): Session | undefined => {
  const found = lookupSession(draft, e, agentId, sessionId);
  if (found === undefined) return undefined;
  if (found.kind === 'session') return found.session;
  anomaly(draft, e, found.kind === 'retired' ? 'invalid-transition' : 'unknown-session');
  return undefined;
};

const removeOpen = (agent: Agent, sessionId: string) => {
  const i = agent.openSessionIds.indexOf(sessionId);
  if (i >= 0) agent.openSessionIds.splice(i, 1);
};

/** A session left the live states: its process is gone, so is any run in flight in it (rule 7). */
const leftLive = (agent: Agent, session: Session) => {
  session.pid = null;
  if (agent.run !== null && agent.run.sessionId === session.sessionId) agent.run = null;
};

const finish = (
  draft: S,
  agent: Agent,
  session: Session,
  state: 'terminated' | 'failed',
  reason: string,
  at: string,
  atMs: number,
) => {
  leftLive(agent, session);
  session.state = state;
  session.endedAt = at;
  session.terminationReason = reason;
  removeOpen(agent, session.sessionId);
  scheduleRetirement(draft, `s:${session.sessionId}`, atMs);
};

const suspend = (agent: Agent, session: Session) => {
  leftLive(agent, session);
  session.state = 'suspended';
};

/** Rule 11: the session becomes the agent's one live session; any other live one is superseded. */
const becomeLive = (draft: S, agent: Agent, session: Session, state: SessionStateName, at: string, atMs: number) => {
  for (const id of [...agent.openSessionIds]) {
    if (id === session.sessionId) continue;
    const other = draft.sessions[id]!;
    if (isLive(other.state)) finish(draft, agent, other, 'terminated', 'superseded', at, atMs);
  }
  session.state = state;
  removeOpen(agent, session.sessionId);
  agent.openSessionIds.push(session.sessionId);
};

const newSession = (draft: S, agentId: string, sessionId: string, poolId: string | undefined, at: string): Session => {
  const session: SessionRecord = {
    sessionId,
    agentId,
    poolId: poolId ?? null,
    state: 'starting',
    pid: null,
    startedAt: at,
    endedAt: null,
    terminatingSince: null,
    terminationReason: null,
  };
  draft.sessions[sessionId] = session;
  return draft.sessions[sessionId]!;
};

const seen = (agent: Agent, at: string) => {
  agent.lastSeenAt = laterOf(agent.lastSeenAt, at);
};

/** Raises the agent's generation; false (and an anomaly) when the event's generation is stale (rule 7). */
const fenceGeneration = (draft: S, e: E, agent: Agent, generation: number | undefined): boolean => {
  if (generation === undefined) return true;
  if (generation < agent.generation) {
    anomaly(draft, e, 'stale-generation');
    return false;
  }
  agent.generation = generation;
  return true;
};

const reducers = (retentionMs: number) => {
  const onSessionStarting = (draft: S, e: EventOf<'SessionStarting'>, agent: Agent, at: string, atMs: number) => {
    const found = lookupSession(draft, e, agent.agentId, e.data.sessionId);
    if (found === undefined) return;
    if (found.kind !== 'none') return anomaly(draft, e, 'invalid-transition');
    const session = newSession(draft, agent.agentId, e.data.sessionId, e.data.poolId, at);
    becomeLive(draft, agent, session, 'starting', at, atMs);
  };

  const onAgentSpawned = (draft: S, e: EventOf<'AgentSpawned'>, agent: Agent, at: string, atMs: number) => {
    const found = lookupSession(draft, e, agent.agentId, e.data.sessionId);
    if (found === undefined) return;
    if (found.kind === 'retired') return anomaly(draft, e, 'invalid-transition');
    const existing = found.kind === 'session' ? found.session : undefined;
    if (existing && !(existing.state === 'starting' || existing.state === 'suspended' || existing.state === 'running')) {
      return anomaly(draft, e, 'invalid-transition');
    }
    if (!fenceGeneration(draft, e, agent, e.data.generation)) return;
    seen(agent, at);
    if (existing?.state === 'running') {
      // The one legal repeat: it only updates the pid.
      if (e.data.pid !== undefined) existing.pid = e.data.pid;
      return;
    }
    const session = existing ?? newSession(draft, agent.agentId, e.data.sessionId, e.data.poolId, at);
    if (session.poolId === null && e.data.poolId !== undefined) session.poolId = e.data.poolId;
    session.pid = e.data.pid ?? null;
    becomeLive(draft, agent, session, 'running', at, atMs);
  };

  const apply = (draft: S, e: E): void => {
    draft.position = e.position;
    const at = e.metadata.at;
    const atMs = parseIsoMs(at);
    advanceClock(draft, at, atMs, retentionMs);
    if (!firstDelivery(draft, e.id, atMs)) return anomaly(draft, e, 'duplicate');

    switch (e.type) {
      case 'PoolCreated': {
        const d = e.data;
        if (draft.pools[d.poolId] !== undefined) return anomaly(draft, e, 'pool-exists');
        draft.pools[d.poolId] = {
          poolId: d.poolId,
          name: d.name,
          maxSize: d.maxSize,
          agentTypes: d.agentTypes ?? [],
          enabled: d.enabled ?? true,
        };
        return;
      }
      case 'PoolUpdated': {
        const d = e.data;
        const pool = draft.pools[d.poolId];
        if (pool === undefined) return anomaly(draft, e, 'unknown-pool');
        if (d.name !== undefined) pool.name = d.name;
        if (d.maxSize !== undefined) pool.maxSize = d.maxSize;
        if (d.agentTypes !== undefined) pool.agentTypes = d.agentTypes;
        if (d.enabled !== undefined) pool.enabled = d.enabled;
        return;
      }
      case 'PoolDeleted': {
        if (draft.pools[e.data.poolId] === undefined) return anomaly(draft, e, 'unknown-pool');
        delete draft.pools[e.data.poolId];
        return;
      }
      case 'AgentRegistered': {
        const d = e.data;
        const existing = draft.agents[d.agentId];
        if (existing !== undefined) return anomaly(draft, e, existing.removedAt === null ? 'agent-exists' : 'removed-agent');
        if (draft.removedAgents[d.agentId]) return anomaly(draft, e, 'removed-agent');
        draft.agents[d.agentId] = {
          agentId: d.agentId,
          name: d.name ?? null,
          role: d.role,
          type: d.variant === undefined ? d.role : `${d.role}:${d.variant}`,
          removedAt: null,
          generation: 0,
          run: null,
          connection: null,
          startedAt: null,
          stoppedAt: null,
          lastSeenAt: null,
          lastExitReason: null,
          openSessionIds: [],
        };
        return;
      }
      default:
        break;
    }

    // Every other event is about one agent.
    const agent = agentFor(draft, e, e.data.agentId);
    if (agent === undefined) return;
    const wasRunning = hasLiveSession(draft, agent);
    let exitReason: string | null = null;

    switch (e.type) {
      case 'AgentRemoved': {
        for (const id of [...agent.openSessionIds]) {
          finish(draft, agent, draft.sessions[id]!, 'terminated', 'agent_removed', at, atMs);
        }
        agent.removedAt = at;
        agent.run = null;
        exitReason = 'agent_removed';
        scheduleRetirement(draft, `a:${agent.agentId}`, atMs);
        break;
      }
      case 'AgentConnected':
        agent.connection = { connectionId: e.data.connectionId, state: 'connected', since: at };
        seen(agent, at);
        break;
      case 'AgentDisconnected': {
        const c = agent.connection;
        if (c === null || c.connectionId !== e.data.connectionId) return anomaly(draft, e, 'stale-connection');
        if (c.state === 'connected') agent.connection = { connectionId: c.connectionId, state: 'disconnected', since: at };
        break;
      }
      case 'AgentHeartbeat':
        seen(agent, at);
        break;
      case 'SessionStarting':
        onSessionStarting(draft, e, agent, at, atMs);
        break;
      case 'AgentSpawned':
        onAgentSpawned(draft, e, agent, at, atMs);
        break;
      case 'SessionStartFailed': {
        const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
        if (s === undefined) return;
        if (s.state !== 'starting') return anomaly(draft, e, 'invalid-transition');
        finish(draft, agent, s, 'failed', e.data.reason, at, atMs);
        exitReason = e.data.reason;
        break;
      }
      case 'SessionSuspended': {
        const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
        if (s === undefined) return;
        if (s.state !== 'running') return anomaly(draft, e, 'invalid-transition');
        suspend(agent, s);
        exitReason = 'suspended';
        break;
      }
      case 'SessionResumed': {
        const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
        if (s === undefined) return;
        if (s.state !== 'suspended') return anomaly(draft, e, 'invalid-transition');
        s.pid = e.data.pid ?? null;
        becomeLive(draft, agent, s, 'running', at, atMs);
        seen(agent, at);
        break;
      }
      case 'SessionTerminationRequested': {
        const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
        if (s === undefined) return;
        if (s.state === 'starting' || s.state === 'running') {
          s.state = 'terminating';
          s.terminatingSince = at;
        } else if (s.state === 'suspended') {
          // No process to wait for: straight to terminated.
          finish(draft, agent, s, 'terminated', 'termination_requested', at, atMs);
          exitReason = 'termination_requested';
        } else {
          return anomaly(draft, e, 'invalid-transition');
        }
        break;
      }
      case 'SessionEnded':
      case 'SessionNotFound': {
        const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
        if (s === undefined) return;
        if (isTerminal(s.state)) return anomaly(draft, e, 'invalid-transition');
        exitReason = e.type === 'SessionEnded' ? e.data.reason : 'not_found';
        finish(draft, agent, s, 'terminated', exitReason, at, atMs);
        break;
      }
      case 'SessionReset': {
        const found = lookupSession(draft, e, agent.agentId, e.data.sessionId);
        if (found === undefined) return;
        if (found.kind === 'none') return anomaly(draft, e, 'unknown-session');
        if (e.data.generation <= agent.generation) return anomaly(draft, e, 'stale-generation');
        // The new generation applies even when the session has already ended.
        agent.generation = e.data.generation;
        if (found.kind === 'session' && !isTerminal(found.session.state)) {
          finish(draft, agent, found.session, 'terminated', 'reset', at, atMs);
          exitReason = 'reset';
        }
        break;
      }
      case 'RunStarted': {
        const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
        if (s === undefined) return;
        if (e.data.generation < agent.generation) return anomaly(draft, e, 'stale-generation');
        if (s.state !== 'running') return anomaly(draft, e, 'invalid-transition');
        agent.generation = e.data.generation;
        agent.run = { sessionId: s.sessionId, generation: e.data.generation };
        seen(agent, at);
        break;
      }
      case 'RunFinished': {
        const found = lookupSession(draft, e, agent.agentId, e.data.sessionId);
        if (found === undefined) return;
        if (found.kind === 'none') return anomaly(draft, e, 'unknown-session');
        if (e.data.generation < agent.generation) return anomaly(draft, e, 'stale-generation');
        const run = agent.run;
        if (run === null || run.sessionId !== e.data.sessionId || run.generation !== e.data.generation) {
          return anomaly(draft, e, 'invalid-transition');
        }
        agent.run = null;
        seen(agent, at);
        break;
      }
      case 'AgentStopped': {
        const reason = e.data.reason ?? 'stopped';
        for (const id of [...agent.openSessionIds]) {
          const s = draft.sessions[id]!;
          if (e.data.resumable && (s.state === 'starting' || s.state === 'running')) suspend(agent, s);
          else if (!(e.data.resumable && s.state === 'suspended')) finish(draft, agent, s, 'terminated', reason, at, atMs);
        }
        exitReason = reason;
        break;
      }
      case 'AgentCrashed': {
        const live = agent.openSessionIds.map((id) => draft.sessions[id]!).filter((s) => isLive(s.state));
        const targets = e.data.pid === undefined ? live : live.filter((s) => s.pid === e.data.pid);
        if (e.data.pid !== undefined && targets.length === 0) return anomaly(draft, e, 'stale-pid');
        for (const s of targets) finish(draft, agent, s, 'terminated', e.data.reason, at, atMs);
        exitReason = e.data.reason;
        break;
      }
      default: {
        const _never: never = e;
        return _never;
      }
    }

    const running = hasLiveSession(draft, agent);
    if (running && !wasRunning) {
      agent.startedAt = at;
      agent.stoppedAt = null;
    } else if (!running && wasRunning) {
      agent.stoppedAt = at;
      agent.lastExitReason = exitReason;
    }
  };

  const applyInvalid = (draft: S, info: InvalidEventInfo): void => {
    draft.position = info.position;
    recordAnomaly(draft, info.position.toString(), info.eventId, info.type, 'invalid-event');
  };

  return { apply, applyInvalid };
};

/** Builds the lifecycle projection with its options (retention window). */
export const createLifecycleProjection = (
  options: LifecycleOptions = {},
): Projection<LifecycleState, RecordedEvent> & { readonly retentionMs: number } => {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const { apply, applyInvalid } = reducers(retentionMs);
  return {
    ...defineProjection<LifecycleState, RecordedEvent>({
      // A different retention window is a different projection: snapshots must not cross over.
      name: retentionMs === DEFAULT_RETENTION_MS ? 'lifecycle' : `lifecycle-retention-${retentionMs}`,
      version: 1,
      initialState: initialLifecycleState,
      apply,
      applyInvalid,
      toJSON: (state) => ({
        ...state,
        position: state.position === null ? null : state.position.toString(),
        seenIds: [...state.seenIds].map(([bucket, ids]) => [bucket, [...ids]]),
      }),
      fromJSON: (json) => {
        const s = json as Omit<LifecycleState, 'position' | 'seenIds'> & { position: string | null; seenIds: Array<[number, string[]]> };
        return {
          ...s,
          position: s.position === null ? null : BigInt(s.position),
          seenIds: new Map(s.seenIds.map(([bucket, ids]) => [bucket, new Set(ids)])),
        };
      },
    }),
    retentionMs,
  };
};

/** The lifecycle projection with default options: pools, agents, sessions, running set, busy, anomalies. */
export const lifecycleProjection = createLifecycleProjection();
