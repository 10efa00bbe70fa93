import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RollcallError } from '../errors.js';
import { decodeEvent } from '../events/decodeEvent.js';
import type { LifecycleEvent } from '../events/lifecycleEvents.js';
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

type Invalid = { status: 400 | 413; error: string; message: string; index?: number; path?: string; line?: number };
type Parsed = { ok: true; raws: unknown[]; lines: number[] | null } | ({ ok: false } & Invalid);

const parseBody = (body: string, ndjson: boolean, maxEvents: number): Parsed => {
  if (ndjson) {
    const raws: unknown[] = [];
    const lines: number[] = [];
    const texts = body.split('\n');
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i]!.trim();
      if (text === '') continue;
      if (raws.length === maxEvents) return { ok: false, status: 413, error: 'too-many-events', message: `more than ${maxEvents} events in one request` };
      try {
        raws.push(JSON.parse(text));
      } catch (e) {
        return { ok: false, status: 400, error: 'invalid-json', index: raws.length, line: i + 1, message: `line ${i + 1}: not valid JSON (${(e as Error).message})` };
      }
      lines.push(i + 1);
    }
    return { ok: true, raws, lines };
  }
  if (body.trim() === '') return { ok: true, raws: [], lines: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return { ok: false, status: 400, error: 'invalid-json', message: `the body is not valid JSON (${(e as Error).message})` };
  }
  const raws = Array.isArray(parsed) ? parsed : [parsed];
  if (raws.length > maxEvents) return { ok: false, status: 413, error: 'too-many-events', message: `${raws.length} events in one request; at most ${maxEvents}` };
  return { ok: true, raws, lines: null };
};

/** Validates every event before anything is written: the first failure names its index and field. */
const decodeAll = (raws: readonly unknown[], lines: number[] | null, now: number, maxClockSkewMs: number): { ok: true; events: LifecycleEvent[] } | ({ ok: false } & Invalid) => {
  const events: LifecycleEvent[] = [];
  for (let index = 0; index < raws.length; index++) {
    const line = lines?.[index];
    const where = line === undefined ? `event ${index}` : `event ${index} (line ${line})`;
    const decoded = decodeEvent(raws[index]);
    if (!decoded.success) {
      const path = decoded.error.path ?? '(event)';
      // decodeEvent's message starts with "event: "; the index says where instead.
      const message = decoded.error.message.replace(/^event: /, '');
      return { ok: false, status: 400, error: decoded.error.code, index, path, ...(line === undefined ? {} : { line }), message: `${where}: ${message}` };
    }
    const at = Date.parse(decoded.data.metadata.at);
    if (at - now > maxClockSkewMs) {
      return {
        ok: false,
        status: 400,
        error: 'clock-skew',
        index,
        path: 'metadata.at',
        ...(line === undefined ? {} : { line }),
        message: `${where}: metadata.at ${decoded.data.metadata.at} is ${Math.round((at - now) / 1000)} s ahead of this server's clock (at most ${Math.round(maxClockSkewMs / 1000)} s)`,
      };
    }
    events.push(decoded.data);
  }
  return { ok: true, events };
};

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
      const ndjson = (request.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-ndjson');
      const parsed = parseBody(request.body, ndjson, maxEvents);
      if (!parsed.ok) {
        const { status, error, message, ok: _ok, ...fields } = parsed;
        return sendError(reply, status, error, message, fields);
      }
      if (parsed.raws.length === 0) return sendError(reply, 400, 'invalid-event', 'no event in the request body');
      const decoded = decodeAll(parsed.raws, parsed.lines, Date.now(), maxClockSkewMs);
      if (!decoded.ok) {
        const { status, error, message, ok: _ok, ...fields } = decoded;
        return sendError(reply, status, error, message, fields);
      }
      const result = await store.appendBatch(decoded.events);
      if (result.lastPosition === null && result.appended > 0) throw new RollcallError('corrupt-store', 'the store appended events but reported no position');
      const last = result.lastPosition;
      return reply.code(201).send({
        first: last === null || result.appended === 0 ? null : (last - BigInt(result.appended) + 1n).toString(),
        last: last === null || result.appended === 0 ? null : last.toString(),
        appended: result.appended,
        duplicates: result.duplicates,
      });
    },
  );
};
