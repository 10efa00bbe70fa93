import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { trackLifecycleChanges } from '../projections/lifecycleChanged.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import { isLive, type LifecycleState } from '../projections/lifecycleState.js';
import type { PoolSlotHistoryJson, SlotIntervalJson } from '../projections/viewJson.js';
import type { ReplaySource } from '../replay/foldEvents.js';
import { isDuplicate, isInvalid } from '../replay/replayItem.js';

export type { PoolSlotHistoryJson, SlotIntervalJson } from '../projections/viewJson.js';

// SPEC §7.4's abnormal ends: by the event that ended the session, or by the reason the clock or a restart gave.
const ABNORMAL_EVENTS = new Set(['AgentCrashed', 'SessionStartFailed', 'SessionNotFound']);
const ABNORMAL_REASONS = new Set(['lease_expired', 'orchestrator_restarted']);

/** At most this many holds in one answer: those that began last (open or not) are kept. */
export const SLOT_HISTORY_LIMIT = 5_000;

export interface SlotHistoryOptions {
  /** The range of event time (inclusive ISO times); the log is read up to `to`. */
  from: string;
  to: string;
  /** Read no further than this position (the live one, for a server). */
  until?: bigint | null;
  limit?: number;
}

/** Whether a session takes a slot of `poolId` (the same rule as the view's occupancy: a live session, directors take none). */
const holds = (state: LifecycleState, sessionId: string, poolId: string): boolean => {
  const s = state.sessions.get(sessionId);
  if (s === undefined || !isLive(s.state) || s.poolId !== poolId) return false;
  return state.agents.get(s.agentId)?.role !== 'director';
};

const byStart = (a: SlotIntervalJson, b: SlotIntervalJson): number => (BigInt(a.fromPosition) < BigInt(b.fromPosition) ? -1 : 1);

/**
 * Who held which slot of a pool when (SPEC §7.5's slot history): folds the log to `to`, following
 * each event's `changed` sessions, and gives each hold the lowest slot free when it began. Slots
 * are assigned from the log's start, so a hold keeps its slot whatever range is asked.
 */
export const poolSlotHistory = async (projection: LifecycleProjection, source: ReplaySource, poolId: string, options: SlotHistoryOptions): Promise<PoolSlotHistoryJson> => {
  const state = projection.initialState();
  const tracker = trackLifecycleChanges(projection, state);
  const fromMs = Date.parse(options.from);
  const toMs = Date.parse(options.to);
  const until = options.until ?? null;
  const limit = options.limit ?? SLOT_HISTORY_LIMIT;
  const open = new Map<string, SlotIntervalJson>();
  const taken: boolean[] = [];
  const closed: SlotIntervalJson[] = [];
  let truncated = false;

  const take = (event: RecordedEvent, sessionId: string) => {
    let slot = taken.indexOf(false);
    if (slot === -1) slot = taken.length;
    taken[slot] = true;
    const s = state.sessions.get(sessionId)!;
    open.set(sessionId, { slot, agentId: s.agentId, sessionId, from: event.metadata.at, fromPosition: event.position.toString(), to: null, toPosition: null, endedAs: null, abnormal: false });
  };
  const free = (event: RecordedEvent, hold: SlotIntervalJson) => {
    open.delete(hold.sessionId);
    taken[hold.slot] = false;
    const s = state.sessions.get(hold.sessionId);
    // A lapsed lease ends its session at its expiry, which the event that moved the clock past it may follow.
    const to = s !== undefined && s.endedAt !== null && !isLive(s.state) && s.state !== 'suspended' ? s.endedAt : event.metadata.at;
    const endedAs = s === undefined ? null : (s.terminationReason ?? s.state);
    const abnormal = s !== undefined && s.state !== 'suspended' && (ABNORMAL_EVENTS.has(event.type) || ABNORMAL_REASONS.has(endedAs ?? ''));
    const ended: SlotIntervalJson = { ...hold, to, toPosition: event.position.toString(), endedAs, abnormal };
    if (Date.parse(ended.to!) < fromMs) return;
    closed.push(ended);
    // Bounds memory only: a closed hold with `limit` closed ones that began after it cannot be in the
    // answer. Trimmed at twice the limit so that the sort is paid once per `limit` holds.
    if (closed.length > 2 * limit) {
      closed.sort(byStart);
      closed.splice(0, closed.length - limit);
      truncated = true;
    }
  };

  outer: for await (const chunk of source) {
    for (const item of chunk) {
      // A damaged row stops the answer, as it stops explain and audit.
      if (isInvalid(item)) throw item.invalid;
      const event = isDuplicate(item) ? item.event : item;
      if (until !== null && event.position > until) break outer;
      if (Date.parse(event.metadata.at) > toMs) break outer;
      if (isDuplicate(item)) {
        tracker.applyDuplicate(event);
        continue;
      }
      const { changed } = tracker.apply(event);
      // Frees first, so that a slot one event frees can go to a hold the same event begins.
      for (const sessionId of changed.sessions) {
        const hold = open.get(sessionId);
        if (hold !== undefined && !holds(state, sessionId, poolId)) free(event, hold);
      }
      for (const sessionId of changed.sessions) {
        if (!open.has(sessionId) && holds(state, sessionId, poolId)) take(event, sessionId);
      }
    }
  }

  const intervals = [...closed, ...open.values()].sort(byStart);
  if (intervals.length > limit) {
    intervals.splice(0, intervals.length - limit);
    truncated = true;
  }
  const pool = state.pools.get(poolId);
  return {
    poolId,
    position: state.position === null ? null : state.position.toString(),
    from: options.from,
    to: options.to,
    exists: pool !== undefined,
    max: pool?.maxSize ?? null,
    slots: intervals.reduce((n, i) => Math.max(n, i.slot + 1), 0),
    intervals,
    truncated,
  };
};
