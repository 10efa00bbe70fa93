import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { explainIn, type ExplainQuestion } from '../projections/explainState.js';
import type { AgentExplainJson, PoolExplainJson } from '../projections/viewJson.js';
import { explainAt, type Traveler } from '../replay/travel.js';
import { poolSlotHistory } from '../inspect/slotHistory.js';
import type { Rollcall } from '../live/types.js';
import { defaultReconcileConfig } from '../reconcile/reconcileConfig.js';
import { decodeStoredPages } from '../replay/decodeStored.js';
import { paced } from '../replay/foldLane.js';
import { pagesUpTo } from '../replay/timeTravel.js';
import type { EventStore } from '../stores/eventStore.js';
import { sendError } from './httpErrors.js';
import { positionHeader, POSITION_HEADER } from './positionHeader.js';
import { ErrorJsonSchema, PositionJson } from './viewSchemas.js';

export interface ExplainRoutesOptions {
  rollcall: Rollcall;
  store: EventStore;
  /** The thread past answers fold on (shared with time travel). */
  traveler: Traveler;
  skipInvalid: boolean;
}

const ReleasedBySchema = z.object({
  rule: z.enum(['lease', 'start-timeout', 'terminating-timeout', 'disconnect-grace', 'pid-check', 'orchestrator-restart', 'own-end']),
  at: z.string().optional(),
  requires: z.string().optional(),
  detail: z.string().optional(),
});

const HolderSchema = z
  .object({
    agentId: z.string(),
    sessionId: z.string(),
    state: z.enum(['starting', 'running', 'suspended', 'terminating', 'terminated', 'failed']),
    since: z.object({ position: z.string(), type: z.string(), at: z.string() }).nullable().meta({ description: 'the event that made the session live' }),
    lastSeenAt: z.string().nullable(),
    host: z.string().nullable(),
    epoch: z.number().int().nullable(),
    pid: z.number().int().nullable(),
    leaseExpiresAt: z.string().nullable(),
    suspect: z.object({ since: z.string(), reason: z.string() }).nullable(),
    quarantine: z.object({ since: z.string(), reason: z.string(), ends: z.array(z.string()) }).nullable(),
    releasedBy: z.array(ReleasedBySchema).meta({ description: 'the rules that would free the slot and when, earliest first' }),
  })
  .meta({ id: 'SlotHolder' });

const PoolExplainSchema = z
  .object({
    poolId: z.string(),
    position: PositionJson,
    asOf: z.string().nullable(),
    exists: z.boolean(),
    used: z.number().int(),
    max: z.number().int().nullable(),
    enabled: z.boolean().nullable(),
    holders: z.array(HolderSchema),
  })
  .meta({ id: 'PoolExplain' });

const AgentExplainSchema = z
  .object({
    agentId: z.string(),
    position: PositionJson,
    asOf: z.string().nullable(),
    exists: z.boolean(),
    status: z.enum(['running', 'idle', 'removed']).nullable(),
    counted: z.boolean(),
    poolId: z.string().nullable(),
    holder: HolderSchema.nullable(),
    explanation: z.array(z.string()),
  })
  .meta({ id: 'AgentExplain' });

const SlotIntervalSchema = z
  .object({
    slot: z.number().int().meta({ description: 'the lowest slot free when the hold began, assigned in log order from the start of the log' }),
    agentId: z.string(),
    sessionId: z.string(),
    from: z.string(),
    fromPosition: z.string(),
    to: z.string().nullable().meta({ description: 'null while it still holds the slot at the end of the range' }),
    toPosition: z.string().nullable(),
    endedAs: z.string().nullable().meta({ description: "the session's termination reason, else its state when it freed the slot" }),
    abnormal: z.boolean().meta({ description: 'ended abnormally (SPEC §7.4): a crash, a failed or lost start, a lapsed lease, a restart' }),
  })
  .meta({ id: 'SlotInterval' });

const PoolSlotHistorySchema = z
  .object({
    poolId: z.string(),
    position: PositionJson,
    from: z.string(),
    to: z.string(),
    exists: z.boolean(),
    max: z.number().int().nullable(),
    slots: z.number().int(),
    intervals: z.array(SlotIntervalSchema),
    truncated: z.boolean(),
  })
  .meta({ id: 'PoolSlotHistory' });

const HOUR_MS = 60 * 60 * 1000;

const Position = z.string().regex(/^\d+$/, 'expected a non-negative integer position');
const ExplainQuery = z.object({
  until: Position.optional().meta({ description: 'the answer after the event at this position, as `explain --until`' }),
  asOf: z.iso.datetime({ offset: true }).optional().meta({ description: 'the answer as of this event time, as `explain --as-of`' }),
});
const headers = { [POSITION_HEADER]: z.string().meta({ description: 'position of the log the answer reflects' }) };
const errors = {
  400: { description: 'bad query', content: { 'application/json': { schema: ErrorJsonSchema } } },
  404: { description: 'unknown id', content: { 'application/json': { schema: ErrorJsonSchema } } },
};

/**
 * `GET /v1/pools/{poolId}/explain`, `GET /v1/agents/{agentId}/explain` (SPEC §7.5): a log inspection, live or as of a past moment;
 * `GET /v1/pools/{poolId}/slots`: the pool's slot history over a range of event time.
 */
export const explainRoutes: FastifyPluginAsyncZod<ExplainRoutesOptions> = async (app, { rollcall, store, traveler, skipInvalid }) => {
  const { projection } = rollcall;
  /**
   * Asked of now (or of a position at or past the live one), the answer is the live state's: it
   * keeps each live session's liveSince, so that costs O(agents), no fold. A past moment is a fold
   * from the nearest rung of the snapshot ladder at or below it, on the time-travel thread, never
   * past the live position (the one the answer's header names).
   */
  const explainFor = async (query: { until?: string | undefined; asOf?: string | undefined }, question: ExplainQuestion) => {
    const live = rollcall.position();
    const until = query.until === undefined || live === null || BigInt(query.until) >= live ? live : BigInt(query.until);
    if (query.asOf === undefined && until === live) return explainIn(rollcall.state(), question);
    return explainAt(traveler, store, projection, { until, asOf: query.asOf ?? null }, question, { skipInvalid });
  };

  app.get(
    '/v1/pools/:poolId/explain',
    {
      schema: {
        summary: 'why this pool is as full as it is: every session holding a slot and what would free it (rollcall explain pool)',
        params: z.object({ poolId: z.string() }),
        querystring: ExplainQuery,
        response: { 200: { description: 'the explanation', content: { 'application/json': { schema: PoolExplainSchema } }, headers }, ...errors },
      },
    },
    async (request, reply) => {
      const answer = (await explainFor(request.query, { kind: 'pool', id: request.params.poolId, rules: defaultReconcileConfig })) as PoolExplainJson;
      reply.header(POSITION_HEADER, positionHeader(answer.position));
      if (!answer.exists && answer.holders.length === 0) return sendError(reply, 404, 'not-found', `no pool "${request.params.poolId}" at this position`);
      return answer;
    },
  );

  app.get(
    '/v1/pools/:poolId/slots',
    {
      schema: {
        summary: 'who held which slot of this pool when, over a range of event time (a slot history, from the log)',
        params: z.object({ poolId: z.string() }),
        querystring: z.object({
          from: z.iso.datetime({ offset: true }).optional().meta({ description: 'start of the range (event time); default an hour before `to`' }),
          to: z.iso.datetime({ offset: true }).optional().meta({ description: "end of the range (event time); default the newest time in the log" }),
        }),
        response: { 200: { description: 'the slot history', content: { 'application/json': { schema: PoolSlotHistorySchema } }, headers }, ...errors },
      },
    },
    async (request, reply) => {
      const to = request.query.to ?? rollcall.state().newestAt ?? new Date(0).toISOString();
      const from = request.query.from ?? new Date(Date.parse(to) - HOUR_MS).toISOString();
      if (Date.parse(from) > Date.parse(to)) return sendError(reply, 400, 'invalid-request', `from (${from}) is after to (${to})`);
      // Intervals need every start and end in the range: the log is folded from its start, in slices that share the loop.
      const until = rollcall.position();
      const source = until === null ? [] : decodeStoredPages(paced(pagesUpTo(store, null, until)));
      const answer = await poolSlotHistory(projection, source, request.params.poolId, { from, to, until });
      reply.header(POSITION_HEADER, positionHeader(answer.position));
      if (!answer.exists && answer.intervals.length === 0) return sendError(reply, 404, 'not-found', `no pool "${request.params.poolId}" in the range`);
      return answer;
    },
  );

  app.get(
    '/v1/agents/:agentId/explain',
    {
      schema: {
        summary: 'why this agent is (not) counted, and what would free its slot (rollcall explain agent)',
        params: z.object({ agentId: z.string() }),
        querystring: ExplainQuery,
        response: { 200: { description: 'the explanation', content: { 'application/json': { schema: AgentExplainSchema } }, headers }, ...errors },
      },
    },
    async (request, reply) => {
      const answer = (await explainFor(request.query, { kind: 'agent', id: request.params.agentId, rules: defaultReconcileConfig })) as AgentExplainJson;
      reply.header(POSITION_HEADER, positionHeader(answer.position));
      if (!answer.exists) return sendError(reply, 404, 'not-found', `no agent "${request.params.agentId}" at this position`);
      return answer;
    },
  );
};
