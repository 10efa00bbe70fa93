import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Rollcall } from '../live/types.js';
import { maskUrl } from '../stores/maskUrl.js';
import { StatusJsonSchema } from './viewSchemas.js';

/** `GET /healthz` (the process runs) and `GET /readyz` (caught up, and the store answers). */
export const healthRoutes: FastifyPluginAsyncZod<{ rollcall: Rollcall }> = async (app, { rollcall }) => {
  app.get(
    '/healthz',
    { schema: { summary: 'liveness: 200 while the process runs', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'readiness: 200 once caught up with the store; 503 while catching up or while the store is unreachable',
        response: { 200: StatusJsonSchema, 503: StatusJsonSchema },
      },
    },
    async (_request, reply) => {
      const s = rollcall.status();
      const position = s.position === null ? null : s.position.toString();
      const head = s.head === null ? null : s.head.toString();
      // A runtime that stopped following for good is as useless to a balancer as an unreachable store.
      if (s.failed !== null) return reply.code(503).send({ status: 'store-unavailable' as const, position, head, message: maskUrl(s.failed.message) });
      if (!s.storeAvailable) return reply.code(503).send({ status: 'store-unavailable' as const, position, head });
      if (!s.caughtUp) return reply.code(503).send({ status: 'catching-up' as const, position, head });
      return { status: 'ready' as const, position, head };
    },
  );
};
