import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { RollcallError, type RollcallErrorFields } from '../errors.js';
import { validators } from './generated/validateEvent.js';
import { EventEnvelope, LifecycleEventBody, type LifecycleEvent } from './lifecycleEvents.js';
import { storableIssue } from './storableIssue.js';
import { upcast, type RawEvent } from './upcasters.js';

/** Where a raw event came from, so that an error can name it. */
export interface EventSource {
  line?: number;
  position?: bigint;
  /** 0-based index in a caller's array of events. */
  index?: number;
}

export interface DecodeOptions {
  /** Id for an event that has none (default: a random UUID). */
  missingId?: () => string;
  /**
   * Also refuse what a store would refuse at write time (NUL or lone surrogates in any string,
   * nesting deeper than 64): set by every append, so an append fails before anything is written.
   */
  storable?: boolean;
  /**
   * `false`: validate with zod alone, skipping the compiled validator (the same verdicts, results
   * and errors, only slower): for the property that holds the two equal, and the bench's baseline.
   */
  fast?: boolean;
}

/**
 * `verbatim`: the event equals the raw value (no upcast, its own id as given), so the JSON text it
 * was parsed from is an exact encoding of it.
 */
export type DecodeResult = { success: true; data: LifecycleEvent; verbatim: boolean } | { success: false; error: RollcallError };

const where = (src: EventSource): string =>
  src.line !== undefined
    ? `line ${src.line}`
    : src.position !== undefined
      ? `position ${src.position}`
      : src.index !== undefined
        ? `events[${src.index}]`
        : 'event';

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );

/** The error fields that say where the event came from. */
// Stryker disable ConditionalExpression: RollcallError copies each field as given, so `{ line: undefined }` and `{}` make the same error
const sourceFields = (src: EventSource): RollcallErrorFields => ({
  ...(src.line !== undefined ? { line: src.line } : {}),
  ...(src.index !== undefined ? { index: src.index } : {}),
  ...(src.position !== undefined ? { position: src.position } : {}),
});
// Stryker restore ConditionalExpression

const fail = (src: EventSource, code: 'invalid-event' | 'unknown-event-type', path: string, msg: string): DecodeResult => ({
  success: false,
  error: new RollcallError(code, `${where(src)}: ${path}: ${msg}`, { path, ...sourceFields(src) }),
});

const firstIssue = (src: EventSource, prefix: readonly PropertyKey[], error: z.ZodError): DecodeResult => {
  const issue = error.issues[0]!;
  const path = formatPath([...prefix, ...issue.path]) || '(event)';
  return fail(src, 'invalid-event', path, issue.message);
};

interface TypeSchemas {
  /** The full schema (envelope + strict data): the rule, and the wording of every refusal. */
  zod: z.ZodType;
  /**
   * The same schema compiled by ajv at build time (src/events/generated, from eventJsonSchema):
   * true exactly when `zod` accepts the event and returns it unchanged (a property test holds the
   * two to the same verdicts and results).
   */
  fast: (raw: unknown) => boolean;
}

// One full schema (envelope + strict data) per type: a single parse per event, no union dispatch.
// The envelope is strict like `data`: an unknown top-level field is refused, naming it.
const schemaByType = new Map<string, TypeSchemas>(
  LifecycleEventBody.options.map((body) => {
    const type = body.shape.type.value;
    const zod = body.extend({ id: EventEnvelope.shape.id, metadata: EventEnvelope.shape.metadata }).strict();
    return [type, { zod, fast: validators[type] as (raw: unknown) => boolean }];
  }),
);

const hasUpper = (id: string): boolean => {
  // Stryker disable next-line EqualityOperator: one more turn reads charCodeAt(id.length), NaN, which is no uppercase letter
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c >= 65 && c <= 70) return true;
  }
  return false;
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates one raw event (already JSON-parsed): upcasting of older shapes, then the strict schema
 * of its type, envelope included. Missing ids are filled by `options.missingId` (default: random).
 * The event returned is a new object; its `data` and `metadata` may be the input's own (never
 * modified here), so a caller that goes on changing the input should pass a copy.
 */
export const decodeEvent = (raw: unknown, src: EventSource = {}, options: DecodeOptions = {}): DecodeResult => {
  if (!isRecord(raw)) return fail(src, 'invalid-event', '(event)', 'expected a JSON object');
  if (typeof raw['type'] !== 'string') return fail(src, 'invalid-event', 'type', 'expected the event type as a string');
  if (options.storable) {
    const issue = storableIssue(raw);
    if (issue) return fail(src, 'invalid-event', issue.path, issue.message);
  }
  const current = upcast(raw as unknown as RawEvent);
  const schemas = schemaByType.get(current.type);
  if (schemas === undefined) return fail(src, 'unknown-event-type', 'type', `unknown event type "${current.type}"`);
  let event: LifecycleEvent;
  // The schemas have no transforms or defaults, and strict objects refuse unknown keys: what zod
  // accepts, it returns unchanged (as a copy). So the event is verbatim unless upcast or re-id'd.
  let verbatim = (current as unknown) === raw;
  if (verbatim && options.fast !== false && schemas.fast(raw)) {
    // What zod would return, without zod: a new envelope (in the schema's key order) around the
    // input's own data and metadata, which zod would have copied (equal, keys in the input's
    // order). zod runs only for what this refuses: to word the error, or to decide a case the
    // compiled schema leaves to it (a `__proto__` key in metadata), and for upcast shapes.
    event = { type: current.type, data: current.data, id: current.id, metadata: current.metadata } as LifecycleEvent;
  } else {
    const parsed = schemas.zod.safeParse(current);
    if (!parsed.success) return firstIssue(src, [], parsed.error);
    event = parsed.data as LifecycleEvent;
  }
  if (event.id === undefined) {
    event.id = (options.missingId ?? randomUUID)();
    verbatim = false;
  } else if (hasUpper(event.id)) {
    // UUIDs compare case-insensitively: an uppercase copy of an id is the same id (idempotency).
    event.id = event.id.toLowerCase();
    verbatim = false;
  }
  return { success: true, data: event, verbatim };
};

/**
 * The raw event itself when `decodeEvent(raw)` would accept it exactly as given (no upcast, its own
 * lowercase id, the compiled validator's verdict), else null: then `decodeEvent` decides, and words
 * any refusal. For a reader that builds its own record around the event's parts: the common event
 * costs no envelope or result object on the way.
 */
export const verbatimEvent = (raw: unknown): LifecycleEvent | null => {
  if (!isRecord(raw)) return null;
  const type = raw['type'];
  if (typeof type !== 'string') return null;
  const schemas = schemaByType.get(type);
  if (schemas === undefined || upcast(raw as unknown as RawEvent) !== (raw as unknown) || !schemas.fast(raw)) return null;
  const id = raw['id'];
  return typeof id === 'string' && !hasUpper(id) ? (raw as unknown as LifecycleEvent) : null;
};

/** JSON.parse's complaint, with the characters a terminal does not show named (a BOM, NUL, control codes). */
const jsonProblem = (line: string, e: Error): string => {
  if (line.includes('\uFEFF')) return 'a byte order mark (U+FEFF) inside the line; only one at the very start of the input is accepted';
  // V8 quotes at most a few characters of the line, so the message stays short.
  return e.message.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\uFEFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
};

/** Parses and validates one NDJSON line. */
export const decodeLine = (line: string, src: EventSource = {}, options: DecodeOptions = {}): DecodeResult => {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return {
      success: false,
      error: new RollcallError('invalid-json', `${where(src)}: not valid JSON (${jsonProblem(line, e as Error)})`, sourceFields(src)),
    };
  }
  return decodeEvent(raw, src, options);
};
