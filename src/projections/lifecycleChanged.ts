import type { RecordedEvent } from '../events/lifecycleEvents.js';
import type { Draft } from 'immer';
import type { FoldReport, LifecycleProjection } from './lifecycleProjection.js';
import { isLive, type LifecycleState, type SessionRecord } from './lifecycleState.js';

/** Which entities of the SPEC §3 view one event changed (ids sorted). */
export interface Changed {
  pools: string[];
  agents: string[];
  sessions: string[];
}

/** What one event changed, plus the event's type and position (the `Change` of src/live). */
export interface TrackedChange {
  position: bigint;
  type: string;
  changed: Changed;
}

export interface LifecycleChangeTracker {
  /** Applies one event to the state in place and says which view entities it changed. */
  apply(event: RecordedEvent): TrackedChange;
  /** Records an undecodable event (an anomaly; no entity changes). */
  applyInvalid(info: { position: bigint; eventId: string | null; type: string | null; message: string }): TrackedChange;
  /** Records a redelivery of an id already applied (rule 4: an anomaly; no entity changes, the clock stays). */
  applyDuplicate(event: RecordedEvent): TrackedChange;
}

export const NOTHING_CHANGED: Changed = Object.freeze({
  pools: Object.freeze([]) as unknown as string[],
  agents: Object.freeze([]) as unknown as string[],
  sessions: Object.freeze([]) as unknown as string[],
}) as Changed;

type Plain = Record<string, unknown>;

// One level deep: reducers replace nested objects (run, connection) but mutate some arrays in place
// (openSessionIds), so a copy keeps the values the comparison needs. The spread is V8's fast object
// clone; only nested values are copied again. This runs for a few records per live event, so it
// allocates nothing but the copies (no key arrays).
const copyRecord = (r: object): Plain => {
  const c: Plain = { ...(r as Plain) };
  for (const k in c) {
    const v = c[k];
    if (v !== null && typeof v === 'object') c[k] = Array.isArray(v) ? v.slice() : { ...(v as Plain) };
  }
  return c;
};

const keyCount = (o: object): number => {
  let n = 0;
  for (const _ in o) n++;
  return n;
};

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  let n = 0;
  for (const k in a) {
    n++;
    if ((a as Plain)[k] !== (b as Plain)[k]) return false;
  }
  return n === keyCount(b);
};

const sameRecord = (before: Plain | undefined, after: object | undefined): boolean => {
  if (before === undefined || after === undefined) return before === undefined && after === undefined;
  let n = 0;
  for (const k in after) {
    n++;
    if (!sameValue(before[k], (after as Plain)[k])) return false;
  }
  return n === keyCount(before);
};

/** Which of an agent's open sessions an event other than the one it names can change. */
const AGENT_WIDE: Partial<Record<RecordedEvent['type'], 'open' | 'live'>> = {
  AgentStopped: 'open',
  AgentRemoved: 'open',
  AgentCrashed: 'live',
  SessionStarting: 'live',
  AgentSpawned: 'live',
  SessionResumed: 'live',
  // A heartbeat renews its agent's live lease (SPEC §7.2).
  AgentHeartbeat: 'live',
};

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const sortedUnique = (ids: string[]): string[] => {
  if (ids.length < 2) return ids;
  ids.sort(byCodeUnit);
  let w = 1;
  for (let i = 1; i < ids.length; i++) if (ids[i] !== ids[w - 1]) ids[w++] = ids[i]!;
  ids.length = w;
  return ids;
};

/**
 * Applies lifecycle events in place and computes each one's `changed` from the ids it names: its
 * agent, the session it names and the agent's open sessions (supersede, stop, crash and remove
 * touch those), its pool, and what is derived from them — a session changing liveness changes its
 * pool's occupancy; a session or agent leaving the view when the retention horizon passes it.
 * It copies a few small records per event, never the state. It may name an entity whose JSON did
 * not change (e.g. a disconnect of an already disconnected connection); it never omits one that did.
 */
export const trackLifecycleChanges = (projection: LifecycleProjection, state: LifecycleState): LifecycleChangeTracker => {
  // The tracker owns the state it is given and mutates it in place (no immer draft around it).
  const draft = state as Draft<LifecycleState>;
  // What the reducer did beyond the ids the event names, while applying the current event: it
  // keeps the one expiry heap (retention) and the lease heap, and says what they ended or evicted.
  // `applyReported` points it at the current event's lists; the reducer reports only inside it
  // (anything else would push into frozen arrays, and throw).
  let out: Changed = NOTHING_CHANGED;
  const report: FoldReport = {
    evictedSession(sessionId, agentId) {
      out.sessions.push(sessionId);
      // Its agent's representation lists the agent's sessions in view (serve's /v1/agents/{id}).
      out.agents.push(agentId);
    },
    evictedAgent(agentId) {
      out.agents.push(agentId);
    },
    sessionEnded(sessionId, agentId, poolId) {
      out.sessions.push(sessionId);
      out.agents.push(agentId);
      // A live session ended: its pool's occupancy changed.
      if (poolId !== null && state.pools.has(poolId)) out.pools.push(poolId);
    },
    sessionAdopted(sessionId, agentId) {
      out.sessions.push(sessionId);
      out.agents.push(agentId);
    },
  };
  const applyReported = (e: RecordedEvent, pools: string[], agents: string[], sessions: string[]) => {
    out = { pools, agents, sessions };
    projection.applyReporting(draft, e, report);
  };

  const result = (event: { position: bigint; type: string }, pools: string[], agents: string[], sessions: string[]): TrackedChange => ({
    position: event.position,
    type: event.type,
    changed:
      pools.length + agents.length + sessions.length === 0
        ? NOTHING_CHANGED
        : { pools: sortedUnique(pools), agents: sortedUnique(agents), sessions: sortedUnique(sessions) },
  });

  const apply = (e: RecordedEvent): TrackedChange => {
    const d = e.data as { agentId?: string; sessionId?: string; poolId?: string };
    const pools: string[] = [];
    const agents: string[] = [];
    const sessions: string[] = [];

    if (e.type === 'PoolCreated' || e.type === 'PoolUpdated' || e.type === 'PoolDeleted') {
      const poolId = d.poolId!;
      const before = state.pools.get(poolId);
      const copy = before === undefined ? undefined : copyRecord(before);
      applyReported(e, pools, agents, sessions);
      if (!sameRecord(copy, state.pools.get(poolId))) pools.push(poolId);
      return result(e, pools, agents, sessions);
    }

    if (d.agentId === undefined) {
      // A host's event (OrchestratorStarted): what it ended or adopted, the reducer reports.
      applyReported(e, pools, agents, sessions);
      return result(e, pools, agents, sessions);
    }

    const agentId = d.agentId;
    const agentBefore = state.agents.get(agentId);
    const agentCopy = agentBefore === undefined ? undefined : copyRecord(agentBefore);
    // The sessions this event can touch: the one it names, plus, for an agent-wide event, every open
    // session of its agent, and for a start or a crash its live ones (supersede, rule 11; crash, rule 8).
    // Only those: an agent can hold many suspended sessions, and most events touch none of them.
    const ids: string[] = [];
    if (agentBefore !== undefined) {
      const scope = AGENT_WIDE[e.type];
      if (scope === 'open') ids.push(...agentBefore.openSessionIds);
      else if (scope === 'live') {
        for (const id of agentBefore.openSessionIds) {
          const s = state.sessions.get(id);
          if (s !== undefined && isLive(s.state)) ids.push(id);
        }
      }
    }
    if (d.sessionId !== undefined && !ids.includes(d.sessionId)) ids.push(d.sessionId);
    const copies: Array<Plain | undefined> = ids.map((id) => {
      const s = state.sessions.get(id);
      return s === undefined ? undefined : copyRecord(s);
    });

    // What the clock ended or evicted is named whatever else happened. An event the reducer ignored
    // (an anomaly) may still have moved the clock; a quarantined start is applied and noted.
    applyReported(e, pools, agents, sessions);

    {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        const before = copies[i] as unknown as SessionRecord | undefined;
        const after = state.sessions.get(id);
        if (sameRecord(before as unknown as Plain | undefined, after)) continue;
        sessions.push(id);
        agents.push(after?.agentId ?? before!.agentId);
        const wasLive = before !== undefined && isLive(before.state);
        const nowLive = after !== undefined && isLive(after.state);
        // Liveness changed, or a live session took a pool (AgentSpawned naming one for a pool-less start).
        if (wasLive !== nowLive || (nowLive && before?.poolId !== after?.poolId)) {
          for (const poolId of [before?.poolId, after?.poolId]) if (poolId != null && state.pools.has(poolId)) pools.push(poolId);
        }
      }
      const agentAfter = state.agents.get(agentId);
      if (!sameRecord(agentCopy, agentAfter)) agents.push(agentId);
    }
    return result(e, pools, agents, sessions);
  };

  const applyInvalid = (info: { position: bigint; eventId: string | null; type: string | null; message: string }): TrackedChange => {
    projection.applyInvalid?.(draft, info);
    return { position: info.position, type: info.type ?? 'invalid', changed: NOTHING_CHANGED };
  };

  const applyDuplicate = (e: RecordedEvent): TrackedChange => {
    projection.applyDuplicate?.(draft, { position: e.position, eventId: e.id, type: e.type });
    return { position: e.position, type: e.type, changed: NOTHING_CHANGED };
  };

  return { apply, applyInvalid, applyDuplicate };
};
