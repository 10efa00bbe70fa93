import { z } from 'zod';
import { EventEnvelope, LifecycleEventBody } from './lifecycleEvents.js';

/**
 * JSON Schema (draft 2020-12) of an event as a producer writes it: the envelope of SPEC §1.1 with
 * each type of the catalog and its strict `data`. Generated from the same zod schemas `append`
 * and `POST /v1/events` validate with, for producers in other languages.
 */
export const eventJsonSchema = (): Record<string, unknown> => {
  const events = LifecycleEventBody.options.map((body) =>
    body.extend({ id: EventEnvelope.shape.id, metadata: EventEnvelope.shape.metadata }).meta({ title: body.shape.type.value }),
  );
  const schema = z.toJSONSchema(z.discriminatedUnion('type', events as unknown as [(typeof events)[number], ...(typeof events)[number][]]), { target: 'draft-2020-12', io: 'input' });
  return {
    ...schema,
    title: 'rollcall lifecycle event',
    description:
      'One event as written by a producer (one JSON object; one per line in NDJSON). `id` may be omitted (the append assigns one); metadata.at is required (ISO-8601 with a zone) and may be at most 5 minutes ahead of the appender\'s clock.',
  };
};
