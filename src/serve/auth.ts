import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './httpErrors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compares in constant time: both sides are hashed first, so neither length nor prefix leaks. */
export const tokenMatches = (presented: string, expected: string): boolean => timingSafeEqual(digest(presented), digest(expected));

const bearer = (header: string | undefined): string | null => {
  if (header === undefined) return null;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
};

// Probes must answer without credentials, or an orchestrator could not check a locked-down replica.
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

export interface AuthOptions {
  /** Needed for writes (`POST`). */
  token: string | null;
  /** When set, needed for reads too (the write token is accepted for reads as well). */
  readToken: string | null;
}

/** Bearer tokens: `token` guards writes, `readToken` (when set) guards reads; 401 otherwise. */
export const registerAuth = (app: FastifyInstance, { token, readToken }: AuthOptions): void => {
  if (token === null && readToken === null) return;
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    if (OPEN_PATHS.has(path)) return;
    const write = request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
    if (write ? token === null : readToken === null) return;
    const accepted = write ? [token] : [readToken, token];
    const presented = bearer(request.headers.authorization);
    const ok = presented !== null && accepted.some((t) => t !== null && tokenMatches(presented, t));
    if (!ok) {
      reply.header('WWW-Authenticate', 'Bearer realm="rollcall"');
      return sendError(
        reply,
        401,
        'unauthorized',
        write ? 'writes need "Authorization: Bearer <token>" (the server\'s ROLLCALL_TOKEN or --token-file)' : 'reads need "Authorization: Bearer <read token>" (--read-token)',
      );
    }
  });
};
