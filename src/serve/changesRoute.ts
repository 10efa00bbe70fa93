import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Change, Rollcall } from '../live/types.js';
import { sendError } from './httpErrors.js';
import { positionHeader, POSITION_HEADER } from './positionHeader.js';
import { ErrorJsonSchema } from './viewSchemas.js';

export interface ChangesRouteOptions {
  rollcall: Rollcall;
  /** A comment line this often keeps proxies and clients from timing the stream out (SPEC: 15 s). */
  keepAliveMs: number;
  /** A client this many bytes behind (unsent) is dropped; it resumes with Last-Event-ID. */
  maxBufferedBytes: number;
  /** Every open stream, so that shutdown can end them. */
  streams: Set<SseStream>;
  onDrop?: () => void;
}

export interface SseStream {
  end(): void;
}

const Position = /^\d+$/;

const frame = (c: Change): string =>
  `id: ${c.position}\nevent: change\ndata: ${JSON.stringify({ position: c.position.toString(), type: c.type, changed: c.changed })}\n\n`;

/**
 * `GET /v1/changes`: every change after the start position, each exactly once and in order (the
 * live runtime's subscription guarantees it; this only frames and writes). Writes of one tick go
 * out together; what the socket has not taken after a write is bounded, and a client past the
 * bound is dropped rather than queued for.
 */
export const changesRoute: FastifyPluginAsyncZod<ChangesRouteOptions> = async (app, { rollcall, keepAliveMs, maxBufferedBytes, streams, onDrop }) => {
  app.get(
    '/v1/changes',
    {
      schema: {
        summary: 'Server-Sent Events: one `change` per event applied after `from` (or Last-Event-ID, or now), then `caught-up` once at the head',
        querystring: z.object({
          from: z.string().regex(Position, 'expected a non-negative integer position').optional().meta({ description: 'exclusive start position; Last-Event-ID wins when a client resumes' }),
        }),
        headers: z.looseObject({
          'last-event-id': z.string().regex(Position, 'expected the position of the last event received').optional(),
        }),
        response: {
          200: {
            description: 'an event stream: `id: <position>`, `event: change`, `data: {"position","type","changed":{"pools","agents","sessions"}}`; `event: caught-up` once; a comment every 15 s',
            content: { 'text/event-stream': { schema: z.string() } },
          },
          400: { description: 'bad from / Last-Event-ID', content: { 'application/json': { schema: ErrorJsonSchema } } },
        },
      },
    },
    (request, reply) => {
      // A resuming EventSource repeats its original URL: Last-Event-ID must win over ?from=, or the
      // resumed stream would repeat what the client already has.
      const resume = request.headers['last-event-id'];
      const fromText = typeof resume === 'string' && resume !== '' ? resume : request.query.from;
      if (fromText !== undefined && !Position.test(fromText)) {
        sendError(reply, 400, 'invalid-request', 'from must be a position');
        return;
      }
      const from = fromText === undefined ? rollcall.position() : BigInt(fromText);

      reply.hijack();
      const res: ServerResponse = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        [POSITION_HEADER]: positionHeader(from),
      });
      res.flushHeaders();

      let pending = '';
      let scheduled = false;
      let closed = false;
      let unsubscribe = () => {};
      const flush = () => {
        scheduled = false;
        if (closed || pending === '') return;
        const chunk = pending;
        pending = '';
        res.write(chunk);
        if (res.writableLength > maxBufferedBytes) drop();
      };
      const send = (text: string) => {
        if (closed) return;
        pending += text;
        // Judged at flush time, by what the socket did not take: a burst the runtime delivers in one
        // tick is not a slow client.
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      };
      const keepAlive = setInterval(() => send(': keep-alive\n\n'), keepAliveMs);
      const cleanup = () => {
        if (closed) return;
        closed = true;
        pending = '';
        clearInterval(keepAlive);
        unsubscribe();
        streams.delete(stream);
      };
      const drop = () => {
        cleanup();
        onDrop?.();
        request.log.warn({ from: from?.toString() ?? null }, 'SSE client too slow: dropped (it resumes with Last-Event-ID)');
        res.destroy();
      };
      const stream: SseStream = {
        end: () => {
          flush();
          cleanup();
          res.end();
        },
      };
      streams.add(stream);

      // Tells the EventSource how soon to reconnect after a drop.
      send('retry: 1000\n\n');
      const stop = rollcall.subscribe((change) => send(frame(change)), {
        from,
        onCaughtUp: (position) => send(`event: caught-up\ndata: ${JSON.stringify({ position: position === null ? null : position.toString() })}\n\n`),
        // Following stopped (runtime closed or failed): end the stream; the client resumes elsewhere or later.
        onError: () => setImmediate(() => stream.end()),
      });
      // The subscription may deliver (and so overflow) before it returns.
      if (closed) stop();
      else unsubscribe = stop;
      res.on('close', cleanup);
      res.on('error', cleanup);
    },
  );
};
