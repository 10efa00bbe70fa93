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
  /**
   * A client that takes no bytes for this long while the server waits to send it more is dropped
   * (it resumes with Last-Event-ID). A backlog, however long, never counts against a client that reads.
   */
  stallMs: number;
  /** Every open stream, so that shutdown can end them. */
  streams: Set<SseStream>;
  onDrop?: () => void;
}

export interface SseStream {
  end(): void;
  /** Bytes written to the socket that it has not taken yet (bounded by one batch past the high-water mark). */
  buffered(): number;
}

const Position = /^\d+$/;

/** Changes pulled per write: the first ids reach a resuming client at once, and a backlog streams in bounded chunks. */
const BATCH = 256;

const frame = (c: Change): string =>
  `id: ${c.position}\nevent: change\ndata: ${JSON.stringify({ position: c.position.toString(), type: c.type, changed: c.changed })}\n\n`;

/**
 * `GET /v1/changes`: every change after the start position, each exactly once and in order. The
 * stream pulls the runtime's change feed a batch at a time and writes it with backpressure: the
 * next batch is pulled only once the socket has taken the last (`drain`), so a backlog of any
 * length streams at the client's pace and nothing is queued for a client that does not read. One
 * that takes nothing for `stallMs` while there is more to send is dropped.
 */
export const changesRoute: FastifyPluginAsyncZod<ChangesRouteOptions> = async (app, { rollcall, keepAliveMs, stallMs, streams, onDrop }) => {
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

      const feed = rollcall.changes(from);
      let closed = false;
      let waitingForDrain = false;
      const cleanup = () => {
        if (closed) return;
        closed = true;
        clearInterval(keepAlive);
        feed.close();
        streams.delete(stream);
      };
      const drop = () => {
        if (closed) return;
        cleanup();
        onDrop?.();
        request.log.warn({ from: from?.toString() ?? null, at: feed.cursor.toString() }, 'SSE client stopped reading: dropped (it resumes with Last-Event-ID)');
        res.destroy();
      };
      /** Resolves once the socket has taken what was written; drops the client if it takes nothing for `stallMs`. */
      const drained = () =>
        new Promise<void>((resolve) => {
          waitingForDrain = true;
          const done = () => {
            waitingForDrain = false;
            clearTimeout(timer);
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          const timer = setTimeout(() => {
            done();
            drop();
          }, stallMs);
          res.on('drain', done);
          res.on('close', done);
        });
      const write = async (text: string) => {
        if (!res.write(text)) await drained();
      };
      // Comments only while idle: a stream that is waiting for the socket says nothing more.
      const keepAlive = setInterval(() => {
        if (!closed && !waitingForDrain) res.write(': keep-alive\n\n');
      }, keepAliveMs);
      const stream: SseStream = {
        end: () => {
          if (closed) return;
          cleanup();
          res.end();
        },
        buffered: () => res.writableLength,
      };
      streams.add(stream);
      res.on('close', cleanup);
      res.on('error', cleanup);

      const pump = async () => {
        // Tells the EventSource how soon to reconnect after a drop.
        await write('retry: 1000\n\n');
        while (!closed) {
          const batch = await feed.next(BATCH);
          if (closed) return;
          let text = '';
          for (const change of batch.changes) text += frame(change);
          if (batch.caughtUp !== undefined) {
            const position = batch.caughtUp.position;
            text += `event: caught-up\ndata: ${JSON.stringify({ position: position === null ? null : position.toString() })}\n\n`;
          }
          if (text !== '') await write(text);
        }
      };
      // Following stopped (runtime closed or failed) or the feed was closed: end the stream; the client resumes elsewhere or later.
      pump().catch(() => stream.end());
    },
  );
};
