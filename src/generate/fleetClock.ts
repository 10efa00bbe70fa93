import type { Random } from './random.js';
import type { ResolvedOptions } from './generateOptions.js';

const DAY_MS = 86_400_000;
/** The most a day's busy stretch starts later than the day: real fleets do not wake on the dot. */
const WAKE_JITTER_MS = 2 * 3_600_000;

/** The generator's wall clock: `now` is the time of the event being made; `tick` moves it on. */
export interface FleetClock {
  readonly startMs: number;
  readonly now: number;
  tick(): void;
}

/** Gaps of about `1.15 × meanGap` ms: mostly short, a few long (an agent pausing). */
const drawGap = (rng: Random, meanGap: number): number => {
  const r = rng.float();
  if (r < 0.6) return rng.int(1, meanGap);
  if (r < 0.9) return rng.int(meanGap, 2 * meanGap);
  return rng.int(2 * meanGap, 6 * meanGap);
};

const denseGap = (agents: number): number => Math.min(300, Math.max(15, Math.round(20_000 / agents)));
const sparseBusyPerDay = (idle: number): number => Math.max(1, Math.round(DAY_MS * (1 - idle)));
const sparseGap = (o: ResolvedOptions, busyPerDay: number): number => Math.max(1, Math.round(((o.days ?? 0) * busyPerDay) / Math.max(1, o.events) / 1.15));

/** The latest `at` the clock can reach in `o.events` ticks (every gap its longest), so a start can be refused up front. */
export const latestMs = (o: ResolvedOptions): number => {
  if (o.days === null) return o.startMs + o.events * 6 * denseGap(o.agents);
  const busyPerDay = sparseBusyPerDay(o.idle);
  const busy = o.events * 6 * sparseGap(o, busyPerDay);
  return o.startMs + (Math.floor(busy / busyPerDay) + 1) * DAY_MS;
};

/**
 * Dense: each agent acts every ~20 s when the fleet is small; large fleets just make the log
 * denser (15–300 ms per event). Sparse (`days`): the fleet is busy for `(1 − idle)` of each day
 * and silent for the rest, and the busy time is shared out so that `events` events span about
 * `days` days. Busy time is counted on its own clock and mapped onto the wall clock day by day,
 * so every quiet stretch is a gap in `at` of the same length, whatever the fleet was doing.
 */
export const createFleetClock = (rng: Random, o: ResolvedOptions): FleetClock => {
  const startMs = o.startMs;
  if (o.days === null) {
    const meanGap = denseGap(o.agents);
    const clock = {
      startMs,
      now: startMs,
      tick() {
        clock.now += drawGap(rng, meanGap);
      },
    };
    return clock;
  }
  const busyPerDay = sparseBusyPerDay(o.idle);
  const jitterMax = Math.min(WAKE_JITTER_MS, DAY_MS - busyPerDay);
  const meanGap = sparseGap(o, busyPerDay);
  let busy = 0;
  let day = 0;
  // Day 0 starts busy at `start`; every later day wakes a little after its start.
  let wakeOffset = 0;
  const clock = {
    startMs,
    now: startMs,
    tick() {
      busy += drawGap(rng, meanGap);
      const d = Math.floor(busy / busyPerDay);
      if (d !== day) {
        day = d;
        wakeOffset = jitterMax > 0 ? rng.int(0, jitterMax) : 0;
      }
      clock.now = startMs + day * DAY_MS + wakeOffset + (busy - day * busyPerDay);
    },
  };
  return clock;
};
