import { decodeEvent } from '../events/decodeEvent.js';
import type { LifecycleEvent } from '../events/lifecycleEvents.js';
import { generateHistory } from '../generate/generateHistory.js';
import type { EventStore } from '../stores/eventStore.js';
import { parseIsoTime } from './options.js';

/** The fleet `npm start` (`serve --seed`) appends to an empty store; docs/http.md is captured from it. */
export const NPM_START_FLEET = { agents: 300, events: 50_000, seed: 1 } as const;

export interface SeedOptions {
  agents: number;
  events: number;
  seed?: number;
  /** When the history's last event happens (ms since the epoch); default now. */
  endMs?: number;
}

export interface SeedResult {
  /** Events the generator wrote (its duplicate deliveries included). */
  generated: number;
  /** Events the store appended (a redelivered id is appended once). */
  appended: number;
  /** The time of the history's last event. */
  endAt: string;
}

// Any start will do to measure: a generated history's times are its start plus offsets the seed fixes.
const PROBE_START_MS = Date.parse('2000-01-01T00:00:00.000Z');

const latestAt = (options: { agents: number; events: number; seed: number }, startMs: number): number => {
  let latest = startMs;
  for (const e of generateHistory({ ...options, start: new Date(startMs).toISOString() })) latest = Math.max(latest, Date.parse(e.metadata.at));
  return latest;
};

/**
 * Appends a generated fleet history (deterministic for a seed) to a store, dated so that its last
 * event happens at `endMs` (now by default): a seeded dashboard shows sessions stuck for minutes,
 * not weeks, and the first event a user appends now does not push the whole history out of the
 * retention window.
 */
export const seedFleet = async (store: EventStore, options: SeedOptions): Promise<SeedResult> => {
  const shape = { agents: options.agents, events: options.events, seed: options.seed ?? 1 };
  const endMs = options.endMs ?? Date.now();
  const startMs = endMs - (latestAt(shape, PROBE_START_MS) - PROBE_START_MS);
  let batch: LifecycleEvent[] = [];
  let generated = 0;
  let appended = 0;
  for (const raw of generateHistory({ ...shape, start: new Date(startMs).toISOString() })) {
    const decoded = decodeEvent(raw);
    if (!decoded.success) throw decoded.error;
    batch.push(decoded.data);
    generated += 1;
    if (batch.length === 10_000) {
      appended += (await store.appendBatch(batch)).appended;
      batch = [];
    }
  }
  if (batch.length) appended += (await store.appendBatch(batch)).appended;
  return { generated, appended, endAt: new Date(endMs).toISOString() };
};

/** A fleet's options with `--seed-end ISO` (a usage error unless a time with a zone) as its end; now without it. */
export const seedOptions = (seedEnd: string | undefined, fleet: Omit<SeedOptions, 'endMs'>): SeedOptions => {
  const end = parseIsoTime('--seed-end', seedEnd);
  return end === null ? { ...fleet } : { ...fleet, endMs: Date.parse(end) };
};

const count = (n: number): string => n.toLocaleString('en-US');

/** What `serve --seed` and `demo` say before seeding `shown` (a store URL, masked)… */
export const seedingLine = (shown: string, options: SeedOptions): string =>
  `${shown} is empty: appending a generated fleet history (${count(options.agents)} agents, ${count(options.events)} generated events, seed ${options.seed ?? 1}, ending ${options.endMs === undefined ? 'now' : `at ${new Date(options.endMs).toISOString()}`})…\n`;

/** …and after: the events the store holds now, not the lines the generator wrote. */
export const seededLine = (seeded: SeedResult): string =>
  `appended ${count(seeded.appended)} events (${count(seeded.generated - seeded.appended)} of the ${count(seeded.generated)} generated were redeliveries of an id already appended), the last at ${seeded.endAt}\n`;
