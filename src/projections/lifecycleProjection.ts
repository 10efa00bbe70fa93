import { isDraft, original, type Draft } from 'immer';
import type { LifecycleEventType, RecordedEvent } from '../events/lifecycleEvents.js';
import { parseIsoMs } from '../events/parseIsoMs.js';
import { checkInvariants, type Violation } from './checkInvariants.js';
import { defineProjection, type InvalidEventInfo, type Projection, type SkippedEventInfo } from './defineProjection.js';
import {
  DEFAULT_QUARANTINE_AFTER,
  DEFAULT_QUARANTINE_WINDOW_MS,
  DEFAULT_RETENTION_MS,
  cloneLifecycleState,
  initialLifecycleState,
  isLive,
  isTerminal,
  leaseExpiresAt,
  type AgentRecord,
  type AnomalyReason,
  type LifecycleState,
  type SessionRecord,
  type SessionStateName,
} from './lifecycleState.js';
import { lifecycleFromJson, lifecycleToJson } from './lifecycleSnapshot.js';
import { lifecycleView, type ProjectionJson } from './lifecycleView.js';
import { popRetireBefore, pushRetire } from './retireQueue.js';

type S = Draft<LifecycleState>;
type Agent = Draft<AgentRecord>;
type Session = Draft<SessionRecord>;
type E = RecordedEvent;
/** One recorded event type of the catalog. */
export type EventOf<T extends LifecycleEventType> = Extract<E, { type: T }>;
type AgentEventType = Exclude<LifecycleEventType, 'PoolCreated' | 'PoolUpdated' | 'PoolDeleted' | 'AgentRegistered' | 'OrchestratorStarted'>;

/** The time of the event being applied: its `metadata.at`, and that instant in ms, with the projection's liveness limits. */
export interface EventTime {
  readonly at: string;
  readonly atMs: number;
  readonly limits: LivenessLimits;
  /** Told what the event did beyond the entities it names (lease expiries, restarts, evictions). */
  readonly report: FoldReport | undefined;
}

/** SPEC §7.4's thresholds, fixed per projection. */
export interface LivenessLimits {
  readonly quarantineAfter: number;
  readonly quarantineWindowMs: number;
}

/** Applies one event of type T to a draft, at the event's time. */
export type Handler<T extends LifecycleEventType> = (draft: S, event: EventOf<T>, t: EventTime) => void;
/** One handler per event type: leaving one out is a compile error. */
export type LifecycleHandlers = { readonly [T in LifecycleEventType]: Handler<T> };

export interface LifecycleOptions {
  /** How long a terminal session (or removed agent) stays in the view after it ended. Default 24 h. */
  retentionMs?: number;
  /** Abnormal ends within `quarantineWindowMs` that quarantine an agent (SPEC §7.4). Default 3. */
  quarantineAfter?: number;
  /** Default 10 min. */
  quarantineWindowMs?: number;
}

/** The lifecycle projection: its retention window is fixed here, once, and its view and checks use it. */
export interface LifecycleProjection extends Projection<LifecycleState, RecordedEvent> {
  readonly retentionMs: number;
  readonly limits: LivenessLimits;
  /** `apply`, telling `report` what it did beyond the entities the event names (evictions). */
  applyReporting(draft: Draft<LifecycleState>, event: RecordedEvent, report: FoldReport | undefined): void;
  /** SPEC §3 JSON of a state of this projection. */
  view(state: LifecycleState): ProjectionJson;
  /** Every invariant a state of this projection breaks (none, if the reducers are right). */
  check(state: LifecycleState): Violation[];
}

const RECENT_ANOMALIES = 100;

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

const hasLiveSession = (draft: S, agent: Agent): boolean => {
  for (const id of agent.openSessionIds) if (isLive(draft.sessions.get(id)!.state)) return true;
  return false;
};

/** Resolves the agent an event names, or records why it cannot (rule 6). */
const agentFor = (draft: S, e: E, agentId: string): Agent | undefined => {
  const agent = draft.agents.get(agentId);
  if (agent !== undefined && agent.removedAt === null) return agent;
  anomaly(draft, e, agent !== undefined || draft.evictedAgents.has(agentId) ? 'removed-agent' : 'unknown-agent');
  return undefined;
};

type Lookup = { kind: 'session'; session: Session } | { kind: 'evicted' } | { kind: 'none' };

/**
 * Finds a session, enforcing that it belongs to the agent the event names (rule 3). A session that
 * left the state after the retention window is known only by its id: whatever names it is late.
 */
const lookupSession = (draft: S, e: E, agentId: string, sessionId: string): Lookup | undefined => {
  const session = draft.sessions.get(sessionId);
  if (session !== undefined) {
    if (session.agentId === agentId) return { kind: 'session', session };
    anomaly(draft, e, 'session-agent-mismatch');
    return undefined;
  }
  return draft.evictedSessions.has(sessionId) ? { kind: 'evicted' } : { kind: 'none' };
};

/** A session that must exist already: unknown sessions are `unknown-session`, evicted ones `invalid-transition`. */
const existingSession = (draft: S, e: E, agentId: string, sessionId: string): Session | undefined => {
  const found = lookupSession(draft, e, agentId, sessionId);
  if (found === undefined) return undefined;
  if (found.kind === 'session') return found.session;
  anomaly(draft, e, found.kind === 'evicted' ? 'invalid-transition' : 'unknown-session');
  return undefined;
};

const removeOpen = (agent: Agent, sessionId: string) => {
  const i = agent.openSessionIds.indexOf(sessionId);
  if (i >= 0) agent.openSessionIds.splice(i, 1);
};

// `liveOnHost` lists a session while it is live and has a host: it leaves the list before either changes, and
// is listed again after.
const unlistHost = (draft: S, session: Session) => {
  if (session.host === null) return;
  const ids = draft.liveOnHost.get(session.host);
  if (ids === undefined || !ids.delete(session.sessionId)) return;
  if (ids.size === 0) draft.liveOnHost.delete(session.host);
};

const listHost = (draft: S, session: Session) => {
  if (session.host === null || !isLive(session.state)) return;
  const ids = draft.liveOnHost.get(session.host);
  if (ids === undefined) draft.liveOnHost.set(session.host, new Set([session.sessionId]));
  else ids.add(session.sessionId);
};

/** A session left the live states: its process is gone, so is any run in flight in it (rule 7). */
const leftLive = (draft: S, agent: Agent, session: Session) => {
  draft.liveSince.delete(session.sessionId);
  unlistHost(draft, session);
  session.pid = null;
  if (agent.run !== null && agent.run.sessionId === session.sessionId) agent.run = null;
};

const finish = (draft: S, agent: Agent, session: Session, state: 'terminated' | 'failed', reason: string, { at, atMs }: EventTime) => {
  leftLive(draft, agent, session);
  session.state = state;
  session.endedAt = at;
  session.terminationReason = reason;
  removeOpen(agent, session.sessionId);
  pushRetire(draft.retiring, { dueMs: atMs, id: session.sessionId, agent: false });
};

const suspend = (draft: S, agent: Agent, session: Session) => {
  leftLive(draft, agent, session);
  session.state = 'suspended';
  // A suspended session holds no slot, so no lease runs; a resume starts it again.
  session.leaseExpiresMs = null;
};

/** Runs the session's lease for `leaseMs` (its own length when absent) from now, never backwards; nothing when it has none. */
const renewLease = (draft: S, session: Session, leaseMs: number | undefined, t: EventTime): void => {
  if (leaseMs !== undefined) session.leaseMs = leaseMs;
  if (session.leaseMs === null) return;
  const dueMs = t.atMs + session.leaseMs;
  // Stryker disable next-line EqualityOperator: an equal expiry written again is the same lease (its second heap entry is skipped on pop)
  if (session.leaseExpiresMs !== null && session.leaseExpiresMs >= dueMs) return;
  session.leaseExpiresMs = dueMs;
  pushRetire(draft.leases, { dueMs, id: session.sessionId });
};

/** Fencing (SPEC §7.1): false, and an anomaly, when the event names an epoch older than its host's. */
const fenceEpoch = (draft: S, e: E, host: string | null, epoch: number | undefined): boolean => {
  if (epoch === undefined || host === null) return true;
  const h = draft.hosts.get(host);
  if (h === undefined || epoch >= h.epoch) return true;
  anomaly(draft, e, 'stale-epoch');
  return false;
};

/**
 * Counts an abnormal end (SPEC §7.4) and quarantines the agent when the window holds
 * `quarantineAfter` of them. While quarantined the count is frozen; AgentReleased restarts it.
 */
const abnormalEnd = (agent: Agent, position: bigint, t: EventTime) => {
  if (agent.quarantine !== null) return;
  const { quarantineAfter, quarantineWindowMs } = t.limits;
  // In event time, not arrival order: a late end, or a lease that lapsed before the event that
  // noticed it, may be older than ends already counted, and must not push them out.
  const all = [...agent.abnormalEnds, { position: position.toString(), atMs: t.atMs }].sort((x, y) => x.atMs - y.atMs);
  const newestMs = all[all.length - 1]!.atMs;
  const ends = all.filter((x) => x.atMs > newestMs - quarantineWindowMs);
  while (ends.length > quarantineAfter) ends.shift();
  agent.abnormalEnds = ends;
  if (ends.length >= quarantineAfter) {
    agent.quarantine = {
      since: t.at,
      reason: `${ends.length} abnormal ends within ${quarantineWindowMs / 1000} s`,
      ends: ends.map((x) => x.position),
    };
  }
};

/** A start applied to a quarantined agent: the log records facts, so it stands, and is noted (SPEC §7.4). */
const noteQuarantinedStart = (draft: S, e: E, agent: Agent) => {
  if (agent.quarantine !== null) anomaly(draft, e, 'quarantined-start');
};

/**
 * Ends a live session for a reason no event of its agent gave (a lapsed lease, an orchestrator
 * restart): the agent-level bookkeeping `forAgent` does for its own events, done here.
 */
const endFromOutside = (draft: S, agent: Agent, session: Session, reason: string, position: bigint, t: EventTime) => {
  finish(draft, agent, session, 'terminated', reason, t);
  abnormalEnd(agent, position, t);
  // Stryker disable next-line ConditionalExpression: always true while rule 11 holds (the session ended was the agent's one live session); kept as a guard
  if (!hasLiveSession(draft, agent)) {
    agent.stoppedAt = t.at;
    agent.lastExitReason = reason;
    agent.suspect = null;
  }
  t.report?.sessionEnded(session.sessionId, agent.agentId, session.poolId);
};

/** Rule 11: the session becomes the agent's one live session; any other live one is superseded. */
const becomeLive = (draft: S, agent: Agent, session: Session, state: SessionStateName, t: EventTime) => {
  for (const id of [...agent.openSessionIds]) {
    if (id === session.sessionId) continue;
    const other = draft.sessions.get(id)!;
    if (isLive(other.state)) finish(draft, agent, other, 'terminated', 'superseded', t);
  }
  session.state = state;
  listHost(draft, session);
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
    host: null,
    startedAt: at,
    endedAt: null,
    terminatingSince: null,
    terminationReason: null,
    epoch: null,
    leaseMs: null,
    leaseExpiresMs: null,
  };
  draft.sessions.set(sessionId, session);
  return draft.sessions.get(sessionId)!;
};

/** A sign of life (SPEC §3's lastSeenAt); it also clears a suspicion (§7.3). */
const seen = (agent: Agent, at: string) => {
  agent.lastSeenAt = laterOf(agent.lastSeenAt, at);
  agent.suspect = null;
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

/**
 * Wraps a handler of an event about one agent: resolves the agent (rule 6) and keeps
 * startedAt/stoppedAt/lastExitReason in step with whether it has a live session. The handler
 * returns the exit reason to record if the agent stops running.
 */
const forAgent =
  <T extends AgentEventType>(handle: (draft: S, e: EventOf<T>, agent: Agent, t: EventTime) => string | null | void): Handler<T> =>
  (draft, e, t) => {
    const agent = agentFor(draft, e, (e as EventOf<AgentEventType>).data.agentId);
    if (agent === undefined) return;
    const wasRunning = hasLiveSession(draft, agent);
    const exitReason = handle(draft, e, agent, t) ?? null;
    const running = hasLiveSession(draft, agent);
    if (running && !wasRunning) {
      agent.startedAt = t.at;
      agent.stoppedAt = null;
    } else if (!running && wasRunning) {
      agent.stoppedAt = t.at;
      agent.lastExitReason = exitReason;
    }
    // Suspicion is about a live session: it goes with it.
    if (!running && agent.suspect !== null) agent.suspect = null;
  };

/**
 * `forAgent` for a handler that never changes a session's state nor the agent's open sessions (a
 * connection, a heartbeat, a run, a suspicion…): whether the agent runs cannot change, so
 * startedAt/stoppedAt stay as they are and only a suspicion left on an agent without a live
 * session goes. Most events are of these types; they skip `forAgent`'s two scans of the agent's
 * sessions (one, only while the agent is suspect). A property holds the premise on random histories.
 */
const sessionsKept = new Set<LifecycleEventType>();
const forAgentSessionsKept = <T extends AgentEventType>(
  type: T,
  handle: (draft: S, e: EventOf<T>, agent: Agent, t: EventTime) => void,
): Handler<T> => {
  sessionsKept.add(type);
  return (draft, e, t) => {
    const agent = agentFor(draft, e, (e as EventOf<AgentEventType>).data.agentId);
    if (agent === undefined) return;
    handle(draft, e, agent, t);
    if (agent.suspect !== null && !hasLiveSession(draft, agent)) agent.suspect = null;
  };
};

/** The event types handled through `forAgentSessionsKept` (for the property that holds its premise). */
export const SESSIONS_KEPT_TYPES: ReadonlySet<LifecycleEventType> = sessionsKept;

/** The reducer: one handler per event type (SPEC §2's table and rules). */
const handlers: LifecycleHandlers = {
  PoolCreated(draft, e) {
    const d = e.data;
    if (draft.pools.has(d.poolId)) return anomaly(draft, e, 'pool-exists');
    draft.pools.set(d.poolId, { poolId: d.poolId, name: d.name, maxSize: d.maxSize, agentTypes: d.agentTypes ?? [], enabled: d.enabled ?? true });
  },

  PoolUpdated(draft, e) {
    const d = e.data;
    const pool = draft.pools.get(d.poolId);
    if (pool === undefined) return anomaly(draft, e, 'unknown-pool');
    if (d.name !== undefined) pool.name = d.name;
    if (d.maxSize !== undefined) pool.maxSize = d.maxSize;
    if (d.agentTypes !== undefined) pool.agentTypes = d.agentTypes;
    if (d.enabled !== undefined) pool.enabled = d.enabled;
  },

  PoolDeleted(draft, e) {
    if (!draft.pools.delete(e.data.poolId)) anomaly(draft, e, 'unknown-pool');
  },

  AgentRegistered(draft, e) {
    const d = e.data;
    const existing = draft.agents.get(d.agentId);
    if (existing !== undefined) return anomaly(draft, e, existing.removedAt === null ? 'agent-exists' : 'removed-agent');
    if (draft.evictedAgents.has(d.agentId)) return anomaly(draft, e, 'removed-agent');
    draft.agents.set(d.agentId, {
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
      suspect: null,
      quarantine: null,
      abnormalEnds: [],
      openSessionIds: [],
    });
  },

  AgentRemoved: forAgent((draft, _e, agent, t) => {
    for (const id of [...agent.openSessionIds]) finish(draft, agent, draft.sessions.get(id)!, 'terminated', 'agent_removed', t);
    agent.removedAt = t.at;
    agent.run = null;
    pushRetire(draft.retiring, { dueMs: t.atMs, id: agent.agentId, agent: true });
    return 'agent_removed';
  }),

  AgentConnected: forAgentSessionsKept('AgentConnected', (_draft, e, agent, t) => {
    agent.connection = { connectionId: e.data.connectionId, state: 'connected', since: t.at };
    seen(agent, t.at);
  }),

  AgentDisconnected: forAgentSessionsKept('AgentDisconnected', (draft, e, agent, t) => {
    const c = agent.connection;
    if (c === null || c.connectionId !== e.data.connectionId) return anomaly(draft, e, 'stale-connection');
    // A repeated disconnect of the same connection keeps the time it went down.
    if (c.state === 'connected') agent.connection = { connectionId: c.connectionId, state: 'disconnected', since: t.at };
  }),

  AgentHeartbeat: forAgentSessionsKept('AgentHeartbeat', (draft, _e, agent, t) => {
    seen(agent, t.at);
    // Every heartbeat of the agent renews its live session's lease (SPEC §7.2).
    for (const id of agent.openSessionIds) {
      const s = draft.sessions.get(id)!;
      if (isLive(s.state) && s.leaseMs !== null) renewLease(draft, s, undefined, t);
    }
  }),

  SessionStarting: forAgent((draft, e, agent, t) => {
    const found = lookupSession(draft, e, agent.agentId, e.data.sessionId);
    if (found === undefined) return;
    if (found.kind !== 'none') return anomaly(draft, e, 'invalid-transition');
    const session = newSession(draft, agent.agentId, e.data.sessionId, e.data.poolId, t.at);
    becomeLive(draft, agent, session, 'starting', t);
    if (e.data.leaseMs !== undefined) renewLease(draft, session, e.data.leaseMs, t);
    noteQuarantinedStart(draft, e, agent);
  }),

  AgentSpawned: forAgent((draft, e, agent, t) => {
    const d = e.data;
    const found = lookupSession(draft, e, agent.agentId, d.sessionId);
    if (found === undefined) return;
    if (found.kind === 'evicted') return anomaly(draft, e, 'invalid-transition');
    const existing = found.kind === 'session' ? found.session : undefined;
    if (existing && !(existing.state === 'starting' || existing.state === 'suspended' || existing.state === 'running')) {
      return anomaly(draft, e, 'invalid-transition');
    }
    if (!fenceEpoch(draft, e, d.host ?? existing?.host ?? null, d.epoch)) return;
    if (!fenceGeneration(draft, e, agent, d.generation)) return;
    seen(agent, t.at);
    if (existing?.state === 'running') {
      // The one legal repeat: it only updates what the process is (pid, and the host it runs on).
      if (d.pid !== undefined) existing.pid = d.pid;
      if (d.host !== undefined && d.host !== existing.host) {
        // An epoch counts restarts of one host: moved to another, the session keeps none but what
        // this event names (already fenced against the new host above), never the old host's.
        unlistHost(draft, existing);
        existing.host = d.host;
        existing.epoch = d.epoch ?? null;
        listHost(draft, existing);
      }
      if (d.leaseMs !== undefined) renewLease(draft, existing, d.leaseMs, t);
      return;
    }
    // Read before becomeLive: the session is `existing`, and it is running after.
    const wasStarting = existing?.state === 'starting';
    const session = existing ?? newSession(draft, agent.agentId, d.sessionId, d.poolId, t.at);
    if (session.poolId === null && d.poolId !== undefined) session.poolId = d.poolId;
    session.pid = d.pid ?? null;
    unlistHost(draft, session);
    session.host = d.host ?? null;
    session.epoch = d.epoch ?? null;
    becomeLive(draft, agent, session, 'running', t);
    renewLease(draft, session, d.leaseMs, t);
    // A starting session already held the slot: only a session that was not live is a new start.
    if (!wasStarting) noteQuarantinedStart(draft, e, agent);
  }),

  SessionStartFailed: forAgent((draft, e, agent, t) => {
    const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
    if (s === undefined) return;
    if (s.state !== 'starting') return anomaly(draft, e, 'invalid-transition');
    finish(draft, agent, s, 'failed', e.data.reason, t);
    abnormalEnd(agent, e.position, t);
    return e.data.reason;
  }),

  SessionSuspended: forAgent((draft, e, agent) => {
    const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
    if (s === undefined) return;
    if (s.state !== 'running') return anomaly(draft, e, 'invalid-transition');
    suspend(draft, agent, s);
    return 'suspended';
  }),

  SessionResumed: forAgent((draft, e, agent, t) => {
    const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
    if (s === undefined) return;
    if (s.state !== 'suspended') return anomaly(draft, e, 'invalid-transition');
    if (!fenceEpoch(draft, e, e.data.host ?? s.host, e.data.epoch)) return;
    s.pid = e.data.pid ?? null;
    unlistHost(draft, s);
    s.host = e.data.host ?? null;
    s.epoch = e.data.epoch ?? null;
    becomeLive(draft, agent, s, 'running', t);
    renewLease(draft, s, e.data.leaseMs, t);
    seen(agent, t.at);
    noteQuarantinedStart(draft, e, agent);
  }),

  SessionTerminationRequested: forAgent((draft, e, agent, t) => {
    const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
    if (s === undefined) return;
    if (s.state === 'starting' || s.state === 'running') {
      s.state = 'terminating';
      s.terminatingSince = t.at;
      return;
    }
    if (s.state !== 'suspended') return anomaly(draft, e, 'invalid-transition');
    // No process to wait for: straight to terminated. (No exit reason: a suspended session was
    // not running, so the agent does not stop running here.)
    finish(draft, agent, s, 'terminated', 'termination_requested', t);
  }),

  SessionEnded: forAgent((draft, e, agent, t) => endSession(draft, e, agent, e.data.reason, t)),
  SessionNotFound: forAgent((draft, e, agent, t) => endSession(draft, e, agent, 'not_found', t)),

  SessionLeaseRenewed: forAgentSessionsKept('SessionLeaseRenewed', (draft, e, agent, t) => {
    const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
    if (s === undefined) return;
    // A lapsed lease is final: its session has ended, so a late renewal is a transition from a terminal state.
    if (!isLive(s.state) || (s.leaseMs === null && e.data.leaseMs === undefined)) return anomaly(draft, e, 'invalid-transition');
    renewLease(draft, s, e.data.leaseMs, t);
    seen(agent, t.at);
  }),

  AgentSuspected: forAgentSessionsKept('AgentSuspected', (draft, e, agent, t) => {
    if (!hasLiveSession(draft, agent)) return anomaly(draft, e, 'invalid-transition');
    // Repeated suspicion keeps the time it began.
    if (agent.suspect === null) agent.suspect = { since: t.at, reason: e.data.reason };
  }),

  AgentReleased: forAgentSessionsKept('AgentReleased', (_draft, _e, agent) => {
    agent.quarantine = null;
    agent.abnormalEnds = [];
  }),

  OrchestratorStarted(draft, e, t) {
    const d = e.data;
    const current = draft.hosts.get(d.host);
    if (current !== undefined && d.epoch <= current.epoch) return anomaly(draft, e, 'stale-epoch');
    draft.hosts.set(d.host, { host: d.host, epoch: d.epoch, startedAt: t.at });
    // Keyed by agent and session: an entry naming another agent's session must not hide the right one.
    const adopted = new Map((d.adopted ?? []).map((a) => [`${a.agentId}\u0000${a.sessionId}`, a]));
    // The host's own live sessions (its index), not a scan of every agent: a copy, as ending one unlists it.
    for (const id of [...(draft.liveOnHost.get(d.host) ?? [])]) {
      const s = draft.sessions.get(id)!;
      if (!isLive(s.state) || s.host !== d.host) continue;
      const agent = draft.agents.get(s.agentId)!;
      const a = adopted.get(`${s.agentId}\u0000${id}`);
      if (a !== undefined) {
        s.epoch = d.epoch;
        if (a.pid !== undefined) s.pid = a.pid;
        t.report?.sessionAdopted(id, agent.agentId);
      } else endFromOutside(draft, agent, s, 'orchestrator_restarted', e.position, t);
    }
  },

  SessionReset: forAgent((draft, e, agent, t) => {
    const found = lookupSession(draft, e, agent.agentId, e.data.sessionId);
    if (found === undefined) return;
    // A reset names a session: an unknown one (never seen) is no evidence of a new generation, and
    // an evicted one is late like any other event for it (SPEC §3).
    if (found.kind === 'none') return anomaly(draft, e, 'unknown-session');
    if (found.kind === 'evicted') return anomaly(draft, e, 'invalid-transition');
    if (e.data.generation <= agent.generation) return anomaly(draft, e, 'stale-generation');
    // The new generation applies even when the session has already ended.
    agent.generation = e.data.generation;
    if (isTerminal(found.session.state)) return;
    finish(draft, agent, found.session, 'terminated', 'reset', t);
    return 'reset';
  }),

  RunStarted: forAgentSessionsKept('RunStarted', (draft, e, agent, t) => {
    const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
    if (s === undefined) return;
    if (e.data.generation < agent.generation) return anomaly(draft, e, 'stale-generation');
    if (s.state !== 'running') return anomaly(draft, e, 'invalid-transition');
    if (!fenceEpoch(draft, e, s.host, e.data.epoch)) return;
    agent.generation = e.data.generation;
    agent.run = { sessionId: s.sessionId, generation: e.data.generation };
    seen(agent, t.at);
  }),

  RunFinished: forAgentSessionsKept('RunFinished', (draft, e, agent, t) => {
    const found = lookupSession(draft, e, agent.agentId, e.data.sessionId);
    if (found === undefined) return;
    if (found.kind === 'none') return anomaly(draft, e, 'unknown-session');
    if (found.kind === 'evicted') return anomaly(draft, e, 'invalid-transition');
    if (e.data.generation < agent.generation) return anomaly(draft, e, 'stale-generation');
    if (!fenceEpoch(draft, e, found.session.host, e.data.epoch)) return;
    const run = agent.run;
    if (run === null || run.sessionId !== e.data.sessionId || run.generation !== e.data.generation) {
      return anomaly(draft, e, 'invalid-transition');
    }
    agent.run = null;
    seen(agent, t.at);
  }),

  AgentStopped: forAgent((draft, e, agent, t) => {
    const reason = e.data.reason ?? 'stopped';
    const resumable = e.data.resumable ?? false;
    for (const id of [...agent.openSessionIds]) {
      const s = draft.sessions.get(id)!;
      if (resumable && (s.state === 'starting' || s.state === 'running')) suspend(draft, agent, s);
      else if (!(resumable && s.state === 'suspended')) finish(draft, agent, s, 'terminated', reason, t);
    }
    return reason;
  }),

  AgentCrashed: forAgent((draft, e, agent, t) => {
    const pid = e.data.pid;
    const targets: Session[] = [];
    for (const id of agent.openSessionIds) {
      const s = draft.sessions.get(id)!;
      if (isLive(s.state) && (pid === undefined || s.pid === pid)) targets.push(s);
    }
    if (pid !== undefined && targets.length === 0) return anomaly(draft, e, 'stale-pid');
    for (const s of targets) {
      finish(draft, agent, s, 'terminated', e.data.reason, t);
      abnormalEnd(agent, e.position, t);
    }
    return e.data.reason;
  }),
};

/** SessionEnded / SessionNotFound: any non-terminal session → terminated. */
const endSession = (draft: S, e: EventOf<'SessionEnded' | 'SessionNotFound'>, agent: Agent, reason: string, t: EventTime): string | void => {
  const s = existingSession(draft, e, agent.agentId, e.data.sessionId);
  if (s === undefined) return;
  // Fenced first: an end from before a restart is stale, whatever the restart did to its session.
  if (e.type === 'SessionEnded' && !fenceEpoch(draft, e, s.host, e.data.epoch)) return;
  if (isTerminal(s.state)) return anomaly(draft, e, 'invalid-transition');
  finish(draft, agent, s, 'terminated', reason, t);
  if (ABNORMAL_END_REASONS.has(reason) || e.type === 'SessionNotFound') abnormalEnd(agent, e.position, t);
  return reason;
};

/** Ends a reconciler or an orchestrator may append in the reducer's place, abnormal like the reducer's own (SPEC §7.4). */
const ABNORMAL_END_REASONS = new Set(['lease_expired', 'orchestrator_restarted']);

// A null-prototype copy: the type of an event only ever selects one of these own handlers.
const handlerByType: LifecycleHandlers = Object.freeze(Object.assign(Object.create(null) as object, handlers) as LifecycleHandlers);

/** Moves the clock to the newest `at` seen; a late (older) event never moves it back. */
const advanceClock = (draft: S, { at, atMs }: EventTime) => {
  if (draft.newestAtMs !== null && atMs <= draft.newestAtMs) return;
  draft.newestAt = at;
  draft.newestAtMs = atMs;
};

/**
 * The id set to add to. On an owned state that is the set itself; inside an immer `produce()` the
 * base state must not change, so the set is copied once per produce (immer cannot draft it).
 */
const writableSet = (draft: S, key: 'evictedSessions' | 'evictedAgents'): S[typeof key] => {
  if (isDraft(draft)) {
    const base = original(draft)!;
    if (draft[key] === (base[key] as unknown)) draft[key] = base[key].clone() as unknown as S[typeof key];
  }
  return draft[key];
};

/**
 * What applying one event did besides the entities it names, for whoever tracks changes
 * (`lifecycleChanged`): the reducer says what it evicted, so nobody keeps a second heap.
 */
export interface FoldReport {
  /** A terminal session left the state (the retention window passed it). */
  evictedSession(sessionId: string, agentId: string): void;
  /** A removed agent left the state. */
  evictedAgent(agentId: string): void;
  /** A live session ended for a reason its own events did not give: a lapsed lease, a restart of its host. */
  sessionEnded(sessionId: string, agentId: string, poolId: string | null): void;
  /** A restart adopted a live session (its epoch, maybe its pid, changed). */
  sessionAdopted(sessionId: string, agentId: string): void;
}

/**
 * Ends every live session whose lease the clock has passed (SPEC §7.2), at its expiry time:
 * O(what lapses), popping a heap like retention. A renewal leaves its older entry behind; an
 * entry that no longer matches its session's lease is skipped.
 */
const expireLeases = (draft: S, position: bigint, t: EventTime) => {
  const now = draft.newestAtMs;
  if (now === null) return;
  for (let entry = popRetireBefore(draft.leases, now); entry !== undefined; entry = popRetireBefore(draft.leases, now)) {
    const s = draft.sessions.get(entry.id);
    if (s === undefined || !isLive(s.state) || s.leaseExpiresMs !== entry.dueMs) continue;
    const agent = draft.agents.get(s.agentId)!;
    endFromOutside(draft, agent, s, 'lease_expired', position, { ...t, at: leaseExpiresAt(s)!, atMs: entry.dueMs });
  }
};

/** Drops from the state what the retention window has passed: O(what expires), never a scan. */
const evictExpired = (draft: S, retentionMs: number, report: FoldReport | undefined) => {
  if (draft.newestAtMs === null) return;
  const horizon = draft.newestAtMs - retentionMs;
  for (let entry = popRetireBefore(draft.retiring, horizon); entry !== undefined; entry = popRetireBefore(draft.retiring, horizon)) {
    if (entry.agent) {
      const a = draft.agents.get(entry.id);
      if (a === undefined || a.removedAt === null) continue;
      writableSet(draft, 'evictedAgents').add(entry.id);
      draft.agents.delete(entry.id);
      report?.evictedAgent(entry.id);
    } else {
      const s = draft.sessions.get(entry.id);
      if (s === undefined || !isTerminal(s.state)) continue;
      writableSet(draft, 'evictedSessions').add(entry.id);
      draft.sessions.delete(entry.id);
      report?.evictedSession(entry.id, s.agentId);
    }
  }
};

const reducers = (retentionMs: number, limits: LivenessLimits) => {
  const applyReporting = (draft: S, e: E, report: FoldReport | undefined): void => {
    // The event that makes the session it names live (its creation, a resume) is remembered for
    // explain; leaving live (leftLive) forgets it. Only these three types make a session live
    // (`becomeLive`; nothing else moves one into a live state), so no other pays the two lookups.
    const type = e.type;
    const named = type === 'AgentSpawned' || type === 'SessionStarting' || type === 'SessionResumed' ? e.data.sessionId : undefined;
    const wasLive = named !== undefined && isLive(draft.sessions.get(named)?.state ?? 'terminated');
    draft.position = e.position;
    const t: EventTime = { at: e.metadata.at, atMs: parseIsoMs(e.metadata.at), limits, report };
    advanceClock(draft, t);
    // Leases the clock passed lapse before the event applies: a renewal after expiry comes too late.
    if (draft.leases.length > 0) expireLeases(draft, e.position, t);
    (handlerByType[type] as Handler<LifecycleEventType>)(draft, e, t);
    // A late event (older than the clock) may have set a lease the clock has already passed.
    if (draft.leases.length > 0) expireLeases(draft, e.position, t);
    if (named !== undefined && !wasLive && isLive(draft.sessions.get(named)?.state ?? 'terminated')) {
      draft.liveSince.set(named, { position: e.position.toString(), type, at: e.metadata.at });
    }
    evictExpired(draft, retentionMs, report);
  };
  const apply = (draft: S, e: E): void => applyReporting(draft, e, undefined);

  const applyInvalid = (draft: S, info: InvalidEventInfo): void => {
    draft.position = info.position;
    recordAnomaly(draft, info.position.toString(), info.eventId, info.type, 'invalid-event');
  };

  // Rule 4: a redelivered id changes nothing, whatever its `at` (the clock included), but the count.
  const applyDuplicate = (draft: S, info: SkippedEventInfo): void => {
    draft.position = info.position;
    recordAnomaly(draft, info.position.toString(), info.eventId, info.type, 'duplicate');
  };

  return { apply, applyReporting, applyInvalid, applyDuplicate };
};

/** Builds the lifecycle projection with its options (retention window). */
export const createLifecycleProjection = (options: LifecycleOptions = {}): LifecycleProjection => {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const limits: LivenessLimits = {
    quarantineAfter: options.quarantineAfter ?? DEFAULT_QUARANTINE_AFTER,
    quarantineWindowMs: options.quarantineWindowMs ?? DEFAULT_QUARANTINE_WINDOW_MS,
  };
  const { apply, applyReporting, applyInvalid, applyDuplicate } = reducers(retentionMs, limits);
  const nonDefault = [
    retentionMs === DEFAULT_RETENTION_MS ? '' : `-retention-${retentionMs}`,
    limits.quarantineAfter === DEFAULT_QUARANTINE_AFTER ? '' : `-quarantine-after-${limits.quarantineAfter}`,
    limits.quarantineWindowMs === DEFAULT_QUARANTINE_WINDOW_MS ? '' : `-quarantine-window-${limits.quarantineWindowMs}`,
  ].join('');
  return {
    ...defineProjection<LifecycleState, RecordedEvent>({
      // Other thresholds make another projection: snapshots must not cross over.
      name: `lifecycle${nonDefault}`,
      // v2: maps, exact retention, compact evicted ids, no id window (rule 4 is the reader's).
      // v3: records as tuples in snapshots.
      // v4: liveness (SPEC §7): hosts and epochs, leases, suspects, quarantine.
      // v5: a running session moved to another host keeps only the epoch the move names; an
      // adoption entry naming another agent's session no longer hides the right one.
      // v6: each live session's liveSince (the event that made it live), for explain.
      // v7: an AgentSpawned of a starting session of a quarantined agent is no second quarantined-start.
      // v8: sessions, the retire heap, leases and liveSince as columns (lifecycleSnapshot.ts).
      // v9: the quarantine window counts ends in event time (a late or lapsed-lease end no longer drops newer ones).
      // v10: a session's lease expiry as epoch ms (a number column of the sessions, no longer a string).
      version: 10,
      initialState: initialLifecycleState,
      apply,
      applyInvalid,
      applyDuplicate,
      clone: cloneLifecycleState,
      toJSON: lifecycleToJson,
      fromJSON: lifecycleFromJson,
      newestAt: (state) => state.newestAt,
    }),
    retentionMs,
    limits,
    applyReporting,
    view: (state) => lifecycleView(state),
    check: (state) => checkInvariants(state, { retentionMs, quarantineAfter: limits.quarantineAfter }),
  };
};

/** The lifecycle projection with default options: pools, agents, sessions, running set, busy, anomalies. */
export const lifecycleProjection = createLifecycleProjection();
