import { z } from 'zod';
import { RollcallError } from '../errors.js';
import type { LifecycleEvent } from '../events/lifecycleEvents.js';
import { isLive } from '../projections/lifecycleState.js';
import type { AgentJson, ProjectionJson, SessionJson } from '../projections/lifecycleView.js';
import { correctionId } from './correctionId.js';
import { resolveReconcileConfig, type ReconcileConfigInput, type ReconcileRule } from './reconcileConfig.js';

/** What the liveness check of one pid found. A zombie counts as dead. */
export interface PidObservation {
  /**
   * True: the process exists (another user's counts: EPERM). False: it is gone or a zombie. Null:
   * it could not be checked (the reason is in `detail`); no rule fires on it, and the pass reports it.
   */
  alive: boolean | null;
  /** What was seen, for the record: e.g. "zombie (state Z)", "no such process (ESRCH)". */
  detail?: string;
}

/** What the orchestrator knows about an agent beyond the log, when it knows it. */
export interface AgentObservation {
  /** `gone`: the orchestrator knows the agent no longer exists (pod deleted, replaced). */
  connection?: 'connected' | 'disconnected' | 'gone';
  /** When its connection went down (ISO), if known. */
  disconnectedSince?: string;
  /** Its latest heartbeat (ISO), which may be newer than anything in the log. */
  lastHeartbeatAt?: string;
}

/** Facts gathered outside the log. A pid or agent that is absent here was not observed: no rule fires on it. */
export interface Observations {
  /**
   * The host the pids were observed on. A pid means something only there: pid facts apply to the
   * sessions whose `host` is this one and to sessions with no host (SPEC §4), never to another host's.
   */
  host?: string | null;
  pids?: Readonly<Record<number, PidObservation>>;
  agents?: Readonly<Record<string, AgentObservation>>;
}

/** Does this reconciler's pid check cover the session (its own host, or no host at all)? */
export const onObservedHost = (session: SessionJson, observations: Observations): boolean =>
  session.host === null || session.host === (observations.host ?? null);

/** The pid fact about a session, if one was observed on its host. */
export const pidFactOf = (session: SessionJson, observations: Observations): PidObservation | undefined =>
  session.pid === null || !onObservedHost(session, observations) ? undefined : observations.pids?.[session.pid];

/** An observation about an agent: own entries only (the record may come from anyone). */
const agentFact = (observations: Observations, agentId: string): AgentObservation | undefined => {
  const agents = observations.agents;
  return agents !== undefined && Object.hasOwn(agents, agentId) ? agents[agentId] : undefined;
};

/** One correction: the event to append and the rule that produced it. */
export interface Decision {
  rule: ReconcileRule;
  agentId: string;
  /** The session the correction is about. */
  sessionId: string;
  event: LifecycleEvent;
}

/** `metadata.source` of every event the reconciler appends. */
export const RECONCILER_SOURCE = 'rollcall-reconciler';

const IsoTime = z.iso.datetime({ offset: true });

const ms = (iso: string | null | undefined): number | null => {
  if (iso == null) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
};

/** The agent's connection as best known: an observation is fresher than the log. */
const connectionOf = (agent: AgentJson | undefined, obs: AgentObservation | undefined) =>
  obs?.connection ?? agent?.connection?.state ?? 'unknown';

/**
 * Since when the agent has been absent: the latest evidence of life or of the disconnect itself
 * (a heartbeat after a disconnect restarts the grace period). Null when nothing dates it.
 */
const absentSince = (agent: AgentJson | undefined, obs: AgentObservation | undefined): string | null => {
  const candidates = [
    obs?.disconnectedSince,
    obs?.lastHeartbeatAt,
    agent?.lastSeenAt,
    agent?.connection?.state === 'disconnected' ? agent.connection.since : null,
  ];
  let best: string | null = null;
  let bestMs = -Infinity;
  for (const c of candidates) {
    const t = ms(c);
    if (t !== null && t > bestMs) {
      best = c!;
      bestMs = t;
    }
  }
  return best;
};

/** Why a terminating session's agent counts as unavailable, or null while it may still stop it. */
const unavailability = (
  agent: AgentJson | undefined,
  obs: AgentObservation | undefined,
  session: SessionJson,
  observations: Observations,
): string | null => {
  if (agent === undefined) return 'unknown-agent';
  if (agent.status === 'removed') return 'removed';
  const connection = connectionOf(agent, obs);
  if (connection === 'gone' || connection === 'disconnected') return connection;
  if (pidFactOf(session, observations)?.alive === false) return 'pid-dead';
  return null;
};

/**
 * Times an orchestrator observed are held to the log's rule: ISO-8601 with a zone. A time without
 * one would be read in the machine's own zone, so the same facts would decide differently by host.
 */
const checkObservedTimes = (observations: Observations): void => {
  const agents = observations.agents ?? {};
  for (const agentId of Object.keys(agents)) {
    const obs = agents[agentId]!;
    for (const field of ['disconnectedSince', 'lastHeartbeatAt'] as const) {
      const value = obs[field];
      if (value !== undefined && !IsoTime.safeParse(value).success) {
        throw new RollcallError('usage', `reconcile: observations.agents[${JSON.stringify(agentId)}].${field} must be an ISO-8601 time with a zone, got ${JSON.stringify(value)}`);
      }
    }
  }
};

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The reconciler's pure core (SPEC §4): from a projection view, facts observed outside the log and
 * the time `now` (ISO), the events that bring the log back in line with reality. It reads no clock
 * and does no I/O. Each live session gets at most one correction, by precedence: lapsed lease, dead
 * pid, agent disconnected past its grace (starting/running sessions), stuck terminating, start
 * timeout. An agent none of those fired for may be suspected (one AgentSuspected, SPEC §7.3).
 */
export const decide = (
  view: ProjectionJson,
  observations: Observations,
  now: string,
  config: ReconcileConfigInput = {},
): Decision[] => {
  if (!IsoTime.safeParse(now).success) throw new RollcallError('usage', `reconcile: now must be an ISO-8601 time with a zone, got "${now}"`);
  checkObservedTimes(observations);
  const cfg = resolveReconcileConfig(config);
  const nowMs = Date.parse(now);
  const olderThan = (since: string | null, limit: number | null): number | null => {
    const t = ms(since);
    if (t === null || limit === null) return null;
    return nowMs - t > limit ? nowMs - t : null;
  };

  const liveByAgent = new Map<string, SessionJson[]>();
  for (const id of Object.keys(view.sessions).sort(byCodeUnit)) {
    const s = view.sessions[id]!;
    if (!isLive(s.state)) continue;
    let list = liveByAgent.get(s.agentId);
    if (list === undefined) liveByAgent.set(s.agentId, (list = []));
    list.push(s);
  }

  const decisions: Decision[] = [];
  const make = <T extends LifecycleEvent['type']>(
    rule: ReconcileRule,
    session: SessionJson,
    pid: number | null,
    fact: string | null,
    type: T,
    data: Extract<LifecycleEvent, { type: T }>['data'],
    observed: Record<string, unknown>,
    at: string = now,
  ) => {
    const event = {
      id: correctionId({ rule, agentId: session.agentId, sessionId: session.sessionId, pid, fact }),
      type,
      data,
      metadata: { at, source: RECONCILER_SOURCE, observed: { rule, ...observed } },
    } as LifecycleEvent;
    decisions.push({ rule, agentId: session.agentId, sessionId: session.sessionId, event });
  };

  for (const agentId of [...liveByAgent.keys()].sort(byCodeUnit)) {
    const agent = view.agents[agentId];
    const obs = agentFact(observations, agentId);
    const connection = connectionOf(agent, obs);
    const lastSeenAt = obs?.lastHeartbeatAt ?? agent?.lastSeenAt ?? null;
    // The stint this session belongs to: a resumed session is a new stint even with a reused pid.
    const stint = agent?.startedAt ?? null;

    const decidedBefore = decisions.length;
    for (const s of liveByAgent.get(agentId)!) {
      const pidSeen = pidFactOf(s, observations);

      // A lapsed lease ends the session in event time whatever else is true of it (SPEC §7.2). The
      // end is stamped at the expiry, as the fold would end it: the log then reads the same whether
      // this correction or a later event of the log ends it, and no other correction is stale.
      const leaseLapsedFor = cfg.leaseExpiry ? olderThan(s.leaseExpiresAt, 0) : null;
      if (leaseLapsedFor !== null) {
        make('lease-expired', s, null, s.leaseExpiresAt, 'SessionEnded', {
          agentId, sessionId: s.sessionId, reason: LEASE_EXPIRED, ...(s.epoch !== null ? { epoch: s.epoch } : {}),
        }, { now, leaseExpiresAt: s.leaseExpiresAt, leaseMs: s.leaseMs, overdueMs: leaseLapsedFor, lastSeenAt, connection, pid: s.pid }, s.leaseExpiresAt!);
        continue;
      }

      if (cfg.pidCheck && s.pid !== null && pidSeen?.alive === false) {
        make('dead-pid', s, s.pid, stint, 'AgentCrashed', { agentId, reason: cfg.reasons.deadPid, pid: s.pid }, {
          pid: s.pid, host: s.host, alive: false, detail: pidSeen.detail ?? null, sessionState: s.state, lastSeenAt,
        });
        continue;
      }

      // A terminating session was asked to stop: if its agent vanishes that is not a crash, and it
      // gets the (longer) terminating timeout instead, as seed 003 asks.
      if ((s.state === 'starting' || s.state === 'running') && (connection === 'disconnected' || connection === 'gone')) {
        const since = absentSince(agent, obs);
        const absentFor = olderThan(since, cfg.disconnectGraceMs);
        if (absentFor !== null) {
          const observed = {
            connection, absentSince: since, absentForMs: absentFor, graceMs: cfg.disconnectGraceMs, lastSeenAt, pid: s.pid,
          };
          if (s.pid !== null) {
            // With the pid, a late correction cannot end a newer process of the agent (rule 8).
            make('agent-disconnected', s, s.pid, stint, 'AgentCrashed', { agentId, reason: cfg.reasons.agentDisconnected, pid: s.pid }, observed);
            continue;
          }
          // Without a pid it applies to every live session of the agent: nothing more to decide for it.
          make('agent-disconnected', s, null, stint, 'AgentCrashed', { agentId, reason: cfg.reasons.agentDisconnected }, observed);
          break;
        }
      }

      if (s.state === 'terminating') {
        const stuckFor = olderThan(s.terminatingSince, cfg.terminatingTimeoutMs);
        const why = stuckFor === null ? null : unavailability(agent, obs, s, observations);
        if (why !== null) {
          make('stuck-terminating', s, s.pid, s.terminatingSince, 'SessionEnded', {
            agentId, sessionId: s.sessionId, reason: cfg.reasons.stuckTerminating,
          }, {
            terminatingSince: s.terminatingSince, terminatingForMs: stuckFor, timeoutMs: cfg.terminatingTimeoutMs,
            agent: why, connection, lastSeenAt, pid: s.pid, alive: pidSeen?.alive ?? null,
          });
        }
        continue;
      }

      if (s.state === 'starting') {
        const startingFor = olderThan(s.startedAt, cfg.startingTimeoutMs);
        if (startingFor !== null) {
          make('start-timeout', s, null, s.startedAt, 'SessionStartFailed', {
            agentId, sessionId: s.sessionId, reason: cfg.reasons.startTimeout,
          }, { startedAt: s.startedAt, startingForMs: startingFor, timeoutMs: cfg.startingTimeoutMs, connection, lastSeenAt });
        }
      }
    }

    // Suspicion is the warning before an end: only for an agent nothing else was decided for.
    if (cfg.suspectAfterMs !== null && decisions.length === decidedBefore && agent !== undefined && agent.suspect === null) {
      const suspicion = suspicionOf(agent, obs, liveByAgent.get(agentId)!, connection, nowMs, cfg.suspectAfterMs, absentSince(agent, obs));
      if (suspicion !== null) {
        const observed = { ...suspicion.observed, connection, lastSeenAt, now };
        make('suspect', suspicion.session, null, `${suspicion.reason}@${suspicion.fact}`, 'AgentSuspected', { agentId, reason: suspicion.reason, observed }, observed);
      }
    }
  }
  return decisions;
};

/** The reason the fold and the reconciler give a lapsed lease (SPEC §7.2); an abnormal end (§7.4). */
export const LEASE_EXPIRED = 'lease_expired';

/** Why an agent is suspected (SPEC §7.3), the data of `AgentSuspected.reason`. */
export const suspectReasons = { disconnected: 'disconnected_within_grace', silent: 'no_sign_of_life', lease: 'lease_running_out' } as const;

interface Suspicion {
  session: SessionJson;
  reason: string;
  /** The fact suspected on (a time): a new one after a sign of life makes a new suspicion. */
  fact: string;
  observed: Record<string, unknown>;
}

/**
 * SPEC §7.3, for an agent with live sessions: disconnected (a disconnect past its grace is a crash,
 * decided before), no sign of life for `suspectAfterMs` (counted from the session's start at the
 * earliest: an idle hour before it is not silence), or a lease with under a fifth of it left.
 */
const suspicionOf = (
  agent: AgentJson,
  obs: AgentObservation | undefined,
  live: readonly SessionJson[],
  connection: string,
  nowMs: number,
  suspectAfterMs: number,
  absent: string | null,
): Suspicion | null => {
  const session = live.find((s) => s.sessionId === agent.currentSessionId) ?? live[0]!;
  if ((connection === 'disconnected' || connection === 'gone') && absent !== null) {
    return { session, reason: suspectReasons.disconnected, fact: absent, observed: { absentSince: absent, absentForMs: nowMs - Date.parse(absent) } };
  }
  let since: string | null = null;
  for (const c of [obs?.lastHeartbeatAt, agent.lastSeenAt, session.startedAt]) {
    const t = ms(c);
    if (t !== null && (since === null || t > Date.parse(since))) since = c!;
  }
  if (since !== null && nowMs - Date.parse(since) > suspectAfterMs) {
    return { session, reason: suspectReasons.silent, fact: since, observed: { silentSince: since, silentForMs: nowMs - Date.parse(since), suspectAfterMs } };
  }
  for (const s of live) {
    const expires = ms(s.leaseExpiresAt);
    if (expires === null || s.leaseMs === null) continue;
    const left = expires - nowMs;
    if (left >= 0 && left * 5 < s.leaseMs) {
      return { session: s, reason: suspectReasons.lease, fact: s.leaseExpiresAt!, observed: { leaseExpiresAt: s.leaseExpiresAt, leaseMs: s.leaseMs, leftMs: left } };
    }
  }
  return null;
};
