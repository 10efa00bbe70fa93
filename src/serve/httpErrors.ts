import type { FastifyReply } from 'fastify';

/** A store URL's password (`scheme://user:secret@host`) replaced by `***` anywhere in a text. */
export const redactSecrets = (text: string): string =>
  text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/gi, '$1***@');

/** Every error body is `{error, message}` (plus fields); never a stack trace, never a secret. */
export const sendError = (
  reply: FastifyReply,
  status: number,
  error: string,
  message: string,
  fields: Record<string, unknown> = {},
): FastifyReply => reply.code(status).type('application/json').send({ error, message: redactSecrets(message), ...fields });

/** Sends text that already is JSON (serialized once, shared by every reader of the same state). */
export const sendJsonText = (reply: FastifyReply, text: string, type = 'application/json'): FastifyReply => reply.type(type).send(text);
