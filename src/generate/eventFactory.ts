import type { LifecycleEventType } from '../events/lifecycleEvents.js';
import type { FleetClock } from './fleetClock.js';
import type { SimSession } from './fleetModel.js';
import type { DataOf, GeneratedEvent, GeneratedMetadata } from './generatedEvent.js';
import { createIsoFormatter } from './isoTime.js';
import type { Random } from './random.js';

export interface EventFactory {
  /** An event stamped with the clock's `now` and a fresh id. */
  make<T extends LifecycleEventType>(type: T, data: DataOf<T>, source: string, correlationId?: string, causationId?: string): GeneratedEvent;
  /** An event of a session: correlated with it, caused by its previous event. */
  onSession<T extends LifecycleEventType>(s: SimSession, type: T, data: DataOf<T>, source: string): GeneratedEvent;
  /** The ISO form of a time (cached per minute). */
  iso(ms: number): string;
}

export const createEventFactory = (rng: Random, clock: FleetClock): EventFactory => {
  const iso = createIsoFormatter();
  const make: EventFactory['make'] = (type, data, source, correlationId, causationId) => {
    const at = iso(clock.now);
    const metadata: GeneratedMetadata =
      correlationId === undefined
        ? { at, source }
        : causationId === undefined
          ? { at, correlationId, source }
          : { at, correlationId, causationId, source };
    return { id: rng.uuid(), type, data, metadata } as GeneratedEvent;
  };
  return {
    make,
    onSession(s, type, data, source) {
      const event = make(type, data, source, s.correlationId, s.lastEventId);
      s.lastEventId = event.id;
      return event;
    },
    iso,
  };
};
