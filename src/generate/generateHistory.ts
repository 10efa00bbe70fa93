import { RollcallError } from '../errors.js';
import type { LifecycleEventBody, LifecycleEventType } from '../events/lifecycleEvents.js';
import {
  DIRECTOR_END_FACTOR,
  PID_CHECK,
  moves,
  nameParts,
  poolTemplates,
  reasons,
  type Action,
  type Role,
  type SimAgent,
  type SimPool,
  type SimSession,
} from './fleetModel.js';
import { createIsoFormatter } from './isoTime.js';
import { createRandom } from './random.js';
import { serializeEvent } from './serializeEvent.js';

/** Producer metadata as SPEC §1.1 shows it; `source` names the service that saw the fact. */
export interface GeneratedMetadata {
  at: string;
  correlationId?: string;
  causationId?: string;
  source: string;
}

/** One event exactly as a producer writes it (SPEC §1.1). */
export type GeneratedEvent = LifecycleEventBody & { id: string; metadata: GeneratedMetadata };

/** How often reality misbehaves; each is a probability in [0, 1]. */
export interface MessRates {
  /** Per emitted event: the same event (same id) is delivered again 1–40 events later. */
  duplicate: number;
  /** Per opportunity (an end, a crash with a pid, a reset mid-run): a delivery arrives after the agent's next spawn. */
  late: number;
  /** Per emitted event: `at` is 0.3–5 s earlier than the clock. */
  skew: number;
  /**
   * Per event: an event the log should not contain: about an unknown agent, session or pool, a
   * removed agent, or the wrong agent's session; a repeated registration or pool creation.
   */
  stray: number;
}

export const defaultMessRates: Readonly<MessRates> = { duplicate: 0.01, late: 0.1, skew: 0.02, stray: 0.004 };

export interface GenerateOptions {
  agents: number;
  events: number;
  seed?: number | string;
  /** ISO time of the first event; default 2026-11-20T00:00:00.000Z. */
  start?: string;
  mess?: Partial<MessRates>;
}

export const DEFAULT_START = '2026-11-20T00:00:00.000Z';

/** Share of events that change a pool's configuration. */
const POOL_RATE = 0.002;
/** After this many fruitless picks a dark agent is woken, so every step emits an event. */
const PATIENCE = 8;
const AGENT_ID_SPACE = 36 ** 4;

type DataOf<T extends LifecycleEventType> = Extract<LifecycleEventBody, { type: T }>['data'];
type Queued = { step: number; event: GeneratedEvent };

const usage = (message: string): RollcallError => new RollcallError('usage', `generate: ${message}`);

const validate = (options: GenerateOptions): { startMs: number; rates: MessRates } => {
  if (!Number.isSafeInteger(options.agents) || options.agents < 1) throw usage('agents must be a positive integer');
  if (!Number.isSafeInteger(options.events) || options.events < 0) throw usage('events must be a non-negative integer');
  const startMs = Date.parse(options.start ?? DEFAULT_START);
  if (!Number.isFinite(startMs)) throw usage(`start is not an ISO time: ${options.start}`);
  const rates = { ...defaultMessRates, ...options.mess };
  for (const [key, p] of Object.entries(rates)) {
    if (!(key in defaultMessRates)) throw usage(`mess.${key} is not a rate (${Object.keys(defaultMessRates).join(', ')})`);
    if (!(p >= 0 && p <= 1)) throw usage(`mess.${key} must be a probability in [0, 1]`);
  }
  return { startMs, rates };
};

/** The whole fleet as a step function: each `next()` returns exactly one event. */
const createFleet = (options: GenerateOptions): { next: () => GeneratedEvent } => {
  const { startMs, rates } = validate(options);
  const rng = createRandom(options.seed ?? 0);
  const iso = createIsoFormatter();
  const agentCount = options.agents;

  let now = startMs;
  let step = 0;
  // Each agent acts every ~20 s when the fleet is small; large fleets just make the log denser.
  const meanGap = Math.min(300, Math.max(15, Math.round(20_000 / agentCount)));
  const gap = (): number => {
    const r = rng.float();
    if (r < 0.6) return rng.int(1, meanGap);
    if (r < 0.9) return rng.int(meanGap, 2 * meanGap);
    return rng.int(2 * meanGap, 6 * meanGap);
  };

  // Deliveries owed to the log: duplicates and late events, ordered by the step they are due.
  const queue: Queued[] = [];
  const schedule = (event: GeneratedEvent, delay: number): void => {
    const due = step + delay;
    let i = queue.length;
    while (i > 0 && (queue[i - 1] as Queued).step > due) i--;
    queue.splice(i, 0, { step: due, event });
  };

  const make = <T extends LifecycleEventType>(
    type: T,
    data: DataOf<T>,
    source: string,
    correlationId?: string,
    causationId?: string,
  ): GeneratedEvent => {
    const at = iso(now);
    const metadata: GeneratedMetadata =
      correlationId === undefined
        ? { at, source }
        : causationId === undefined
          ? { at, correlationId, source }
          : { at, correlationId, causationId, source };
    return { id: rng.uuid(), type, data, metadata } as GeneratedEvent;
  };

  const onSession = <T extends LifecycleEventType>(s: SimSession, type: T, data: DataOf<T>, source: string) => {
    const event = make(type, data, source, s.correlationId, s.lastEventId);
    s.lastEventId = event.id;
    return event;
  };

  // ---- ids ----
  const idOffset = rng.int(0, AGENT_ID_SPACE - 1);
  // A bijection on the 4-character space keeps ids short and unique; beyond it, longer ids.
  const agentSuffix = (n: number): string =>
    n < AGENT_ID_SPACE ? ((n * 823_543 + idOffset) % AGENT_ID_SPACE).toString(36).padStart(4, '0') : n.toString(36).padStart(6, '0');
  // Five characters: never the id of a real agent or pool.
  const ghostSuffix = (): string => (36 ** 4 + rng.int(0, 36 ** 5 - 36 ** 4 - 1)).toString(36);
  let agentCounter = 0;
  let connectionCounter = 0;
  let ghostCounter = 0;
  let pidCounter = rng.int(1_000, 30_000);
  const nextPid = (): number => {
    pidCounter += rng.int(1, 64);
    if (pidCounter > 4_194_304) pidCounter = rng.int(300, 2_000);
    return pidCounter;
  };
  const newConnection = (): string => `conn-${(connectionCounter++).toString(36)}`;

  // ---- pools ----
  const poolCount = Math.min(poolTemplates.length, Math.max(1, Math.ceil(agentCount / 8)));
  const poolIds = new Set<string>();
  const pools: SimPool[] = poolTemplates.slice(0, poolCount).map((t) => {
    let id: string;
    do id = `pl-${rng.int(0, AGENT_ID_SPACE - 1).toString(36).padStart(4, '0')}`;
    while (poolIds.has(id));
    poolIds.add(id);
    const share = (agentCount * 0.6) / poolCount;
    const maxSize = Math.max(1, Math.round(share * (0.7 + 0.6 * rng.float())));
    return {
      id,
      name: t.name,
      maxSize,
      plannedSize: maxSize,
      agentTypes: [...t.agentTypes],
      templateTypes: t.agentTypes,
      enabled: true,
      exists: false,
      live: 0,
    };
  });

  const createPool = (p: SimPool): GeneratedEvent => {
    p.exists = true;
    p.enabled = true;
    const data: DataOf<'PoolCreated'> = { poolId: p.id, name: p.name, maxSize: p.maxSize };
    if (p.agentTypes.length > 0 || rng.chance(0.5)) data.agentTypes = p.agentTypes;
    if (rng.chance(0.3)) data.enabled = true;
    return make('PoolCreated', data, 'api');
  };

  const resize = (p: SimPool): GeneratedEvent => {
    // Resizing below the live count is how pools end up over capacity.
    let by = rng.pick([-2, -1, 1, 2]);
    // A random walk, kept between 0 and about twice the planned size.
    if (p.maxSize + by < 0 || p.maxSize + by > 2 * p.plannedSize + 2) by = -by;
    p.maxSize = Math.max(0, p.maxSize + by);
    return make('PoolUpdated', { poolId: p.id, maxSize: p.maxSize }, 'api');
  };
  const poolChanges: readonly (readonly [weight: number, change: (p: SimPool) => GeneratedEvent])[] = [
    [8, resize],
    [
      4,
      (p) => {
        p.enabled = !p.enabled;
        return make('PoolUpdated', { poolId: p.id, enabled: p.enabled }, 'api');
      },
    ],
    [
      2,
      (p) => {
        p.name = `${p.name.split('#')[0]}#${rng.int(2, 9)}`;
        return make('PoolUpdated', { poolId: p.id, name: p.name, maxSize: p.maxSize }, 'api');
      },
    ],
    [
      3,
      (p) => {
        p.agentTypes = p.agentTypes.length > 0 ? [] : p.templateTypes.length > 0 ? [...p.templateTypes] : ['worker:ephemeral'];
        return make('PoolUpdated', { poolId: p.id, agentTypes: p.agentTypes }, 'api');
      },
    ],
    [
      2,
      (p) => {
        p.exists = false;
        return make('PoolDeleted', { poolId: p.id }, 'api');
      },
    ],
  ];
  const poolChangeTotal = poolChanges.reduce((sum, [w]) => sum + w, 0);

  const poolStep = (): GeneratedEvent => {
    const p = rng.pick(pools);
    if (!p.exists) return createPool(p);
    if (!p.enabled && rng.chance(0.6)) {
      p.enabled = true;
      return make('PoolUpdated', { poolId: p.id, enabled: true }, 'api');
    }
    let r = rng.float() * poolChangeTotal;
    for (const [weight, change] of poolChanges) {
      r -= weight;
      if (r < 0) return change(p);
    }
    return resize(p);
  };

  const eligible = (p: SimPool, a: SimAgent): boolean =>
    p.exists && p.enabled && p.live < p.maxSize && (p.agentTypes.length === 0 || p.agentTypes.includes(a.typeKey));

  /** The pool for a new session; undefined = unpooled, null = no free slot, wait. */
  const choosePool = (a: SimAgent): SimPool | undefined | null => {
    if (a.role === 'director') {
      // Directors are not counted by pools, but a few are dispatched through one anyway.
      const existing = pools.filter((p) => p.exists);
      return existing.length > 0 && rng.chance(0.1) ? rng.pick(existing) : undefined;
    }
    if (rng.chance(0.08)) return undefined;
    const free = pools.filter((p) => eligible(p, a));
    if (free.length > 0) return rng.pick(free);
    return rng.chance(0.2) ? undefined : null;
  };

  // ---- agents ----
  const newAgent = (slot: number, role: Role, variant: string | undefined): SimAgent => {
    const short = agentSuffix(agentCounter++);
    const name = rng.chance(0.85) ? `${rng.pick(nameParts.adjective)}-${rng.pick(nameParts.noun)}` : undefined;
    return {
      slot,
      id: `el-${short}`,
      short,
      role,
      variant,
      typeKey: variant === undefined ? role : `${role}:${variant}`,
      name,
      state: 'unregistered',
      connection: null,
      disconnectedAt: 0,
      session: null,
      sessionCount: 0,
      generation: 0,
      pastPids: [],
      held: [],
      terminatingSince: 0,
      darkUntil: 0,
      reconcilerIgnores: false,
    };
  };
  const agents: SimAgent[] = Array.from({ length: agentCount }, (_, slot) => {
    const r = rng.float();
    const role: Role = (slot === 0 && agentCount >= 3) || r < 0.05 ? 'director' : r < 0.3 ? 'steward' : 'worker';
    const variant =
      role === 'worker' ? (rng.chance(0.6) ? 'ephemeral' : undefined) : role === 'steward' ? (rng.chance(0.5) ? 'merge' : undefined) : undefined;
    return newAgent(slot, role, variant);
  });
  const removedIds: string[] = [];

  const setLive = (a: SimAgent, s: SimSession, live: boolean): void => {
    if (s.live === live) return;
    s.live = live;
    if (s.pool !== undefined && a.role !== 'director') s.pool.live += live ? 1 : -1;
  };
  const rememberPid = (a: SimAgent, pid: number | undefined): void => {
    if (pid === undefined) return;
    a.pastPids.push(pid);
    if (a.pastPids.length > 3) a.pastPids.shift();
  };
  const closeSession = (a: SimAgent): SimSession => {
    const s = sessionOf(a);
    setLive(a, s, false);
    rememberPid(a, s.pid);
    a.session = null;
    return s;
  };
  const sessionOf = (a: SimAgent): SimSession => {
    if (a.session === null) throw new Error(`generator bug: ${a.id} in state ${a.state} has no session`);
    return a.session;
  };

  const hold = (a: SimAgent, event: GeneratedEvent): void => {
    const oldest = a.held.length >= 4 ? a.held.shift() : undefined;
    if (oldest !== undefined) schedule(oldest, rng.int(1, 6));
    a.held.push(event);
  };
  const release = (a: SimAgent): void => {
    for (const event of a.held) schedule(event, rng.int(1, 8));
    a.held.length = 0;
  };
  /** An end that reaches the log late; meanwhile the log still shows the session live. */
  const maybeLate = (a: SimAgent, event: GeneratedEvent): GeneratedEvent | null => {
    if (!rng.chance(rates.late)) return event;
    hold(a, event);
    return null;
  };

  const spawnInto = (a: SimAgent, s: SimSession): GeneratedEvent => {
    const pid = rng.chance(0.95) ? nextPid() : undefined;
    s.pid = pid;
    a.state = 'running';
    const data: DataOf<'AgentSpawned'> = { agentId: a.id, sessionId: s.id };
    if (s.pool !== undefined) data.poolId = s.pool.id;
    if (pid !== undefined) data.pid = pid;
    if (rng.chance(0.9)) data.generation = a.generation;
    const event = onSession(s, 'AgentSpawned', data, 'dispatch-daemon');
    release(a);
    return event;
  };

  const registration = (a: SimAgent): DataOf<'AgentRegistered'> => {
    const data: DataOf<'AgentRegistered'> = { agentId: a.id, role: a.role };
    if (a.variant !== undefined) data.variant = a.variant;
    if (a.name !== undefined) data.name = a.name;
    return data;
  };
  const connect = (a: SimAgent): GeneratedEvent => {
    a.connection = newConnection();
    return make('AgentConnected', { agentId: a.id, connectionId: a.connection }, 'control-socket');
  };
  const disconnect = (a: SimAgent): GeneratedEvent => {
    const connectionId = a.connection ?? newConnection();
    a.connection = null;
    a.disconnectedAt = now;
    return make('AgentDisconnected', { agentId: a.id, connectionId }, 'control-socket');
  };
  const heartbeat = (a: SimAgent): GeneratedEvent => make('AgentHeartbeat', { agentId: a.id }, 'agent');

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
      schedule(gone, rng.int(1, 10));
      return connect(a);
    },
    heartbeat,
    remove: (a) => {
      const s = a.session === null ? undefined : closeSession(a);
      const data: DataOf<'AgentRemoved'> = { agentId: a.id };
      if (rng.chance(0.7)) data.reason = rng.pick(reasons.remove);
      const event = make('AgentRemoved', data, 'api', s?.correlationId);
      release(a);
      removedIds.push(a.id);
      if (removedIds.length > 8) removedIds.shift();
      // The slot is refilled by a fresh agent: ids are never reused.
      agents[a.slot] = newAgent(a.slot, a.role, a.variant);
      return event;
    },
    startSession: (a) => {
      const pool = choosePool(a);
      if (pool === null) return heartbeat(a);
      const s: SimSession = {
        id: `ses-${a.short}-${(++a.sessionCount).toString(36)}`,
        pool,
        pid: undefined,
        correlationId: rng.uuid(),
        lastEventId: undefined,
        live: false,
      };
      a.session = s;
      setLive(a, s, true);
      // Some sessions are adopted already running, without a reserved slot first.
      if (rng.chance(0.1)) return spawnInto(a, s);
      a.state = 'starting';
      const data: DataOf<'SessionStarting'> = { agentId: a.id, sessionId: s.id };
      if (pool !== undefined) data.poolId = pool.id;
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
      a.state = 'idle';
      const reason = rng.pick(reasons.startFailed);
      const source = reason === 'start_timeout' ? 'reconciler' : 'dispatch-daemon';
      return maybeLate(a, onSession(s, 'SessionStartFailed', { agentId: a.id, sessionId: s.id, reason }, source));
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
      return maybeLate(a, onSession(s, 'SessionEnded', { agentId: a.id, sessionId: s.id, reason }, 'dispatch-daemon'));
    },
    crash: (a) => {
      const s = closeSession(a);
      a.state = 'idle';
      const pidCheck = rng.chance(0.7);
      const data: DataOf<'AgentCrashed'> = { agentId: a.id, reason: pidCheck ? PID_CHECK : rng.pick(reasons.exit) };
      if (s.pid !== undefined) data.pid = s.pid;
      const event = make('AgentCrashed', data, pidCheck ? 'reconciler' : 'dispatch-daemon', s.correlationId);
      // A second reconciler saw the same death; its report lands after the next process is up.
      if (s.pid !== undefined && rng.chance(rates.late)) {
        hold(a, make('AgentCrashed', { agentId: a.id, reason: PID_CHECK, pid: s.pid }, 'reconciler', s.correlationId));
      }
      // kill -9: the control socket dies without a close event (seed 001).
      if (rng.chance(0.6)) {
        a.connection = null;
        a.disconnectedAt = now;
      }
      return event;
    },
    disconnectCrash: (a) => {
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
      const s = sessionOf(a);
      setLive(a, s, true);
      s.pid = rng.chance(0.9) ? nextPid() : undefined;
      a.state = 'running';
      const data: DataOf<'SessionResumed'> = { agentId: a.id, sessionId: s.id };
      if (s.pid !== undefined) data.pid = s.pid;
      return onSession(s, 'SessionResumed', data, 'session-manager');
    },
    // "No conversation found" on resume (seed 002).
    notFound: (a) => {
      const s = closeSession(a);
      a.state = 'idle';
      return maybeLate(a, onSession(s, 'SessionNotFound', { agentId: a.id, sessionId: s.id }, 'session-manager'));
    },
    requestTermination: (a) => {
      const s = sessionOf(a);
      if (a.state === 'suspended') {
        closeSession(a);
        a.state = 'idle';
      } else {
        a.state = 'terminating';
        a.terminatingSince = now;
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
        hold(a, onSession(s, 'RunFinished', data, 'agent-runtime'));
      }
      return event;
    },
    // The pod is deleted before it processes the stop (seed 003): the session stays terminating.
    vanish: (a) => {
      a.state = 'dark';
      a.darkUntil = now + (rng.chance(0.8) ? rng.int(5, 60) * 60_000 : rng.int(6, 24) * 3_600_000);
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
  };

  const weights = new Float64Array(Math.max(...Object.values(moves).map((m) => m.length)));
  const choose = (a: SimAgent): Action | undefined => {
    const options = moves[a.state];
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

  /** Events the projection must ignore: other orchestrators, buggy producers, agents already gone. */
  const stray = (): GeneratedEvent | null => {
    const source = 'dispatch-daemon';
    const known = rng.pick(agents);
    switch (rng.int(0, 6)) {
      case 0: {
        const agentId = `el-${ghostSuffix()}`;
        return rng.chance(0.5)
          ? make('AgentHeartbeat', { agentId }, 'agent')
          : make('AgentSpawned', { agentId, sessionId: `ses-${(ghostCounter++).toString(36)}`, pid: nextPid() }, source);
      }
      case 1: {
        if (known.state === 'unregistered') return null;
        const sessionId = `ses-${known.short}-x${(ghostCounter++).toString(36)}`;
        return rng.chance(0.5)
          ? make('SessionEnded', { agentId: known.id, sessionId, reason: 'completed' }, source)
          : make('RunStarted', { agentId: known.id, sessionId, generation: known.generation }, 'agent-runtime');
      }
      case 2: {
        const owner = rng.pick(agents);
        if (known.state === 'unregistered' || owner === known || owner.session === null) return null;
        return make('SessionEnded', { agentId: known.id, sessionId: owner.session.id, reason: 'completed' }, source);
      }
      case 3: {
        if (removedIds.length === 0) return null;
        const agentId = rng.pick(removedIds);
        return rng.chance(0.7)
          ? make('AgentHeartbeat', { agentId }, 'agent')
          : make('AgentRegistered', { agentId, role: 'worker', variant: 'ephemeral' }, 'api');
      }
      case 4:
        // The agent restarted and announces itself again.
        return known.state === 'unregistered' ? null : make('AgentRegistered', registration(known), 'agent');
      case 5: {
        // A second API instance re-applies its boot config.
        const p = rng.pick(pools);
        return p.exists ? make('PoolCreated', { poolId: p.id, name: p.name, maxSize: p.maxSize }, 'api') : null;
      }
      default:
        return make('PoolUpdated', { poolId: `pl-${ghostSuffix()}`, enabled: false }, 'api');
    }
  };

  let poolsToCreate = 0;
  const fresh = (tries: number): GeneratedEvent | null => {
    const initial = pools[poolsToCreate];
    if (initial !== undefined) {
      poolsToCreate++;
      return createPool(initial);
    }
    const r = rng.float();
    if (r < rates.stray) return stray();
    if (r < rates.stray + POOL_RATE) return poolStep();
    const a = rng.pick(agents);
    const action = choose(a);
    if (action !== undefined) return act[action](a);
    return a.state === 'dark' && tries > PATIENCE ? act.wake(a) : null;
  };

  const next = (): GeneratedEvent => {
    const due = queue[0];
    if (due !== undefined && due.step <= step) {
      queue.shift();
      step++;
      return due.event;
    }
    now += gap();
    let event = fresh(0);
    for (let tries = 1; event === null; tries++) event = fresh(tries);
    if (rng.chance(rates.skew)) event.metadata.at = iso(Math.max(startMs, now - rng.int(300, 5_000)));
    // A copy, so a consumer that decorates what it received cannot change the redelivery.
    if (rng.chance(rates.duplicate)) schedule(structuredClone(event), rng.int(1, 40));
    step++;
    return event;
  };

  return { next };
};

function* take(fleet: { next: () => GeneratedEvent }, count: number): Generator<GeneratedEvent> {
  for (let i = 0; i < count; i++) yield fleet.next();
}

function* takeLines(fleet: { next: () => GeneratedEvent }, count: number): Generator<string> {
  for (let i = 0; i < count; i++) yield serializeEvent(fleet.next());
}

/**
 * A deterministic, realistic fleet history of exactly `events` events, streamed: same options,
 * same events, byte for byte. Options are checked at once (RollcallError `usage`).
 */
export const generateHistory = (options: GenerateOptions): Generator<GeneratedEvent> =>
  take(createFleet(options), options.events);

/** The same history as NDJSON lines (each equal to `JSON.stringify(event)`), without newlines. */
export const generateNdjson = (options: GenerateOptions): Generator<string> =>
  takeLines(createFleet(options), options.events);
