import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendEvents } from '../ingest/appendEvents.js';
import type { EventStore } from '../stores/eventStore.js';
import { sendError } from './httpErrors.js';
import { ErrorJsonSchema, InvalidEventErrorSchema, PositionJson } from './viewSchemas.js';

export interface EventsRouteOptions {
  store: EventStore;
  maxBodyBytes: number;
  maxEvents: number;
  /** An event stamped further ahead of this server's clock is refused (`clock-skew`). */
  maxClockSkewMs: number;
}

export const AppendResultSchema = z
  .object({
    first: PositionJson.meta({ description: 'position of the first event written (null when every event was a duplicate)' }),
    last: PositionJson.meta({ description: 'position of the last event written' }),
    appended: z.number().int(),
    duplicates: z.number().int().meta({ description: 'events whose id was already stored: skipped, never written twice' }),
  })
  .meta({ id: 'AppendResult' });

const tooMany = (count: number, maxEvents: number): string => `${count} events in one request; at most ${maxEvents}`;

/** `POST /v1/events`: one event, a JSON array, or NDJSON; validated like `append`, all or nothing. */
export const eventsRoute: FastifyPluginAsyncZod<EventsRouteOptions> = async (app, { store, maxBodyBytes, maxEvents, maxClockSkewMs }) => {
  // The body is parsed here, not by Fastify, so that a bad line is reported with its index.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'application/x-ndjson'], { parseAs: 'string', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/events',
    {
      bodyLimit: maxBodyBytes,
      schema: {
        summary: 'append one event, a JSON array of events, or NDJSON (application/x-ndjson): all or nothing, in order',
        body: z.string().meta({ description: 'one event object, an array of them, or NDJSON lines (SPEC §1; see /v1/schema/events.json)' }),
        response: {
          201: { description: 'appended', content: { 'application/json': { schema: AppendResultSchema } } },
          400: { description: 'an invalid event (nothing appended)', content: { 'application/json': { schema: InvalidEventErrorSchema } } },
          401: { description: 'missing or wrong bearer token', content: { 'application/json': { schema: ErrorJsonSchema } } },
          413: { description: `over ${maxBodyBytes} bytes or ${maxEvents} events`, content: { 'application/json': { schema: ErrorJsonSchema } } },
          415: { description: 'not application/json or application/x-ndjson', content: { 'application/json': { schema: ErrorJsonSchema } } },
        },
      },
      // The body schema documents the request; the content-type parsers above already produced it.
      validatorCompiler: () => (data) => ({ value: data }),
    },
    async (request, reply) => {
      const body = request.body;
      const ndjson = (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-ndjson');
      let input: unknown = body;
      if (body.trim() === '') return sendError(reply, 400, 'invalid-event', 'no event in the request body');
      if (ndjson) {
        let count = 0;
        for (const line of body.split('\n')) if (line.trim() !== '') count++;
        if (count > maxEvents) return sendError(reply, 413, 'too-many-events', tooMany(count, maxEvents));
      } else {
        try {
          input = JSON.parse(body);
        } catch (e) {
          return sendError(reply, 400, 'invalid-json', `the body is not valid JSON (${(e as Error).message})`);
        }
        const count = Array.isArray(input) ? input.length : 1;
        if (count > maxEvents) return sendError(reply, 413, 'too-many-events', tooMany(count, maxEvents));
      }
      // The same validated, all-or-nothing append as `rollcall append`.
      const result = await appendEvents(store, input, { maxClockSkewMs });
      if (!result.success) {
        const e = result.error;
        if (e.code === 'store-unavailable') return sendError(reply, 503, e.code, e.message);
        const fields = {
          ...(e.index !== undefined ? { index: e.index } : {}),
          ...(e.path !== undefined ? { path: e.path } : {}),
          ...(e.line !== undefined ? { line: e.line } : {}),
        };
        return sendError(reply, 400, e.code, e.message, fields);
      }
      const { first, last, appended, duplicates } = result.data;
      return reply.code(201).send({ first: first?.toString() ?? null, last: last?.toString() ?? null, appended, duplicates });
    },
  );
};
