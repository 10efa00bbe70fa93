import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Rollcall } from '../live/types.js';
import { auditAgent } from '../inspect/auditAgent.js';
import { decodeStoredPages } from '../replay/decodeStored.js';
import { paced } from '../replay/foldLane.js';
import { pagesUpTo } from '../replay/timeTravel.js';
import { travelTo, type Traveler } from '../replay/travel.js';
import type { EventStore } from '../stores/eventStore.js';
import { sendError, sendJsonBytes, sendJsonText, sendRollcallError, sendsEncodedOnce, shuttingDown } from './httpErrors.js';
import { positionHeader, POSITION_HEADER } from './positionHeader.js';
import {
  AgentAuditSchema,
  AgentWithSessionsSchema,
  AnomaliesJsonSchema,
  ErrorJsonSchema,
  PoolJsonSchema,
  PositionJson,
  ProjectionJsonSchema,
  SessionJsonSchema,
} from './viewSchemas.js';

export interface ProjectionRoutesOptions {
  rollcall: Rollcall;
  /** Only handed to `src/replay` for time travel and audits; never queried here. */
  store: EventStore;
  /** The thread time travel folds on. */
  traveler: Traveler;
  skipInvalid: boolean;
  /** Aborted when the server starts to close: a long-poll then answers 503 at once. */
  shutdown?: AbortSignal;
}

const Position = z.string().regex(/^\d+$/, 'expected a non-negative integer position');
const headers = { [POSITION_HEADER]: z.string().meta({ description: 'position of the projection this response reflects' }) };
const ok = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } }, headers });
const notFound = { description: 'unknown id', content: { 'application/json': { schema: ErrorJsonSchema } } };

export const MAX_WAIT_MS = 30_000;
const DEFAULT_WAIT_MS = 5_000;

const ProjectionQuery = z
  .object({
    minPosition: Position.optional().meta({ description: 'wait until the projection has processed this position (read-your-writes)' }),
    waitMs: z
      .string()
      .regex(/^\d+$/, 'expected milliseconds')
      .refine((v) => Number(v) <= MAX_WAIT_MS, `at most ${MAX_WAIT_MS}`)
      .optional()
      .meta({ description: `how long to wait for minPosition (default ${DEFAULT_WAIT_MS}, at most ${MAX_WAIT_MS})` }),
    until: Position.optional().meta({ description: 'time travel: the projection after the event at this position, as `replay --until`' }),
    asOf: z.iso.datetime({ offset: true }).optional().meta({ description: 'time travel: the log up to the first event later than this time, as `replay --as-of`' }),
  })
  .refine((q) => q.minPosition === undefined || (q.until === undefined && q.asOf === undefined), {
    message: 'minPosition waits for the live projection; it cannot be combined with until/asOf',
  });

/** `GET /v1/projection`, pools, agents, audit, sessions, running, anomalies: reads of the live view. */
export const projectionRoutes: FastifyPluginAsyncZod<ProjectionRoutesOptions> = async (app, { rollcall, store, traveler, skipInvalid, shutdown }) => {
  // Time travel and audits fold with the live runtime's own projection (its retention window included).
  const { projection } = rollcall;
  const withPosition = (reply: FastifyReply, position: string | null) => reply.header(POSITION_HEADER, positionHeader(position));
  // Each section's text is encoded once per change, not once per reader.
  const sendProjection = sendsEncodedOnce();
  const sendPools = sendsEncodedOnce();
  const sendAnomalies = sendsEncodedOnce();

  app.get(
    '/v1/projection',
    {
      schema: {
        summary: 'the whole projection (SPEC §3), live or at a past position/time',
        querystring: ProjectionQuery,
        response: {
          200: ok(ProjectionJsonSchema, 'the projection'),
          400: { description: 'bad query', content: { 'application/json': { schema: ErrorJsonSchema } } },
          503: { description: 'the server began shutting down while waiting for minPosition (`shutting-down`), or the store is damaged (`corrupt-store`)', content: { 'application/json': { schema: ErrorJsonSchema } } },
          504: { description: 'minPosition not reached within waitMs', content: { 'application/json': { schema: ErrorJsonSchema } } },
        },
      },
    },
    async (request, reply) => {
      const { minPosition, waitMs, until, asOf } = request.query;
      if (until !== undefined || asOf !== undefined) {
        // From the nearest rung of the snapshot ladder at or below, on the traveler's thread (which
        // reads the store itself where it can): this one sends the bytes the worker made.
        const { json, position } = await travelTo(traveler, store, projection, { until: until === undefined ? null : BigInt(until), asOf: asOf ?? null }, { skipInvalid });
        withPosition(reply, position);
        return sendJsonBytes(reply, json);
      }
      if (minPosition !== undefined) {
        const target = BigInt(minPosition);
        const position = rollcall.position();
        if (position === null || position < target) {
          const timeoutMs = waitMs === undefined ? DEFAULT_WAIT_MS : Number(waitMs);
          const reached = await rollcall.whenProcessed(target, { timeoutMs, ...(shutdown ? { signal: shutdown } : {}) }).then(
            () => true,
            () => false,
          );
          if (!reached && shutdown?.aborted) return shuttingDown(withPosition(reply, rollcall.position()?.toString() ?? null));
          if (!reached) {
            withPosition(reply, rollcall.position()?.toString() ?? null);
            return sendError(reply, 504, 'timeout', `position ${target} not reached within ${timeoutMs} ms (the projection is at ${rollcall.position() ?? 'no event'})`);
          }
        }
      }
      const c = rollcall.viewSection('projection');
      withPosition(reply, c.position);
      // Made of the sections' texts, each serialized once per change and sent as is.
      return sendProjection(reply, c.json());
    },
  );

  app.get(
    '/v1/pools',
    { schema: { summary: 'every pool with its derived status', response: { 200: ok(z.record(z.string(), PoolJsonSchema), 'pools by id') } } },
    async (_request, reply) => {
      // Only the pools are brought up to date, and their text is made once per change of a pool.
      const pools = rollcall.viewSection('pools');
      withPosition(reply, pools.position);
      return sendPools(reply, pools.json());
    },
  );

  app.get(
    '/v1/pools/:poolId',
    {
      schema: {
        summary: 'one pool',
        params: z.object({ poolId: z.string() }),
        response: { 200: ok(PoolJsonSchema, 'the pool'), 404: notFound },
      },
    },
    async (request, reply) => {
      const pools = rollcall.viewSection('pools');
      withPosition(reply, pools.position);
      const pool = pools.value[request.params.poolId];
      if (pool === undefined) return sendError(reply, 404, 'not-found', `no pool "${request.params.poolId}" in the projection`);
      return pool;
    },
  );

  app.get(
    '/v1/agents/:agentId',
    {
      schema: {
        summary: 'one agent plus its sessions in view (sorted by id)',
        params: z.object({ agentId: z.string() }),
        response: { 200: ok(AgentWithSessionsSchema, 'the agent'), 404: notFound },
      },
    },
    async (request, reply) => {
      const agents = rollcall.viewSection('agents');
      withPosition(reply, agents.position);
      const { agentId } = request.params;
      const agent = agents.value[agentId];
      if (agent === undefined) return sendError(reply, 404, 'not-found', `no agent "${agentId}" in the projection`);
      // From the view's agent → sessions index: the agent's own sessions, never a scan of all of them.
      const { sessions } = rollcall.viewSessionsOf(agentId);
      return { ...agent, sessions };
    },
  );

  app.get(
    '/v1/agents/:agentId/audit',
    {
      schema: {
        summary: "the agent's lifecycle timeline, as `rollcall audit AGENT_ID --json`, up to the live position",
        params: z.object({ agentId: z.string() }),
        response: {
          200: ok(AgentAuditSchema, 'the audit'),
          404: notFound,
          503: { description: 'the store is damaged at a named position (`corrupt-store`) or unreachable', content: { 'application/json': { schema: ErrorJsonSchema } } },
        },
      },
    },
    async (request, reply) => {
      const { agentId } = request.params;
      // A runtime that stopped on a damaged row cannot say what the log holds past it: name the
      // position (as `audit` on the CLI does) instead of a 404 that says no event names the agent.
      const failed = rollcall.status().failed;
      if (failed !== null) return sendRollcallError(reply, failed);
      // Taken at the live position, so the audit and the projection a client just read agree.
      const position = rollcall.position();
      // The timeline needs the whole log up to there: folded in slices that share the loop.
      const audit = await auditAgent(projection, position === null ? [] : decodeStoredPages(paced(pagesUpTo(store, null, position))), agentId);
      withPosition(reply, position?.toString() ?? null);
      if (audit.agent === null && audit.entries.length === 0) {
        return sendError(reply, 404, 'not-found', `no event up to position ${position ?? 0} names agent "${agentId}"`);
      }
      return audit;
    },
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        summary: 'sessions in view, optionally of one agent and/or one state, sorted by id',
        querystring: z.object({
          state: SessionJsonSchema.shape.state.optional(),
          agent: z.string().optional().meta({ description: "only this agent's sessions (an index: as cheap as the agent has sessions)" }),
        }),
        response: { 200: ok(z.object({ position: PositionJson, sessions: z.array(SessionJsonSchema) }), 'sessions') },
      },
    },
    async (request, reply) => {
      const { state, agent } = request.query;
      const of =
        agent === undefined
          ? (() => {
              const all = rollcall.viewSection('sessions');
              return { position: all.position, sessions: Object.values(all.value).sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0)) };
            })()
          : rollcall.viewSessionsOf(agent);
      withPosition(reply, of.position);
      const sessions = state === undefined ? of.sessions : of.sessions.filter((s) => s.state === state);
      return { position: of.position, sessions };
    },
  );

  app.get(
    '/v1/running',
    {
      schema: {
        summary: 'the running set and the busy agents',
        response: { 200: ok(z.object({ position: PositionJson, running: z.array(z.string()), busy: z.array(z.string()) }), 'running and busy agent ids, sorted') },
      },
    },
    async (_request, reply) => {
      const running = rollcall.viewSection('running');
      withPosition(reply, running.position);
      // {"running":[…],"busy":[…]} made once per change, with the position put in front.
      return sendJsonText(reply, `{"position":${JSON.stringify(running.position)},${running.json().slice(1)}`);
    },
  );

  app.get(
    '/v1/anomalies',
    { schema: { summary: 'events the rules ignored: counts by reason and the newest 100', response: { 200: ok(AnomaliesJsonSchema, 'anomalies') } } },
    async (_request, reply) => {
      const anomalies = rollcall.viewSection('anomalies');
      withPosition(reply, anomalies.position);
      return sendAnomalies(reply, anomalies.json());
    },
  );
};
