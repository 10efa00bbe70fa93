import type { z } from 'zod';
import { RollcallError } from '../errors.js';
import { decodeEvent } from './decodeEvent.js';
import { LifecycleEventBody, type LifecycleEvent, type LifecycleEventType } from './lifecycleEvents.js';

/** One lifecycle event of the given type, with its id and metadata: `EventOf<'AgentSpawned'>`. */
export type EventOf<T extends LifecycleEventType> = Extract<LifecycleEvent, { type: T }>;

/** The `data` of one event type: `EventData<'AgentSpawned'>`. */
export type EventData<T extends LifecycleEventType> = EventOf<T>['data'];

type BodySchemas = typeof LifecycleEventBody.options;
type SchemaOf<T extends LifecycleEventType> = Extract<BodySchemas[number], { shape: { type: z.ZodLiteral<T> } }>;

/** The zod schema of each event's `{ type, data }`, by type: `eventSchemas.AgentSpawned.parse(x)`. */
export const eventSchemas = Object.fromEntries(
  LifecycleEventBody.options.map((schema) => [schema.shape.type.value, schema]),
) as { readonly [T in LifecycleEventType]: SchemaOf<T> };

/** Metadata for `event()`: `at` is required (a Date or an ISO string); `id` defaults to a random UUID; other keys pass through. */
export interface EventOptions {
  at: Date | string;
  id?: string;
  correlationId?: string;
  causationId?: string;
  source?: string;
  [key: string]: unknown;
}

/**
 * Builds one validated lifecycle event. Types catch most mistakes; the same strict check as every
 * other edge catches the rest (a pid of 0, an empty id) with a RollcallError `invalid-event`.
 */
export const event = <T extends LifecycleEventType>(type: T, data: EventData<T>, options: EventOptions): EventOf<T> => {
  const { at, id, ...metadata } = options;
  const raw = {
    // Stryker disable next-line ConditionalExpression: the compiled validator decodeEvent uses reads an id of undefined as no id (same result, same key order)
    ...(id !== undefined ? { id } : {}),
    type,
    data: { ...data },
    metadata: { ...metadata, at: at instanceof Date ? at.toISOString() : at },
  };
  const decoded = decodeEvent(raw);
  if (!decoded.success) throw decoded.error;
  // Stryker disable next-line BlockStatement: unreachable (see below), so no test can run it
  if (decoded.data.type !== type) {
    // Only an upcaster could rename a type, and none applies to a current type: a bug if reached.
    // Stryker disable next-line StringLiteral: unreachable, as above
    throw new RollcallError('invalid-event', `event(): ${type} was read as ${decoded.data.type}`);
  }
  return decoded.data as EventOf<T>;
};
