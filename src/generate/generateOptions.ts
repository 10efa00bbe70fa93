import { RollcallError } from '../errors.js';
import { latestMs } from './fleetClock.js';

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
  /**
   * Spread the history over about this many days (fractions allowed), with a quiet stretch in
   * every day (see `idle`). Without it, time advances 15–300 ms per event (a dense history).
   */
  days?: number;
  /** With `days`: the share of each day in which nothing happens (0 to 0.9; default 0.5). */
  idle?: number;
  mess?: Partial<MessRates>;
}

export const DEFAULT_START = '2026-11-20T00:00:00.000Z';
export const DEFAULT_IDLE = 0.5;
export const MAX_DAYS = 36_500;
const EARLIEST_MS = Date.parse('0000-01-01T00:00:00.000Z');
const LATEST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** The options checked, with every default filled in. */
export interface ResolvedOptions {
  agents: number;
  events: number;
  seed: number | string;
  startMs: number;
  /** Null for a dense history. */
  days: number | null;
  idle: number;
  rates: MessRates;
}

const usage = (message: string): RollcallError => new RollcallError('usage', `generate: ${message}`);

/** Checks the options at once (RollcallError `usage`), before any event is made. */
export const resolveOptions = (options: GenerateOptions): ResolvedOptions => {
  if (!Number.isSafeInteger(options.agents) || options.agents < 1) throw usage('agents must be a positive integer');
  if (!Number.isSafeInteger(options.events) || options.events < 0) throw usage('events must be a non-negative integer');
  const startMs = Date.parse(options.start ?? DEFAULT_START);
  if (!Number.isFinite(startMs)) throw usage(`start is not an ISO time: ${options.start}`);
  const rates = { ...defaultMessRates, ...options.mess };
  for (const [key, p] of Object.entries(rates)) {
    if (!(key in defaultMessRates)) throw usage(`mess.${key} is not a rate (${Object.keys(defaultMessRates).join(', ')})`);
    if (!(p >= 0 && p <= 1)) throw usage(`mess.${key} must be a probability in [0, 1]`);
  }
  const days = options.days ?? null;
  if (days !== null && !(days > 0 && days <= MAX_DAYS)) throw usage(`days must be a positive number of days (at most ${MAX_DAYS})`);
  if (options.idle !== undefined && days === null) throw usage('idle needs days (the quiet share of each day)');
  const idle = options.idle ?? DEFAULT_IDLE;
  if (!(idle >= 0 && idle <= 0.9)) throw usage('idle must be a share of the day in [0, 0.9]');
  const resolved = { agents: options.agents, events: options.events, seed: options.seed ?? 0, startMs, days, idle, rates };
  // Every `at` must be a four-digit-year ISO time, the only kind a reader accepts.
  if (startMs < EARLIEST_MS || latestMs(resolved) > LATEST_MS) {
    throw usage(`start ${options.start ?? DEFAULT_START}: the history would reach past year 9999 or before year 0000 (every event's time must be YYYY-MM-DDTHH:MM:SS.sssZ)`);
  }
  return resolved;
};
