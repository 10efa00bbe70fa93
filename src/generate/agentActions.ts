import type { FleetContext } from './fleetContext.js';
import type { FleetHosts } from './fleetHosts.js';
import type { FleetPools } from './fleetPools.js';
import type { FleetRoster } from './fleetRoster.js';
import {
  DIRECTOR_END_FACTOR,
  PID_CHECK,
  QUARANTINE_AFTER,
  QUARANTINE_WINDOW_MS,
  moves,
  reasons,
  type Action,
  type SimAgent,
  type SimSession,
} from './fleetModel.js';
import type { DataOf, GeneratedEvent } from './generatedEvent.js';

export interface AgentActions {
  /** What each action emits (null: nothing this step, e.g. an end held back to arrive late). */
  readonly act: Readonly<Record<Action, (a: SimAgent) => GeneratedEvent | null>>;
  /**
   * Ends, in the simulation, a live session whose lease the log's clock has passed: the projection
   * ends it (lease_expired) as soon as an event later than its expiry arrives, with no event of its own.
   */
  lapse(a: SimAgent): void;
  /** Counts an abnormal end at `at` (ms) as the projection does (SPEC §7.4). */
  endedAbnormally(a: SimAgent, at?: number): void;
  /** The agent's next action, by weight among those its state allows now; undefined when none does. */
  choose(a: SimAgent): Action | undefined;
}

/** What an agent says about itself when it registers. */
export const registration = (a: SimAgent): DataOf<'AgentRegistered'> => {
  const data: DataOf<'AgentRegistered'> = { agentId: a.id, role: a.role };
  if (a.variant !== undefined) data.variant = a.variant;
  if (a.name !== undefined) data.name = a.name;
  return data;
};

/** The agents' state machine: every way a session starts, runs and ends in the seed reports. */
export const createAgentActions = (ctx: FleetContext, roster: FleetRoster, fleetPools: FleetPools, hosts: FleetHosts): AgentActions => {
  const { rng, rates, clock, ids, deliveries } = ctx;
  const { make, onSession } = ctx.events;
  const { setLive, rememberPid, closeSession, sessionOf } = roster;

  /** Runs a session's lease from now (never backwards), as the projection does on a renewal. */
  const renew = (s: SimSession) => {
    if (s.leaseMs !== undefined) s.leaseExpiresAt = Math.max(s.leaseExpiresAt, clock.now + s.leaseMs);
  };
  /** Where the process runs: the agent's host, and its orchestrator's epoch (most orchestrators say it). */
  const placeOn = (a: SimAgent, s: SimSession, data: DataOf<'AgentSpawned'> | DataOf<'SessionResumed'>) => {
    const host = hosts.hostOf(a);
    s.host = host;
    data.host = host;
    const epoch = hosts.epochOf(host);
    if (epoch > 0 && rng.chance(0.8)) data.epoch = epoch;
    if (s.leaseMs !== undefined) {
      data.leaseMs = s.leaseMs;
      s.leaseExpiresAt = clock.now + s.leaseMs;
    }
  };

  const spawnInto = (a: SimAgent, s: SimSession): GeneratedEvent => {
    const pid = rng.chance(0.95) ? ids.nextPid() : undefined;
    s.pid = pid;
    a.state = 'running';
    const data: DataOf<'AgentSpawned'> = { agentId: a.id, sessionId: s.id };
    if (s.pool !== undefined) data.poolId = s.pool.id;
    if (pid !== undefined) data.pid = pid;
    if (rng.chance(0.9)) data.generation = a.generation;
    placeOn(a, s, data);
    const event = onSession(s, 'AgentSpawned', data, 'dispatch-daemon');
    deliveries.release(a);
    return event;
  };

  const connect = (a: SimAgent): GeneratedEvent => {
    a.connection = ids.newConnection();
    return make('AgentConnected', { agentId: a.id, connectionId: a.connection }, 'control-socket');
  };
  const disconnect = (a: SimAgent): GeneratedEvent => {
    const connectionId = a.connection ?? ids.newConnection();
    a.connection = null;
    a.disconnectedAt = clock.now;
    return make('AgentDisconnected', { agentId: a.id, connectionId }, 'control-socket');
  };
  const heartbeat = (a: SimAgent): GeneratedEvent => {
    if (a.session?.live === true) renew(a.session);
    return make('AgentHeartbeat', { agentId: a.id }, 'agent');
  };

  // The dispatcher keeps the projection's crash-loop count (SPEC §7.4) so it honours a quarantine.
  const endedAbnormally = (a: SimAgent, now = clock.now) => {
    if (a.quarantined) return;
    const ends = a.abnormalEnds.filter((t) => t > now - QUARANTINE_WINDOW_MS && t <= now);
    ends.push(now);
    while (ends.length > QUARANTINE_AFTER) ends.shift();
    a.abnormalEnds = ends;
    a.quarantined = ends.length >= QUARANTINE_AFTER;
  };
  /** An operator lifts a quarantine before the agent starts again. */
  const release = (a: SimAgent): GeneratedEvent => {
    a.quarantined = false;
    a.abnormalEnds = [];
    return make('AgentReleased', { agentId: a.id, reason: 'released after a crash loop' }, 'operator');
  };

  const act: Readonly<Record<Action, (a: SimAgent) => GeneratedEvent | null>> = {
    register: (a) => {
      a.state = 'idle';
      return make('AgentRegistered', registration(a), 'api');
    },
    connect,
    disconnect,
    // The new socket is up before the old one's close is noticed: that close is stale on arrival.
    flap: (a) => {
      if (rates.late === 0) return disconnect(a);
      const gone = disconnect(a);
      deliveries.schedule(gone, rng.int(1, 10));
      return connect(a);
    },
    heartbeat,
    remove: (a) => {
      const s = a.session === null ? undefined : closeSession(a);
      const data: DataOf<'AgentRemoved'> = { agentId: a.id };
      if (rng.chance(0.7)) data.reason = rng.pick(reasons.remove);
      const event = make('AgentRemoved', data, 'api', s?.correlationId);
      deliveries.release(a);
      roster.removedIds.push(a.id);
      if (roster.removedIds.length > 8) roster.removedIds.shift();
      // The slot is refilled by a fresh agent: ids are never reused.
      roster.agents[a.slot] = roster.newAgent(a.slot, a.role, a.variant);
      return event;
    },
    startSession: (a) => {
      if (a.quarantined) return release(a);
      const pool = fleetPools.choosePool(a);
      if (pool === null) return heartbeat(a);
      const s: SimSession = {
        id: `ses-${a.short}-${(++a.sessionCount).toString(36)}`,
        pool,
        pid: undefined,
        correlationId: rng.uuid(),
        lastEventId: undefined,
        live: false,
        host: undefined,
        leaseMs: rng.chance(0.3) ? rng.int(30, 180) * 1000 : undefined,
        leaseExpiresAt: 0,
      };
      a.session = s;
      setLive(a, s, true);
      // Some sessions are adopted already running, without a reserved slot first.
      if (rng.chance(0.1)) return spawnInto(a, s);
      a.state = 'starting';
      const data: DataOf<'SessionStarting'> = { agentId: a.id, sessionId: s.id };
      if (pool !== undefined) data.poolId = pool.id;
      if (s.leaseMs !== undefined) {
        data.leaseMs = s.leaseMs;
        s.leaseExpiresAt = clock.now + s.leaseMs;
      }
      return onSession(s, 'SessionStarting', data, 'dispatch-daemon');
    },
    spawn: (a) => spawnInto(a, sessionOf(a)),
    // The runtime restarted the process inside the same session: a legal repeat with a new pid.
    respawn: (a) => {
      const s = sessionOf(a);
      rememberPid(a, s.pid);
      return spawnInto(a, s);
    },
    startFailed: (a) => {
      const s = closeSession(a);
      endedAbnormally(a);
      a.state = 'idle';
      const reason = rng.pick(reasons.startFailed);
      const source = reason === 'start_timeout' ? 'reconciler' : 'dispatch-daemon';
      return deliveries.maybeLate(a, onSession(s, 'SessionStartFailed', { agentId: a.id, sessionId: s.id, reason }, source));
    },
    runStart: (a) => {
      const s = sessionOf(a);
      a.state = 'inRun';
      return onSession(s, 'RunStarted', { agentId: a.id, sessionId: s.id, generation: a.generation }, 'agent-runtime');
    },
    runFinish: (a) => {
      const s = sessionOf(a);
      a.state = 'running';
      const data: DataOf<'RunFinished'> = { agentId: a.id, sessionId: s.id, generation: a.generation };
      if (rng.chance(0.9)) data.outcome = rng.pick(reasons.outcome);
      return onSession(s, 'RunFinished', data, 'agent-runtime');
    },
    end: (a) => {
      const reason = rng.pick(a.state === 'terminating' ? reasons.terminated : reasons.end);
      const s = closeSession(a);
      a.state = 'idle';
      return deliveries.maybeLate(a, onSession(s, 'SessionEnded', { agentId: a.id, sessionId: s.id, reason }, 'dispatch-daemon'));
    },
    crash: (a) => {
      if (a.session?.live === true) endedAbnormally(a);
      const s = closeSession(a);
      a.state = 'idle';
      const pidCheck = rng.chance(0.7);
      const data: DataOf<'AgentCrashed'> = { agentId: a.id, reason: pidCheck ? PID_CHECK : rng.pick(reasons.exit) };
      if (s.pid !== undefined) data.pid = s.pid;
      const event = make('AgentCrashed', data, pidCheck ? 'reconciler' : 'dispatch-daemon', s.correlationId);
      // A second reconciler saw the same death; its report lands after the next process is up.
      if (s.pid !== undefined && rng.chance(rates.late)) {
        deliveries.hold(a, make('AgentCrashed', { agentId: a.id, reason: PID_CHECK, pid: s.pid }, 'reconciler', s.correlationId));
      }
      // kill -9: the control socket dies without a close event (seed 001).
      if (rng.chance(0.6)) {
        a.connection = null;
        a.disconnectedAt = clock.now;
      }
      return event;
    },
    disconnectCrash: (a) => {
      if (a.session?.live === true) endedAbnormally(a);
      const s = closeSession(a);
      a.state = 'idle';
      return make('AgentCrashed', { agentId: a.id, reason: 'agent_disconnected' }, 'reconciler', s.correlationId);
    },
    stop: (a) => {
      const s = sessionOf(a);
      const resumable = a.state !== 'suspended' && rng.chance(0.5);
      if (resumable) {
        setLive(a, s, false);
        rememberPid(a, s.pid);
        s.pid = undefined;
        a.state = 'suspended';
      } else {
        closeSession(a);
        a.state = 'idle';
      }
      const data: DataOf<'AgentStopped'> = { agentId: a.id };
      if (rng.chance(0.8)) data.reason = rng.pick(reasons.stop);
      if (resumable) data.resumable = true;
      else if (rng.chance(0.5)) data.resumable = false;
      return make('AgentStopped', data, 'dispatch-daemon', s.correlationId);
    },
    suspend: (a) => {
      const s = sessionOf(a);
      setLive(a, s, false);
      rememberPid(a, s.pid);
      s.pid = undefined;
      a.state = 'suspended';
      return onSession(s, 'SessionSuspended', { agentId: a.id, sessionId: s.id }, 'session-manager');
    },
    resume: (a) => {
      if (a.quarantined) return release(a);
      const s = sessionOf(a);
      setLive(a, s, true);
      s.pid = rng.chance(0.9) ? ids.nextPid() : undefined;
      a.state = 'running';
      const data: DataOf<'SessionResumed'> = { agentId: a.id, sessionId: s.id };
      if (s.pid !== undefined) data.pid = s.pid;
      placeOn(a, s, data);
      return onSession(s, 'SessionResumed', data, 'session-manager');
    },
    // "No conversation found" on resume (seed 002).
    notFound: (a) => {
      const s = closeSession(a);
      endedAbnormally(a);
      a.state = 'idle';
      return deliveries.maybeLate(a, onSession(s, 'SessionNotFound', { agentId: a.id, sessionId: s.id }, 'session-manager'));
    },
    requestTermination: (a) => {
      const s = sessionOf(a);
      if (a.state === 'suspended') {
        closeSession(a);
        a.state = 'idle';
      } else {
        a.state = 'terminating';
        a.terminatingSince = clock.now;
      }
      return onSession(s, 'SessionTerminationRequested', { agentId: a.id, sessionId: s.id }, 'api');
    },
    reset: (a) => {
      const wasInRun = a.state === 'inRun';
      const oldGeneration = a.generation;
      const s = closeSession(a);
      a.generation++;
      a.state = 'idle';
      const event = onSession(s, 'SessionReset', { agentId: a.id, sessionId: s.id, generation: a.generation }, 'session-manager');
      // The run in flight still reports its end, under the old generation (seed 004).
      if (wasInRun && rng.chance(Math.min(1, rates.late * 3))) {
        const data = { agentId: a.id, sessionId: s.id, generation: oldGeneration, outcome: 'cancelled' };
        deliveries.hold(a, onSession(s, 'RunFinished', data, 'agent-runtime'));
      }
      return event;
    },
    // The pod is deleted before it processes the stop (seed 003): the session stays terminating.
    vanish: (a) => {
      a.state = 'dark';
      a.darkUntil = clock.now + (rng.chance(0.8) ? rng.int(5, 60) * 60_000 : rng.int(6, 24) * 3_600_000);
      a.reconcilerIgnores = rng.chance(0.4);
      return disconnect(a);
    },
    reconcilerEnd: (a) => {
      const s = closeSession(a);
      return onSession(s, 'SessionEnded', { agentId: a.id, sessionId: s.id, reason: 'agent_unavailable' }, 'reconciler');
    },
    // Back under a new connection; its stuck session, if any, is superseded by the next start.
    wake: (a) => {
      if (a.session !== null) closeSession(a);
      a.state = 'idle';
      return connect(a);
    },
    renewLease: (a) => {
      const s = sessionOf(a);
      renew(s);
      return onSession(s, 'SessionLeaseRenewed', { agentId: a.id, sessionId: s.id }, 'agent-runtime');
    },
    // A reconciler's warning while the agent is within its disconnect grace (SPEC §7.3).
    suspect: (a) =>
      make('AgentSuspected', { agentId: a.id, reason: 'disconnected', observed: { disconnectedAt: ctx.events.iso(a.disconnectedAt) } }, 'reconciler'),
  };

  const lapse = (a: SimAgent) => {
    const s = a.session;
    if (s === null || !s.live || s.leaseMs === undefined || !(clock.now > s.leaseExpiresAt)) return;
    closeSession(a);
    endedAbnormally(a, s.leaseExpiresAt);
    if (a.state !== 'dark') a.state = 'idle';
  };

  const weights = new Float64Array(Math.max(...Object.values(moves).map((m) => m.length)));
  const choose = (a: SimAgent): Action | undefined => {
    const options = moves[a.state];
    const now = clock.now;
    let total = 0;
    for (let i = 0; i < options.length; i++) {
      const m = options[i] as (typeof options)[number];
      const w = m.when === undefined || m.when(a, now) ? (m.ends && a.role === 'director' ? m.weight * DIRECTOR_END_FACTOR : m.weight) : 0;
      weights[i] = w;
      total += w;
    }
    if (total === 0) return undefined;
    let r = rng.float() * total;
    for (let i = 0; i < options.length; i++) {
      r -= weights[i] as number;
      if (r < 0 && (weights[i] as number) > 0) return (options[i] as (typeof options)[number]).action;
    }
    for (let i = options.length - 1; i >= 0; i--) if ((weights[i] as number) > 0) return (options[i] as (typeof options)[number]).action;
    return undefined;
  };

  return { act, choose, lapse, endedAbnormally };
};
