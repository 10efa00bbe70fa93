import { z } from 'zod';
import type * as Wire from '../projections/viewJson.js';

// The HTTP bodies, described once in zod: the OpenAPI document is generated from these, and the
// tests serialize every response through them (see `validateResponses`). Objects are strict so that
// a field added to the projection view without being added here fails those tests instead of
// leaving the document behind the bodies. The TypeScript side of each body is written once, in
// projections/viewJson.ts; the end of this file fails to compile when a schema here drifts from it.

const Time = z.string().nullable();
/** A global position as a decimal string (positions are 64-bit), or null before any event. */
export const PositionJson = z.string().regex(/^\d+$/).nullable().meta({ description: 'global position (decimal string), null before any event' });

export const SessionJsonSchema = z
  .strictObject({
    sessionId: z.string(),
    agentId: z.string(),
    poolId: z.string().nullable(),
    state: z.enum(['starting', 'running', 'suspended', 'terminating', 'terminated', 'failed']),
    pid: z.number().int().nullable(),
    startedAt: Time,
    endedAt: Time,
    terminatingSince: Time,
    terminationReason: z.string().nullable(),
    host: z.string().nullable().meta({ description: 'the host its process last ran on' }),
    epoch: z.number().int().nullable().meta({ description: 'orchestrator epoch of the event that last made it live (SPEC §7.1)' }),
    leaseMs: z.number().int().nullable().meta({ description: 'its lease length, null without a lease (SPEC §7.2)' }),
    leaseExpiresAt: Time.meta({ description: 'when its lease lapses unless renewed (event time)' }),
  })
  .meta({ id: 'Session' });

export const ConnectionJsonSchema = z.strictObject({
  connectionId: z.string(),
  state: z.enum(['connected', 'disconnected']),
  since: z.string(),
});

export const AgentJsonSchema = z
  .strictObject({
    agentId: z.string(),
    name: z.string().nullable(),
    role: z.string(),
    type: z.string(),
    status: z.enum(['running', 'idle', 'removed']),
    currentSessionId: z.string().nullable(),
    pid: z.number().int().nullable(),
    host: z.string().nullable().meta({ description: "its live session's host" }),
    generation: z.number().int(),
    busy: z.boolean(),
    connection: ConnectionJsonSchema.nullable(),
    startedAt: Time,
    stoppedAt: Time,
    lastSeenAt: Time,
    lastExitReason: z.string().nullable(),
    suspect: z.strictObject({ since: z.string(), reason: z.string() }).nullable().meta({ description: 'a reconciler warning until its next sign of life (SPEC §7.3)' }),
    quarantine: z
      .strictObject({ since: z.string(), reason: z.string(), ends: z.array(z.string()) })
      .nullable()
      .meta({ description: 'crash-loop quarantine: ends are the positions of the abnormal ends that made it so (SPEC §7.4)' }),
  })
  .meta({ id: 'Agent' });

export const AgentWithSessionsSchema = AgentJsonSchema.extend({ sessions: z.array(SessionJsonSchema) }).meta({ id: 'AgentWithSessions' });

export const PoolJsonSchema = z
  .strictObject({
    poolId: z.string(),
    name: z.string(),
    maxSize: z.number().int(),
    agentTypes: z.array(z.string()),
    enabled: z.boolean(),
    status: z.strictObject({
      activeCount: z.number().int(),
      availableSlots: z.number().int(),
      overCapacityBy: z.number().int(),
      activeByType: z.record(z.string(), z.number().int()),
      activeAgentIds: z.array(z.string()),
    }),
  })
  .meta({ id: 'Pool' });

const AnomalyReasonSchema = z.enum([
  'duplicate',
  'invalid-transition',
  'session-agent-mismatch',
  'unknown-agent',
  'removed-agent',
  'unknown-session',
  'stale-generation',
  'stale-pid',
  'stale-connection',
  'unknown-pool',
  'pool-exists',
  'agent-exists',
  'invalid-event',
  'stale-epoch',
  'quarantined-start',
]);

export const AnomalyRecordSchema = z.strictObject({
  position: z.string(),
  eventId: z.string().nullable(),
  type: z.string().nullable(),
  reason: AnomalyReasonSchema,
});

export const AnomaliesJsonSchema = z
  .strictObject({
    count: z.number().int(),
    byReason: z.partialRecord(AnomalyReasonSchema, z.number().int()),
    recent: z.array(AnomalyRecordSchema),
  })
  .meta({ id: 'Anomalies' });

export const ProjectionJsonSchema = z
  .strictObject({
    position: PositionJson,
    pools: z.record(z.string(), PoolJsonSchema),
    agents: z.record(z.string(), AgentJsonSchema),
    sessions: z.record(z.string(), SessionJsonSchema),
    running: z.array(z.string()),
    busy: z.array(z.string()),
    hosts: z.record(z.string(), z.strictObject({ host: z.string(), epoch: z.number().int(), startedAt: z.string(), liveSessions: z.number().int() })),
    quarantined: z.array(z.string()),
    anomalies: AnomaliesJsonSchema,
  })
  .meta({ id: 'Projection', description: "SPEC §3: exactly what `rollcall replay --json` prints at the same position" });

export const AuditEntrySchema = z.strictObject({
  position: z.string(),
  at: z.string(),
  eventId: z.string(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
  changes: z.array(z.string()),
  anomaly: AnomalyReasonSchema.nullable(),
});

export const AgentAuditSchema = z
  .strictObject({
    agentId: z.string(),
    entries: z.array(AuditEntrySchema),
    agent: AgentJsonSchema.nullable(),
    sessions: z.array(SessionJsonSchema),
    explanation: z.array(z.string()),
  })
  .meta({ id: 'AgentAudit', description: 'what `rollcall audit AGENT_ID --json` prints' });

export const ErrorJsonSchema = z
  .object({ error: z.string(), message: z.string() })
  .meta({ id: 'Error', description: 'every error: a code and one readable line, never a stack trace' });

export const InvalidEventErrorSchema = z
  .strictObject({
    error: z.string().meta({ description: 'invalid-event, invalid-json, unknown-event-type, clock-skew, …' }),
    message: z.string(),
    index: z.number().int().nonnegative().optional().meta({ description: '0-based index of the failing event in the request' }),
    path: z.string().optional().meta({ description: 'field path inside the failing event' }),
    line: z.number().int().positive().optional().meta({ description: 'NDJSON bodies: the 1-based line of the failing event' }),
  })
  .meta({ id: 'InvalidEventError' });

export const StatusJsonSchema = z.object({
  status: z.enum(['ready', 'catching-up', 'store-unavailable']),
  position: PositionJson,
  head: PositionJson,
  message: z.string().optional().meta({ description: 'why following stopped for good, when it did' }),
});

// Compile-time: each schema describes exactly its wire type (tsc fails here on a drift either way).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <_Checked extends true>(): void => {};
same<Same<z.infer<typeof ProjectionJsonSchema>, Wire.ProjectionJson>>();
same<Same<z.infer<typeof AgentWithSessionsSchema>, Wire.AgentDetailJson>>();
same<Same<z.infer<typeof AgentAuditSchema>, Wire.AgentAuditJson>>();
same<Same<z.infer<typeof StatusJsonSchema>, Wire.StatusJson>>();
same<Same<z.infer<typeof AnomaliesJsonSchema>, Wire.AnomaliesJson>>();
same<Same<z.infer<typeof PoolJsonSchema>, Wire.PoolJson>>();
