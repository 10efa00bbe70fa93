import { randomUUID } from 'node:crypto';
import { RollcallError } from '../errors.js';
import { decodeEvent, decodeLine, type DecodeResult } from '../events/decodeEvent.js';
import { uuidBytes, uuidV5 } from '../events/eventId.js';
import type { LifecycleEvent } from '../events/lifecycleEvents.js';
import { splitLines, type NdjsonLine, type ReadLinesOptions } from '../ndjson/splitLines.js';
import { textLines } from '../ndjson/textLines.js';
import type { EventStore } from '../stores/eventStore.js';
import { groupCommitFor } from './groupCommit.js';

/** SPEC §1.1: an event stamped more than this far ahead of the appender's clock is refused. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

const LINE_ID_NAMESPACE = uuidBytes('9d3f6a52-7c1e-4b0a-8e95-3f2d1c6b7a40');

export interface AppendEventsOptions extends ReadLinesOptions {
  /** The appender's clock, for the clock-skew check (default: now). */
  now?: Date | number;
  /** How far `metadata.at` may be ahead of `now` (default 5 min). */
  maxClockSkewMs?: number;
  /** Aborting it stops the validation; nothing is written once it has aborted. */
  signal?: AbortSignal;
  /**
   * Progress, for a display: `'validate'` after each chunk of input with the events validated so
   * far (`total` known only for an array of objects); `'write'` with `(0, n)` as the write of the
   * `n` valid events starts and `(n, n)` once the store has them. The write is one `appendBatch`,
   * so nothing is reported inside it. A hook that throws is ignored: it never changes what is appended.
   */
  onProgress?: (done: number, total: number | null, phase: AppendPhase) => void;
}

/** What `appendEvents` is doing when it reports progress: reading and validating the input, or writing it. */
export type AppendPhase = 'validate' | 'write';

export interface AppendSummary {
  /** Position of the first event this call wrote (null when it wrote none, or the store cannot say). */
  first: bigint | null;
  /** Position of the last event this call wrote (null when it wrote none). */
  last: bigint | null;
  appended: number;
  /** Events whose id was already stored (or repeated in the input): skipped, never written twice. */
  duplicates: number;
}

export type AppendEventsResult = { success: true; data: AppendSummary } | { success: false; error: RollcallError };

/** One event object, an array of them, NDJSON text, NDJSON bytes, or a byte stream (a file, stdin, a request). */
export type AppendInput = unknown;

type Failure = { success: false; error: RollcallError };

/** Whole seconds, rounded up (so "1 s ahead" is never printed for an event within the limit). */
const duration = (ms: number): string => `${Math.ceil(ms / 1000)} s`;

const isStream = (v: unknown): v is AsyncIterable<Uint8Array | string> =>
  typeof v === 'object' && v !== null && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';

/** Calls the progress hook, if any; a display that fails never decides an append. */
const report = (options: AppendEventsOptions, done: number, total: number | null, phase: AppendPhase): void => {
  try {
    options.onProgress?.(done, total, phase);
  } catch {
    // ignored: see AppendEventsOptions.onProgress
  }
};

const interrupted = (signal: AbortSignal): Failure => ({
  success: false,
  error: new RollcallError('interrupted', `interrupted by ${String(signal.reason ?? 'an abort')} before anything was appended`),
});

/**
 * Validates a whole input before anything is written: every event decoded strictly (unknown fields
 * refused, UUIDs lowercased), checked for what a store would refuse, and for clock skew. Events
 * without an id get one: from an NDJSON line, a name-based UUID of its line number and text (so a
 * re-run of the same file appends nothing twice); from an object, a random one.
 */
const validate = async (input: AppendInput, options: AppendEventsOptions): Promise<{ success: true; data: LifecycleEvent[] } | Failure> => {
  const now = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  const maxSkewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  const events: LifecycleEvent[] = [];

  const accept = (result: DecodeResult, index: number, line: number | null): Failure | null => {
    if (!result.success) return { success: false, error: withIndex(result.error, index) };
    const e = result.data;
    const ahead = Date.parse(e.metadata.at) - now;
    if (ahead > maxSkewMs) {
      const where = line !== null ? `line ${line}` : `events[${index}]`;
      return {
        success: false,
        error: new RollcallError(
          'clock-skew',
          `${where}: metadata.at: ${e.metadata.at} is ${duration(ahead)} ahead of this machine's clock (at most ${duration(maxSkewMs)} allowed); nothing appended`,
          { path: 'metadata.at', index, ...(line !== null ? { line } : {}) },
        ),
      };
    }
    events.push(e);
    return null;
  };

  const fromLines = async (source: AsyncIterable<NdjsonLine[]> | Iterable<NdjsonLine[]>): Promise<Failure | null> => {
    for await (const lines of source) {
      if (options.signal?.aborted) return interrupted(options.signal);
      for (const l of lines) {
        if (l.error !== undefined) return { success: false, error: withIndex(l.error, events.length) };
        const missingId = () => uuidV5(`${l.line}\n${l.text}`, LINE_ID_NAMESPACE);
        const failure = accept(decodeLine(l.text, { line: l.line }, { missingId, storable: true }), events.length, l.line);
        if (failure) return failure;
      }
      report(options, events.length, null, 'validate');
    }
    return null;
  };

  let failure: Failure | null;
  if (typeof input === 'string') failure = await fromLines([textLines(input)]);
  else if (input instanceof Uint8Array || isStream(input)) failure = await fromLines(splitLines(input instanceof Uint8Array ? [input] : input, options));
  else {
    const list = Array.isArray(input) ? input : [input];
    failure = null;
    for (let i = 0; i < list.length && !failure; i++) {
      failure = accept(decodeEvent(list[i], { index: i }, { missingId: randomUUID, storable: true }), i, null);
      if (!failure && ((i + 1) % 1000 === 0 || i + 1 === list.length)) report(options, i + 1, list.length, 'validate');
    }
  }
  if (failure) return failure;
  if (options.signal?.aborted) return interrupted(options.signal);
  return { success: true, data: events };
};

const withIndex = (error: RollcallError, index: number): RollcallError =>
  error.index !== undefined
    ? error
    : new RollcallError(error.code, error.message, {
        index,
        ...(error.line !== undefined ? { line: error.line } : {}),
        ...(error.path !== undefined ? { path: error.path } : {}),
        ...(error.position !== undefined ? { position: error.position } : {}),
      });

/**
 * The validated append an orchestrator (and `rollcall append`, and `POST /v1/events`) uses: all or
 * nothing. The whole input is validated first (decode, what a store would refuse, clock skew, ids);
 * any bad event fails the call naming it, with nothing written and, when `store` is a function,
 * no store even opened. Then every event goes to the store in one `appendBatch`, in input order,
 * through the store's group-commit queue (groupCommitFor): concurrent calls share a transaction,
 * each still all or nothing and answered once its group has committed:
 * one transaction on sqlite, PostgreSQL and memory; on EventStoreDB one append per stream run, so
 * an interrupted write is completed by running the same append again (ids are idempotent).
 */
export const appendEvents = async (
  store: EventStore | (() => Promise<EventStore>),
  input: AppendInput,
  options: AppendEventsOptions = {},
): Promise<AppendEventsResult> => {
  let valid: Awaited<ReturnType<typeof validate>>;
  try {
    valid = await validate(input, options);
  } catch (e) {
    // A stream that fails while it is read (a file that vanished, a request cut short) is an input error.
    if (options.signal?.aborted) return interrupted(options.signal);
    if (e instanceof RollcallError) return { success: false, error: e };
    return { success: false, error: new RollcallError('io', `cannot read the input: ${(e as Error).message}`, { cause: e }) };
  }
  if (!valid.success) return valid;
  const events = valid.data;
  if (events.length === 0) return { success: true, data: { first: null, last: null, appended: 0, duplicates: 0 } };
  try {
    report(options, 0, events.length, 'write');
    const target = typeof store === 'function' ? await store() : store;
    const r = await groupCommitFor(target).appendBatch(events);
    report(options, events.length, events.length, 'write');
    const first = r.lastPosition === null ? null : (r.firstPosition ?? null);
    return { success: true, data: { first, last: r.lastPosition, appended: r.appended, duplicates: r.duplicates } };
  } catch (e) {
    if (e instanceof RollcallError) return { success: false, error: e };
    throw e;
  }
};
