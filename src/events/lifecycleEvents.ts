import { z } from 'zod';

// Building blocks. Unknown keys inside `data` are rejected so a typo (`sessionID`) fails loudly.
const Id = z.string().min(1);
/** The largest pid any platform hands out: pid_t is a signed 32-bit integer (Linux caps pid_max at 2^22). */
export const MAX_PID = 2_147_483_647;
const Pid = z.number().int().positive().max(MAX_PID);
/** A machine's name, as its reconciler knows it (`--host`, default the hostname). */
const Host = z.string().min(1);
const Generation = z.number().int().nonnegative();
/** An orchestrator's restart count on its host (SPEC §7.1): events naming a lower one than the host's are fenced. */
const Epoch = z.number().int().min(1);
/**
 * The longest lease an event may give: 365 days. A lease is a deadline for the next sign of life
 * (typically a minute); one without end is no `leaseMs` at all. The bound also keeps every expiry
 * (`at` + `leaseMs`) a date the view can print: an unbounded `leaseMs` (9e15) was accepted and then
 * broke every replay of the log at the first view or explain ("Invalid time value").
 */
export const MAX_LEASE_MS = 365 * 24 * 60 * 60 * 1000;
/** How long a session holds its slot without a sign of life (SPEC §7.2). */
const LeaseMs = z.number().int().positive().max(MAX_LEASE_MS);
const TypeKeys = z.array(z.string().min(1));

const event = <T extends string, S extends z.ZodRawShape>(type: T, data: S) =>
  z.object({ type: z.literal(type), data: z.strictObject(data) });

export const PoolCreated = event('PoolCreated', {
  poolId: Id,
  name: z.string(),
  maxSize: z.number().int().nonnegative(),
  agentTypes: TypeKeys.optional(),
  enabled: z.boolean().optional(),
});
export type PoolCreated = z.infer<typeof PoolCreated>;

export const PoolUpdated = event('PoolUpdated', {
  poolId: Id,
  name: z.string().optional(),
  maxSize: z.number().int().nonnegative().optional(),
  agentTypes: TypeKeys.optional(),
  enabled: z.boolean().optional(),
});
export type PoolUpdated = z.infer<typeof PoolUpdated>;

export const PoolDeleted = event('PoolDeleted', { poolId: Id });
export type PoolDeleted = z.infer<typeof PoolDeleted>;

export const AgentRegistered = event('AgentRegistered', {
  agentId: Id,
  role: z.string().min(1),
  variant: z.string().min(1).optional(),
  name: z.string().optional(),
});
export type AgentRegistered = z.infer<typeof AgentRegistered>;

export const AgentRemoved = event('AgentRemoved', { agentId: Id, reason: z.string().optional() });
export type AgentRemoved = z.infer<typeof AgentRemoved>;

export const AgentConnected = event('AgentConnected', { agentId: Id, connectionId: Id });
export type AgentConnected = z.infer<typeof AgentConnected>;

export const AgentDisconnected = event('AgentDisconnected', { agentId: Id, connectionId: Id });
export type AgentDisconnected = z.infer<typeof AgentDisconnected>;

export const AgentHeartbeat = event('AgentHeartbeat', { agentId: Id });
export type AgentHeartbeat = z.infer<typeof AgentHeartbeat>;

export const SessionStarting = event('SessionStarting', {
  agentId: Id,
  sessionId: Id,
  poolId: Id.optional(),
  leaseMs: LeaseMs.optional(),
});
export type SessionStarting = z.infer<typeof SessionStarting>;

export const AgentSpawned = event('AgentSpawned', {
  agentId: Id,
  sessionId: Id,
  poolId: Id.optional(),
  pid: Pid.optional(),
  generation: Generation.optional(),
  host: Host.optional(),
  epoch: Epoch.optional(),
  leaseMs: LeaseMs.optional(),
});
export type AgentSpawned = z.infer<typeof AgentSpawned>;

export const SessionStartFailed = event('SessionStartFailed', {
  agentId: Id,
  sessionId: Id,
  reason: z.string(),
});
export type SessionStartFailed = z.infer<typeof SessionStartFailed>;

export const SessionSuspended = event('SessionSuspended', { agentId: Id, sessionId: Id });
export type SessionSuspended = z.infer<typeof SessionSuspended>;

export const SessionResumed = event('SessionResumed', {
  agentId: Id,
  sessionId: Id,
  pid: Pid.optional(),
  host: Host.optional(),
  epoch: Epoch.optional(),
  leaseMs: LeaseMs.optional(),
});
export type SessionResumed = z.infer<typeof SessionResumed>;

export const SessionTerminationRequested = event('SessionTerminationRequested', {
  agentId: Id,
  sessionId: Id,
});
export type SessionTerminationRequested = z.infer<typeof SessionTerminationRequested>;

export const SessionEnded = event('SessionEnded', { agentId: Id, sessionId: Id, reason: z.string(), epoch: Epoch.optional() });
export type SessionEnded = z.infer<typeof SessionEnded>;

export const SessionNotFound = event('SessionNotFound', { agentId: Id, sessionId: Id });
export type SessionNotFound = z.infer<typeof SessionNotFound>;

export const SessionReset = event('SessionReset', {
  agentId: Id,
  sessionId: Id,
  generation: Generation,
});
export type SessionReset = z.infer<typeof SessionReset>;

export const RunStarted = event('RunStarted', { agentId: Id, sessionId: Id, generation: Generation, epoch: Epoch.optional() });
export type RunStarted = z.infer<typeof RunStarted>;

export const RunFinished = event('RunFinished', {
  agentId: Id,
  sessionId: Id,
  generation: Generation,
  outcome: z.string().optional(),
  epoch: Epoch.optional(),
});
export type RunFinished = z.infer<typeof RunFinished>;

export const AgentStopped = event('AgentStopped', {
  agentId: Id,
  reason: z.string().optional(),
  resumable: z.boolean().optional(),
});
export type AgentStopped = z.infer<typeof AgentStopped>;

export const AgentCrashed = event('AgentCrashed', { agentId: Id, reason: z.string(), pid: Pid.optional() });
export type AgentCrashed = z.infer<typeof AgentCrashed>;

export const OrchestratorStarted = event('OrchestratorStarted', {
  host: Host,
  epoch: Epoch,
  adopted: z.array(z.strictObject({ agentId: Id, sessionId: Id, pid: Pid.optional() })).optional(),
});
export type OrchestratorStarted = z.infer<typeof OrchestratorStarted>;

export const SessionLeaseRenewed = event('SessionLeaseRenewed', { agentId: Id, sessionId: Id, leaseMs: LeaseMs.optional() });
export type SessionLeaseRenewed = z.infer<typeof SessionLeaseRenewed>;

/** What a reconciler saw when it suspected an agent (any JSON per key), for the record. */
const Observed = z.record(z.string(), z.unknown());

export const AgentSuspected = event('AgentSuspected', { agentId: Id, reason: z.string().min(1), observed: Observed.optional() });
export type AgentSuspected = z.infer<typeof AgentSuspected>;

export const AgentReleased = event('AgentReleased', { agentId: Id, reason: z.string().optional() });
export type AgentReleased = z.infer<typeof AgentReleased>;

/** The body of every lifecycle event: `type` plus its strictly validated `data`. */
export const LifecycleEventBody = z.discriminatedUnion('type', [
  PoolCreated,
  PoolUpdated,
  PoolDeleted,
  AgentRegistered,
  AgentRemoved,
  AgentConnected,
  AgentDisconnected,
  AgentHeartbeat,
  SessionStarting,
  AgentSpawned,
  SessionStartFailed,
  SessionSuspended,
  SessionResumed,
  SessionTerminationRequested,
  SessionEnded,
  SessionNotFound,
  SessionReset,
  RunStarted,
  RunFinished,
  AgentStopped,
  AgentCrashed,
  OrchestratorStarted,
  SessionLeaseRenewed,
  AgentSuspected,
  AgentReleased,
]);
export type LifecycleEventBody = z.infer<typeof LifecycleEventBody>;
export type LifecycleEventType = LifecycleEventBody['type'];

export const eventTypes: readonly LifecycleEventType[] = LifecycleEventBody.options.map(
  (o) => o.shape.type.value,
);

/** Envelope metadata: `at` is required; other keys (correlation, causation, source, …) pass through. */
export const EventMetadata = z.looseObject({
  at: z.iso.datetime({ offset: true }),
  correlationId: z.string().optional(),
  causationId: z.string().optional(),
  source: z.string().optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;

/** An event as a producer writes it; `id` may be omitted and is then assigned on append. */
export const EventEnvelope = z.object({
  id: z.uuid().optional(),
  type: z.string(),
  data: z.unknown(),
  metadata: EventMetadata,
});

/** A validated lifecycle event with its id and metadata, not yet stored. */
export type LifecycleEvent = LifecycleEventBody & { id: string; metadata: EventMetadata };

/** A lifecycle event as read back from a store or an NDJSON file. */
export type RecordedEvent<E extends { type: string } = LifecycleEvent> = E & {
  stream: string;
  revision: bigint;
  position: bigint;
};

/**
 * A recorded event built as one literal: every event the fold sees then has the same hidden class,
 * so its reads of type, data and metadata stay monomorphic (a measurable share of replay time).
 */
export const recorded = (e: LifecycleEvent, stream: string, revision: bigint, position: bigint): RecordedEvent =>
  ({ type: e.type, data: e.data, id: e.id, metadata: e.metadata, stream, revision, position }) as RecordedEvent;

const poolTypes = new Set<string>(['PoolCreated', 'PoolUpdated', 'PoolDeleted']);

/** What names an event's stream (`streamOf`), in three kinds: the stream is the kind, then the key. */
export type StreamKind = 'pool-' | 'host-' | 'agent-';

export const streamKindOf = (event: LifecycleEventBody): StreamKind =>
  poolTypes.has(event.type) ? 'pool-' : event.type === 'OrchestratorStarted' ? 'host-' : 'agent-';

export const streamKeyOf = (event: LifecycleEventBody, kind: StreamKind): string =>
  kind === 'pool-'
    ? (event.data as { poolId: string }).poolId
    : kind === 'host-'
      ? (event.data as { host: string }).host
      : (event.data as { agentId: string }).agentId;

/** The stream an event belongs to: `pool-<poolId>` for pool events, `host-<host>` for a host's, else `agent-<agentId>`. */
export const streamOf = (event: LifecycleEventBody): string => {
  const kind = streamKindOf(event);
  return `${kind}${streamKeyOf(event, kind)}`;
};
