import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { appendEvents } from '../ingest/appendEvents.js';
import { firstInvalidUtf8 } from '../ndjson/splitLines.js';
import type { EventStore } from '../stores/eventStore.js';
import { sendError, sendRollcallError } from './httpErrors.js';
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

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Non-blank lines of an NDJSON body, counted on its bytes (before any decoding). */
const countLines = (body: Buffer): number => {
  let count = 0;
  for (let start = 0; start < body.length; ) {
    const nl = body.indexOf(10, start);
    const end = nl < 0 ? body.length : nl;
    for (let i = start; i < end; i++) {
      const b = body[i]!;
      if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
        count++;
        break;
      }
    }
    start = end + 1;
  }
  return count;
};

/** The body as JSON text: strict UTF-8 (never U+FFFD), one leading byte order mark dropped as `append` drops it. */
const jsonText = (body: Buffer): string | { error: string } => {
  try {
    return strictUtf8.decode(body);
  } catch {
    const at = firstInvalidUtf8(body);
    return { error: `the body is not valid UTF-8 (byte 0x${body[at]!.toString(16).padStart(2, '0').toUpperCase()} at byte ${at + 1}); nothing appended` };
  }
};

/** `POST /v1/events`: one event, a JSON array, or NDJSON; validated like `append`, all or nothing. */
export const eventsRoute: FastifyPluginAsyncZod<EventsRouteOptions> = async (app, { store, maxBodyBytes, maxEvents, maxClockSkewMs }) => {
  // The body is parsed here, not by Fastify, so that a bad line is reported with its index.
  app.removeAllContentTypeParsers();
  // As bytes: decoding is ours, strict, so invalid UTF-8 is refused as `append` refuses it.
  app.addContentTypeParser(['application/json', 'application/x-ndjson'], { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/events',
    {
      bodyLimit: maxBodyBytes,
      // Bodies are taken as sent (see the Content-Encoding check below), not decompressed by the compress plugin.
      decompress: false,
      schema: {
        summary: 'append one event, a JSON array of events, or NDJSON (application/x-ndjson): all or nothing, in order',
        body: z.string().meta({ description: 'one event object, an array of them, or NDJSON lines (SPEC §1; see /v1/schema/events.json)' }),
        response: {
          201: { description: 'appended', content: { 'application/json': { schema: AppendResultSchema } } },
          400: { description: 'an invalid event (nothing appended)', content: { 'application/json': { schema: InvalidEventErrorSchema } } },
          401: { description: 'missing or wrong bearer token', content: { 'application/json': { schema: ErrorJsonSchema } } },
          413: { description: `over ${maxBodyBytes} bytes or ${maxEvents} events`, content: { 'application/json': { schema: ErrorJsonSchema } } },
          415: { description: 'not application/json or application/x-ndjson, or a Content-Encoding other than identity', content: { 'application/json': { schema: ErrorJsonSchema } } },
          503: {
            description: 'store-unavailable: the store could not take the append (unreachable, its connection lost mid-append, a read-only server); nothing of it is stored, retrying is safe',
            content: { 'application/json': { schema: ErrorJsonSchema } },
          },
        },
      },
      // The body schema documents the request; the content-type parsers above already produced it.
      validatorCompiler: () => (data) => ({ value: data }),
    },
    async (request, reply) => {
      const body = request.body as unknown as Buffer;
      // Bodies are taken as sent: a compressed one would be read as garbage, a plain one labelled
      // compressed is a client bug. Either way, say so instead of guessing.
      const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (encoding !== 'identity' && encoding !== '') {
        return sendError(reply, 415, 'unsupported-media-type', `content encoding ${JSON.stringify(encoding)}: send the body uncompressed (Content-Encoding: identity or none)`);
      }
      const ndjson = (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-ndjson');
      let input: unknown = body;
      if (ndjson) {
        // The bytes go to the same line reader as `append`'s file: strict UTF-8 by line, one leading BOM.
        const count = countLines(body);
        if (count === 0) return sendError(reply, 400, 'invalid-event', 'no event in the request body');
        if (count > maxEvents) return sendError(reply, 413, 'too-many-events', tooMany(count, maxEvents));
      } else {
        const text = jsonText(body);
        if (typeof text !== 'string') return sendError(reply, 400, 'invalid-json', text.error);
        if (text.trim() === '') return sendError(reply, 400, 'invalid-event', 'no event in the request body');
        try {
          input = JSON.parse(text);
        } catch (e) {
          return sendError(reply, 400, 'invalid-json', `the body is not valid JSON (${(e as Error).message})`);
        }
        // A JSON string would otherwise be read as NDJSON text: one body, one meaning.
        if (typeof input !== 'object' || input === null) {
          return sendError(reply, 400, 'invalid-event', 'a JSON body is one event object or an array of them (send NDJSON as application/x-ndjson)');
        }
        const count = Array.isArray(input) ? input.length : 1;
        if (count > maxEvents) return sendError(reply, 413, 'too-many-events', tooMany(count, maxEvents));
      }
      // The same validated, all-or-nothing append as `rollcall append`.
      const result = await appendEvents(store, input, { maxClockSkewMs });
      if (!result.success) return sendRollcallError(reply, result.error);
      const { first, last, appended, duplicates } = result.data;
      return reply.code(201).send({ first: first?.toString() ?? null, last: last?.toString() ?? null, appended, duplicates });
    },
  );
};
