import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { RollcallError } from '../errors.js';
import { EventEnvelope, LifecycleEventBody, eventTypes, type LifecycleEvent } from './lifecycleEvents.js';
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

const knownTypes = new Set<string>(eventTypes);

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

/**
 * Validates one raw event (already JSON-parsed): envelope, upcasting, then the strict schema of its
 * type. Missing ids are filled with a random UUID (append-time semantics of SPEC §1.1).
 */
export const decodeEvent = (raw: unknown, src: EventSource = {}, options: DecodeOptions = {}): DecodeResult => {
  const envelope = EventEnvelope.safeParse(raw);
  if (!envelope.success) return firstIssue(src, [], envelope.error);
  const upcasted = upcast(envelope.data as RawEvent);
  if (!knownTypes.has(upcasted.type)) {
    return fail(src, 'unknown-event-type', 'type', `unknown event type "${upcasted.type}"`);
  }
  const body = LifecycleEventBody.safeParse({ type: upcasted.type, data: upcasted.data });
  if (!body.success) return firstIssue(src, [], body.error);
  const id = envelope.data.id ?? (options.missingId ?? randomUUID)();
  // Built literally (not spread) so every decoded event has one hidden class: the fold stays monomorphic.
  const data = { type: body.data.type, data: body.data.data, id, metadata: envelope.data.metadata };
  return { success: true, data: data as LifecycleEvent };
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
