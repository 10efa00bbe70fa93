// rollcall's public surface, kept small: what an orchestrator embedding rollcall needs, values
// first, then types. The EventStoreDB and PostgreSQL adapters are `rollcall/esdb` and
// `rollcall/postgres` (openStore loads them lazily from their URL); the JSON Schema of the events
// is also shipped as `rollcall/schema/events.json`.
export { RollcallError, isRollcallError } from './errors.js';

// Events: the catalog, its schemas, a typed factory, and the strict decoder of untrusted input.
export { event, eventSchemas } from './events/eventFactory.js';
export { eventTypes, streamOf, LifecycleEventBody, EventEnvelope, EventMetadata } from './events/lifecycleEvents.js';
export { decodeEvent } from './events/decodeEvent.js';
export { eventJsonSchema } from './events/eventJsonSchema.js';

// Stores, and the validated append of untrusted input (decode, clock skew, ids; all or nothing).
export { openStore, defaultStoreUrl } from './stores/openStore.js';
export { appendEvents } from './ingest/appendEvents.js';
export { openSqliteStore } from './stores/sqliteStore.js';
export { openMemoryStore } from './stores/memoryStore.js';

// Replay and the view other services read (SPEC §3).
export { lifecycleProjection, createLifecycleProjection } from './projections/lifecycleProjection.js';
export { replayStore, replayFile } from './replay/replayLog.js';
export { lifecycleView } from './projections/lifecycleView.js';

// Reconciling the log with reality.
export { decide } from './reconcile/decide.js';
export { reconcileOnce, runReconciler } from './reconcile/reconciler.js';
export { recoverOnStartup } from './reconcile/recoverOnStartup.js';
export { observeProcesses } from './reconcile/observeProcesses.js';
export { defaultReconcileConfig } from './reconcile/reconcileConfig.js';

// The live runtime: one projection kept current from a store (what `watch` and `serve` run on).
export { openRollcall } from './live/openRollcall.js';

export type { RollcallErrorCode } from './errors.js';
export type { EventOf, EventData, EventOptions } from './events/eventFactory.js';
export type { LifecycleEvent, LifecycleEventType, RecordedEvent } from './events/lifecycleEvents.js';
export type { DecodeResult } from './events/decodeEvent.js';
export type { EventJsonSchema } from './events/eventJsonSchema.js';
export type {
  EventStore,
  StoredEvent,
  ExpectedRevision,
  AppendResult,
  AppendToStreamResult,
  ReadAllOptions,
  SubscribeOptions,
} from './stores/eventStore.js';
export type { SqliteStoreOptions } from './stores/sqliteStore.js';
export type { AppendEventsOptions, AppendEventsResult, AppendSummary, AppendInput, AppendPhase } from './ingest/appendEvents.js';
export type { Projection } from './projections/defineProjection.js';
export type { LifecycleOptions, LifecycleProjection } from './projections/lifecycleProjection.js';
export type { LifecycleState, SessionStateName, AnomalyReason } from './projections/lifecycleState.js';
export type { FoldOptions, FoldResult } from './replay/foldEvents.js';
export type { ReplayStoreOptions, ReplayResult } from './replay/replayLog.js';
export type { ProjectionJson, PoolJson, PoolStatusJson, AgentJson, SessionJson } from './projections/lifecycleView.js';
export type { Observations, PidObservation, AgentObservation, Decision } from './reconcile/decide.js';
export type { ReconcileConfig, ReconcileConfigInput, ReconcileRule } from './reconcile/reconcileConfig.js';
export type { ReconcileOptions, ReconcilePass, ReconcileMetrics, RunReconcilerOptions, Observer } from './reconcile/reconciler.js';
export type { RecoverOptions, RecoverResult } from './reconcile/recoverOnStartup.js';
export type { Rollcall, Change, Changed, LiveStatus, LiveSubscribeOptions, OpenRollcallOptions } from './live/types.js';
