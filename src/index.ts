// rollcall's public surface: values first, then types. EventStoreDB and PostgreSQL adapters are
// also reachable as `rollcall/esdb` and `rollcall/postgres`, and load lazily through openStore.
export { RollcallError, isRollcallError } from './errors.js';

export { streamOf, eventTypes, LifecycleEventBody, EventEnvelope, EventMetadata } from './events/lifecycleEvents.js';
export { decodeEvent, decodeLine } from './events/decodeEvent.js';
export { upcast, upcasters } from './events/upcasters.js';
export { uuidV5, uuidBytes } from './events/eventId.js';

export { defineProjection } from './projections/defineProjection.js';
export { lifecycleProjection, createLifecycleProjection } from './projections/lifecycleProjection.js';
export { lifecycleView } from './projections/lifecycleView.js';
export { initialLifecycleState, isLive, isTerminal, DEFAULT_RETENTION_MS } from './projections/lifecycleState.js';
export { checkInvariants } from './projections/checkInvariants.js';

export { foldEvents, applyEvent, applyItems } from './replay/foldEvents.js';
export { replayStore, replayFile } from './replay/replayLog.js';
export { readNdjsonEvents } from './replay/readNdjson.js';
export { decodeStored, decodeStoredChunks } from './replay/decodeStored.js';
export { auditAgent } from './projections/auditAgent.js';
export { checkLog } from './projections/checkLog.js';
export { encodeSnapshot, verifySnapshot } from './replay/snapshots.js';
export { openRollcall } from './live/openRollcall.js';

export { openStore, defaultStoreUrl } from './stores/openStore.js';
export { appendEvents } from './stores/appendEvents.js';
export { openMemoryStore } from './stores/memoryStore.js';
export { openSqliteStore } from './stores/sqliteStore.js';

export { decide } from './reconcile/decide.js';
export { reconcileOnce, runReconciler } from './reconcile/reconciler.js';
export { recoverOnStartup } from './reconcile/recoverOnStartup.js';
export { observeProcesses, checkPid } from './reconcile/observeProcesses.js';
export { defaultReconcileConfig, resolveReconcileConfig } from './reconcile/reconcileConfig.js';

export { generateHistory, generateNdjson } from './generate/generateHistory.js';
export { runCli } from './cli/runCli.js';

export type { RollcallErrorCode } from './errors.js';
export type { LifecycleEvent, LifecycleEventType, RecordedEvent } from './events/lifecycleEvents.js';
export type { DecodeResult } from './events/decodeEvent.js';
export type { Projection, InvalidEventInfo } from './projections/defineProjection.js';
export type { LifecycleOptions, LifecycleProjection } from './projections/lifecycleProjection.js';
export type {
  LifecycleState,
  SessionRecord,
  AgentRecord,
  PoolRecord,
  AnomalyReason,
  AnomalyRecord,
  SessionStateName,
} from './projections/lifecycleState.js';
export type { ProjectionJson, PoolJson, AgentJson, SessionJson } from './projections/lifecycleView.js';
export type { Violation } from './projections/checkInvariants.js';
export type { FoldOptions, FoldResult, ReplaySource } from './replay/foldEvents.js';
export type { ReplayItem, InvalidRecord } from './replay/replayItem.js';
export type { AgentAudit, AuditEntry } from './projections/auditAgent.js';
export type { Rollcall, Change, Changed, LiveStatus, LiveSubscribeOptions, OpenRollcallOptions } from './live/types.js';
export type { EventStore, StoredEvent, ExpectedRevision, AppendResult, Snapshot, SnapshotStore } from './stores/eventStore.js';
export type { AppendEventsOptions, AppendEventsResult, AppendSummary } from './stores/appendEvents.js';
export type { Observations, Decision } from './reconcile/decide.js';
export type { ReconcileConfig, ReconcileRule } from './reconcile/reconcileConfig.js';
export type { ReconcileMetrics, ReconcilePass, Observer } from './reconcile/reconciler.js';
export type { GenerateOptions, GeneratedEvent } from './generate/generateHistory.js';
