import { createAgentActions } from './agentActions.js';
import { createDeliveries } from './deliveries.js';
import { createEventFactory } from './eventFactory.js';
import { createFleetClock } from './fleetClock.js';
import { createFleetHosts } from './fleetHosts.js';
import type { FleetContext } from './fleetContext.js';
import { createFleetIds } from './fleetIds.js';
import { createFleetPools } from './fleetPools.js';
import { createFleetRoster } from './fleetRoster.js';
import type { GeneratedEvent } from './generatedEvent.js';
import { resolveOptions, type GenerateOptions } from './generateOptions.js';
import { createRandom } from './random.js';
import { serializeEvent } from './serializeEvent.js';
import { createStrays } from './strays.js';

export type { GeneratedEvent, GeneratedMetadata } from './generatedEvent.js';
export { DEFAULT_START, defaultMessRates, type GenerateOptions, type MessRates } from './generateOptions.js';

/** Share of events that change a pool's configuration. */
const POOL_RATE = 0.002;
/** Share of events that are an orchestrator restarting on its host. */
const RESTART_RATE = 0.0003;
/** After this many fruitless picks a dark agent is woken, so every step emits an event. */
const PATIENCE = 8;

/** The whole fleet as a step function: each `next()` returns exactly one event. */
const createFleet = (options: GenerateOptions): { next: () => GeneratedEvent } => {
  const o = resolveOptions(options);
  const rng = createRandom(o.seed);
  const clock = createFleetClock(rng, o);
  const events = createEventFactory(rng, clock);
  const deliveries = createDeliveries(rng, o.rates);
  // Built in this order: each draws from the one random stream while it is set up.
  const ids = createFleetIds(rng);
  const ctx: FleetContext = { rng, rates: o.rates, clock, events, ids, deliveries };
  const fleetPools = createFleetPools(ctx, o.agents);
  const roster = createFleetRoster(ctx, o.agents);
  const hosts = createFleetHosts(ctx, roster, o.agents);
  const actions = createAgentActions(ctx, roster, fleetPools, hosts);
  const { act, choose, lapse } = actions;
  const stray = createStrays(ctx, roster, fleetPools);

  let poolsToCreate = 0;
  let hostsToStart = 0;
  const fresh = (tries: number): GeneratedEvent | null => {
    const initial = fleetPools.pools[poolsToCreate];
    if (initial !== undefined) {
      poolsToCreate++;
      return fleetPools.createPool(initial);
    }
    // Each host's orchestrator announces its first epoch before any agent runs there.
    const host = hosts.names[hostsToStart];
    if (host !== undefined) {
      hostsToStart++;
      return hosts.restart(host, actions);
    }
    const r = rng.float();
    if (r < o.rates.stray) return stray();
    if (r < o.rates.stray + POOL_RATE) return fleetPools.poolStep();
    if (r < o.rates.stray + POOL_RATE + RESTART_RATE) return hosts.restart(rng.pick(hosts.names), actions);
    const a = rng.pick(roster.agents);
    lapse(a);
    const action = choose(a);
    if (action !== undefined) return act[action](a);
    return a.state === 'dark' && tries > PATIENCE ? act.wake(a) : null;
  };

  const next = (): GeneratedEvent => {
    const due = deliveries.takeDue();
    if (due !== undefined) {
      deliveries.advance();
      return due;
    }
    clock.tick();
    let event = fresh(0);
    for (let tries = 1; event === null; tries++) event = fresh(tries);
    if (rng.chance(o.rates.skew)) event.metadata.at = events.iso(Math.max(clock.startMs, clock.now - rng.int(300, 5_000)));
    // A copy, so a consumer that decorates what it received cannot change the redelivery.
    if (rng.chance(o.rates.duplicate)) deliveries.schedule(structuredClone(event), rng.int(1, 40));
    deliveries.advance();
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
