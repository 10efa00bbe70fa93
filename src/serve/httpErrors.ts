import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { RollcallError, RollcallErrorCode } from '../errors.js';
import { maskUrl } from '../stores/maskUrl.js';

/**
 * The HTTP answer to each RollcallError code: [status, the body's `error`]. A Record, so a new
 * code does not compile until it is mapped here (the CLI's exit codes are mapped the same way).
 */
export const httpByCode: Readonly<Record<RollcallErrorCode, readonly [number, string]>> = {
  'invalid-event': [400, 'invalid-event'],
  'unknown-event-type': [400, 'unknown-event-type'],
  'invalid-json': [400, 'invalid-json'],
  'clock-skew': [400, 'clock-skew'],
  usage: [400, 'invalid-request'],
  io: [400, 'invalid-request'],
  'wrong-expected-revision': [409, 'wrong-expected-revision'],
  // The store's fault, not the client's: as `replay` exits 3 for both, and /readyz says 503.
  'store-unavailable': [503, 'store-unavailable'],
  'corrupt-store': [503, 'corrupt-store'],
  'corrupt-snapshot': [503, 'corrupt-store'],
  // Only at shutdown: the request was cut short by the drain, and another replica can answer it.
  interrupted: [503, 'shutting-down'],
  timeout: [504, 'timeout'],
  'output-failed': [500, 'internal'],
};

/** Every error body is `{error, message}` (plus fields); never a stack trace, never a secret. */
export const sendError = (
  reply: FastifyReply,
  status: number,
  error: string,
  message: string,
  fields: Record<string, unknown> = {},
): FastifyReply => reply.code(status).type('application/json').send({ error, message: maskUrl(message), ...fields });

/** A RollcallError as its mapped status and body, with where it happened (`index`, `path`, `line`, `position`). */
export const sendRollcallError = (reply: FastifyReply, e: RollcallError): FastifyReply => {
  const [status, error] = httpByCode[e.code];
  return sendError(reply, status, error, e.message, {
    ...(e.index !== undefined ? { index: e.index } : {}),
    ...(e.path !== undefined ? { path: e.path } : {}),
    ...(e.line !== undefined ? { line: e.line } : {}),
    ...(e.position !== undefined ? { position: e.position.toString() } : {}),
  });
};

/** The answer to a request the drain cut short or that came too late: another replica can serve it. */
export const shuttingDown = (reply: FastifyReply): FastifyReply =>
  sendError(reply, 503, 'shutting-down', 'the server is shutting down; retry (another replica can answer)');

/** Sends text that already is JSON (serialized once, shared by every reader of the same state). */
export const sendJsonText = (reply: FastifyReply, text: string, type = 'application/json'): FastifyReply => reply.type(type).send(text);

/**
 * A sender of JSON texts that encodes each text once: a view section's text is the same string
 * until the section changes, so every reader in between is sent the same UTF-8 bytes (and their
 * length) instead of each response encoding (and measuring) the whole text again. One per route:
 * it keeps the last text it was given.
 */
export const sendsEncodedOnce = (): ((reply: FastifyReply, text: string) => FastifyReply) => {
  let last: string | null = null;
  let bytes = Buffer.alloc(0);
  return (reply, text) => {
    if (text !== last) {
      bytes = Buffer.from(text, 'utf8');
      last = text;
    }
    // Bytes get no charset from Fastify (a string does): the header stays what a text was sent with.
    return reply.type('application/json; charset=utf-8').send(bytes);
  };
};

/** Bytes per write of `sendJsonBytes`: one write of tens of MB would hold this thread while the socket takes it. */
const CHUNK = 1 << 20;

/** Sends JSON bytes made elsewhere (a worker) as they are, a chunk per write, waiting for the socket to drain between. */
export const sendJsonBytes = (reply: FastifyReply, bytes: Uint8Array): FastifyReply => {
  function* chunks() {
    for (let i = 0; i < bytes.length; i += CHUNK) yield Buffer.from(bytes.buffer, bytes.byteOffset + i, Math.min(CHUNK, bytes.length - i));
  }
  return reply.type('application/json').send(Readable.from(chunks(), { objectMode: false }));
};
