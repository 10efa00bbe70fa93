import { z } from 'zod';
import { createLifecycleProjection, type LifecycleProjection } from '../projections/lifecycleProjection.js';
import type { ReplaySource } from '../replay/foldEvents.js';
import { readFileSource, readStoreSource, type OnProgress } from '../replay/replayLog.js';
import { defaultStoreUrl, openStore, type OpenStoreOptions } from '../stores/openStore.js';
import type { EventStore } from '../stores/eventStore.js';
import { untilInterrupted, usageError, type CliIo } from './cliIo.js';

/** `--until P`: a non-negative integer position. */
export const parsePosition = (flag: string, value: string | undefined): bigint | null => {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value)) throw usageError(`${flag} must be a non-negative integer position, got "${value}"`);
  return BigInt(value);
};

const IsoTime = z.iso.datetime({ offset: true });

/** `--as-of T`: an ISO-8601 time with a zone, as in metadata.at. */
export const parseIsoTime = (flag: string, value: string | undefined): string | null => {
  if (value === undefined) return null;
  if (!IsoTime.safeParse(value).success) throw usageError(`${flag} must be an ISO-8601 time with a zone (e.g. 2026-11-20T10:00:00Z), got "${value}"`);
  return value;
};

export const parsePositiveInt = (flag: string, value: string | undefined, fallback?: number): number => {
  if (value === undefined) {
    if (fallback === undefined) throw usageError(`${flag} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) throw usageError(`${flag} must be a positive integer, got "${value}"`);
  return Number(value);
};

/**
 * A positive number of seconds as milliseconds (`--every`, `--reconcile-every`): plain decimal
 * only (no hex, exponent or blanks), and finite. Any length is waited for faithfully (`pause`
 * chains timers past Node's 2^31 ms limit).
 */
export const parseIntervalSeconds = (flag: string, value: string): number => {
  const ms = Math.round(Number(value) * 1000);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(ms) || ms <= 0) throw usageError(`${flag} must be a positive number of seconds, got "${value}"`);
  return ms;
};

/** `--retention` in hours (fractions allowed), for the terminal-session window of SPEC §3. */
export const parseRetention = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const hours = Number(value);
  if (value.trim() === '' || !Number.isFinite(hours) || hours < 0) throw usageError(`--retention-hours must be a non-negative number, got "${value}"`);
  return Math.round(hours * 3_600_000);
};

/** The lifecycle projection with `--retention-hours` as its window (the default without it). */
export const projectionWithRetention = (value: string | undefined): LifecycleProjection => {
  const retentionMs = parseRetention(value);
  return createLifecycleProjection(retentionMs === undefined ? {} : { retentionMs });
};

export type LogSource = { kind: 'store'; url: string } | { kind: 'input'; path: string };

/** `--store URL` or `--input FILE` (not both); the default store otherwise. */
export const logSource = (values: { store?: string | undefined; input?: string | undefined }, io: CliIo): LogSource => {
  if (values.store !== undefined && values.input !== undefined) throw usageError('use either --store or --input, not both');
  if (values.input !== undefined) return { kind: 'input', path: values.input };
  return { kind: 'store', url: values.store ?? defaultStoreUrl(io.env) };
};

/**
 * Opens a store and guarantees it is closed after `use`. Only commands that write pass
 * `{ create: true }`: reading a store that does not exist is an error naming it (exit 3).
 */
export const withStore = async <T>(
  url: string,
  use: (store: EventStore) => Promise<T>,
  options: OpenStoreOptions = {},
): Promise<T> => {
  const store = await openStore(url, { create: false, ...options });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
};

export const sourceFlags = {
  store: { type: 'string' },
  input: { type: 'string' },
} as const;

/**
 * Hands `use` the log `source` names as a replay source that stops at SIGINT/SIGTERM: the file
 * (`--input`), or the store, opened for the call and closed after it.
 */
export const withLog = <T>(source: LogSource, io: CliIo, use: (log: ReplaySource) => Promise<T>, onProgress?: OnProgress): Promise<T> => {
  const progress = onProgress ? { onProgress } : {};
  return source.kind === 'input'
    ? use(untilInterrupted(io, readFileSource(source.path, { ...(io.signal ? { signal: io.signal } : {}), ...progress })))
    : withStore(source.url, (store) => use(untilInterrupted(io, readStoreSource(store, progress))));
};
