import type { Deliveries } from './deliveries.js';
import type { EventFactory } from './eventFactory.js';
import type { FleetClock } from './fleetClock.js';
import type { FleetIds } from './fleetIds.js';
import type { MessRates } from './generateOptions.js';
import type { Random } from './random.js';

/** What every part of the simulated fleet shares: one random stream, one clock, one outbox. */
export interface FleetContext {
  readonly rng: Random;
  readonly rates: MessRates;
  readonly clock: FleetClock;
  readonly events: EventFactory;
  readonly ids: FleetIds;
  readonly deliveries: Deliveries;
}
