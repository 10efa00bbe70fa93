import { expect } from 'vitest';
import type { LifecycleEvent, LifecycleEventBody, LifecycleEventType, RecordedEvent } from '../../src/events/lifecycleEvents.js';
import { streamOf } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection, type LifecycleOptions } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView, type ProjectionJson } from '../../src/projections/lifecycleView.js';
import type { AnomalyReason, LifecycleState } from '../../src/projections/lifecycleState.js';
import { dedupeIds } from '../../src/replay/dedupeIds.js';
import { foldEvents } from '../../src/replay/foldEvents.js';

export const T0 = Date.parse('2026-11-20T10:00:00.000Z');
let counter = 0;

/** A deterministic UUID-shaped id for test events. */
export const testId = (n: number): string => {
  const hex = n.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
};

type DataOf<T extends LifecycleEventType> = Extract<LifecycleEventBody, { type: T }>['data'];

/** Builds a valid lifecycle event; `at` is seconds after T0 (or an ISO string). */
export const ev = <T extends LifecycleEventType>(
  type: T,
  data: DataOf<T>,
  opts: { at?: number | string; id?: string } = {},
): LifecycleEvent => {
  counter++;
  const at =
    typeof opts.at === 'string' ? opts.at : new Date(T0 + (opts.at ?? counter) * 1000).toISOString();
  return { type, data, id: opts.id ?? testId(counter), metadata: { at } } as LifecycleEvent;
};

/** Positions events 1..n in order, with per-stream revisions, as a store would. */
export const record = (events: readonly LifecycleEvent[]): RecordedEvent[] => {
  const revisions = new Map<string, bigint>();
  return events.map((e, i) => {
    const stream = streamOf(e);
    const revision = revisions.get(stream) ?? 0n;
    revisions.set(stream, revision + 1n);
    return { ...e, stream, revision, position: BigInt(i + 1) } as RecordedEvent;
  });
};

export const foldState = async (
  events: readonly LifecycleEvent[],
  options: LifecycleOptions & { batchSize?: number } = {},
): Promise<LifecycleState> => {
  const projection = createLifecycleProjection(options);
  // Through the reader's id stage, as an NDJSON replay is: redeliveries are its job (rule 4).
  const { state } = await foldEvents(projection, dedupeIds([record(events)]), { batchSize: options.batchSize ?? 4096 });
  return state;
};

export const foldView = async (events: readonly LifecycleEvent[], options: LifecycleOptions = {}): Promise<ProjectionJson> =>
  lifecycleView(await foldState(events, options));

/** A view without what differs when every event is delivered twice: positions, a quarantine's included (those of its ends), and the anomalies. */
export const withoutAnomalies = (v: ProjectionJson) => ({
  ...v,
  position: null,
  anomalies: null,
  agents: Object.fromEntries(Object.entries(v.agents).map(([id, a]) => [id, a.quarantine === null ? a : { ...a, quarantine: { ...a.quarantine, ends: [] } }])),
});

/**
 * Given events, then state: runs the check on the fold of the events, and again with every event
 * delivered twice in a row (Emmett's numberOfTimes: 2), which must change nothing but the anomalies.
 */
export const given = (...events: LifecycleEvent[]) => {
  const run = async (check: (view: ProjectionJson) => void): Promise<void> => {
    const once = await foldView(events);
    check(once);
    const twice = await foldView(events.flatMap((e) => [e, e]));
    expect(withoutAnomalies(twice)).toEqual(withoutAnomalies(once));
    expect(twice.anomalies.byReason.duplicate ?? 0).toBe(events.length + (once.anomalies.byReason.duplicate ?? 0));
  };
  return {
    then: (check: (view: ProjectionJson) => void) => run(check),
    /** The last event is ignored with this anomaly reason, and changes nothing. */
    thenAnomaly: async (reason: AnomalyReason, check: (view: ProjectionJson) => void = () => {}) => {
      const before = await foldView(events.slice(0, -1));
      return run((view) => {
        const last = view.anomalies.recent[view.anomalies.recent.length - 1];
        expect(last?.reason).toBe(reason);
        expect(last?.eventId).toBe(events[events.length - 1]!.id);
        expect(last?.position).toBe(String(events.length));
        // "Ignored" means the state is left unchanged.
        expect(withoutAnomalies(view)).toEqual(withoutAnomalies(before));
        check(view);
      });
    },
  };
};

// Short builders for the common events.
export const pool = (poolId: string, maxSize = 1, extra: Partial<DataOf<'PoolCreated'>> = {}) =>
  ev('PoolCreated', { poolId, name: poolId, maxSize, ...extra });
export const agent = (agentId: string, role = 'worker', variant?: string) =>
  ev('AgentRegistered', variant === undefined ? { agentId, role } : { agentId, role, variant });
export const starting = (agentId: string, sessionId: string, poolId?: string) =>
  ev('SessionStarting', poolId === undefined ? { agentId, sessionId } : { agentId, sessionId, poolId });
export const spawned = (agentId: string, sessionId: string, extra: Partial<DataOf<'AgentSpawned'>> = {}) =>
  ev('AgentSpawned', { agentId, sessionId, ...extra });
export const ended = (agentId: string, sessionId: string, reason = 'done') => ev('SessionEnded', { agentId, sessionId, reason });
