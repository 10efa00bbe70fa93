import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { RollcallError } from '../errors.js';
import { EventEnvelope, LifecycleEventBody, type LifecycleEvent } from './lifecycleEvents.js';
import { compileAcceptor, type Acceptor } from './fastAcceptor.js';
import { upcast, type RawEvent } from './upcasters.js';

/** Where a raw event came from, so that an error can name it. */
export interface EventSource {
  line?: number;
  position?: bigint;
}

export interface DecodeOptions {
  /** Id for an event that has none (default: a random UUID). */
  missingId?: () => string;
}

export type DecodeResult = { success: true; data: LifecycleEvent } | { success: false; error: RollcallError };

const where = (src: EventSource): string =>
  src.line !== undefined ? `line ${src.line}` : src.position !== undefined ? `position ${src.position}` : 'event';

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );

const fail = (src: EventSource, code: 'invalid-event' | 'unknown-event-type', path: string, msg: string): DecodeResult => ({
  success: false,
  error: new RollcallError(code, `${where(src)}: ${path}: ${msg}`, {
    path,
    ...(src.line !== undefined ? { line: src.line } : {}),
    ...(src.position !== undefined ? { position: src.position } : {}),
  }),
});

const firstIssue = (src: EventSource, prefix: readonly PropertyKey[], error: z.ZodError): DecodeResult => {
  const issue = error.issues[0]!;
  const path = formatPath([...prefix, ...issue.path]) || '(event)';
  return fail(src, 'invalid-event', path, issue.message);
};

// One full schema (envelope + strict data) per type: a single parse per event, no union dispatch.
const schemaByType = new Map<string, { schema: z.ZodType; accept: Acceptor }>(
  LifecycleEventBody.options.map((body) => {
    const schema = body.extend({ id: EventEnvelope.shape.id, metadata: EventEnvelope.shape.metadata });
    return [body.shape.type.value, { schema, accept: compileAcceptor(schema) }];
  }),
);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates one raw event (already JSON-parsed): upcasting of older shapes, then the strict schema
 * of its type, envelope included. Missing ids are filled by `options.missingId` (default: random).
 */
export const decodeEvent = (raw: unknown, src: EventSource = {}, options: DecodeOptions = {}): DecodeResult => {
  if (!isRecord(raw)) return fail(src, 'invalid-event', '(event)', 'expected a JSON object');
  if (typeof raw['type'] !== 'string') return fail(src, 'invalid-event', 'type', 'expected the event type as a string');
  const current = upcast(raw as unknown as RawEvent);
  const known = schemaByType.get(current.type);
  if (known === undefined) return fail(src, 'unknown-event-type', 'type', `unknown event type "${current.type}"`);
  let event: LifecycleEvent;
  // The fast path accepts only what zod surely accepts unchanged; everything else goes through zod.
  if (known.accept(current)) event = current as unknown as LifecycleEvent;
  else {
    const parsed = known.schema.safeParse(current);
    if (!parsed.success) return firstIssue(src, [], parsed.error);
    event = parsed.data as LifecycleEvent;
  }
  if (event.id === undefined) event.id = (options.missingId ?? randomUUID)();
  return { success: true, data: event };
};

/** Parses and validates one NDJSON line. */
export const decodeLine = (line: string, src: EventSource = {}, options: DecodeOptions = {}): DecodeResult => {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return {
      success: false,
      error: new RollcallError('invalid-json', `${where(src)}: not valid JSON (${(e as Error).message})`, {
        ...(src.line !== undefined ? { line: src.line } : {}),
        ...(src.position !== undefined ? { position: src.position } : {}),
      }),
    };
  }
  return decodeEvent(raw, src, options);
};
