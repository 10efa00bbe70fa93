// The live runtime's contract: what `watch`, `serve` and embedding orchestrators build on.
import type { ProjectionJson, SessionJson } from '../projections/lifecycleView.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import type { RollcallError } from '../errors.js';
import type { EventStore } from '../stores/eventStore.js';

import type { Changed } from '../projections/lifecycleChanged.js';
import type { ViewSection, ViewSectionName, ViewSections } from './liveView.js';
import type { SnapshotStats } from './snapshotter.js';
import type { ChangeFeed, FeedBatch } from './changeFeed.js';

/** Which entities of the SPEC §3 view one event changed (ids sorted); defined next to the lifecycle projection. */
export type { Changed, SnapshotStats, ViewSection, ViewSectionName, ViewSections, ChangeFeed, FeedBatch };

/** One event processed by the live projection (applied or recorded as an anomaly). */
export interface Change {
  position: bigint;
  type: string;
  changed: Changed;
}

export interface LiveStatus {
  /** Position of the last event applied, null before any. */
  position: bigint | null;
  /** The store's head as last seen, null when the store is empty or never answered. */
  head: bigint | null;
  /** True once the initial catch-up reached the head seen at start (stays true afterwards). */
  caughtUp: boolean;
  /** False while the store cannot be reached; following resumes by itself when it returns. */
  storeAvailable: boolean;
  /** The last store error while unavailable, else null. */
  lastError: RollcallError | null;
  /**
   * Set when following stopped for good (an undecodable stored event without `skipInvalid`, or the
   * store unavailable for longer than `giveUpAfterMs`); the handle keeps serving its last state.
   */
  failed: RollcallError | null;
}

export interface LiveSubscribeOptions {
  /**
   * Exclusive: deliver every change with a position strictly greater than this, in order, each
   * exactly once, then follow live. Absent or null = only changes after the current position.
   */
  from?: bigint | null;
  /** Called once, when the delivered changes reach the store's head. */
  onCaughtUp?: (position: bigint | null) => void;
  /**
   * Called once if this subscription ends without being unsubscribed: following stopped for good
   * (`status().failed`), the runtime was closed, or the listener threw (it is then unsubscribed).
   */
  onError?: (error: RollcallError) => void;
}

export interface Rollcall {
  /** The projection kept current (its name, version and `retentionMs`): replays beside the live view use this one. */
  readonly projection: LifecycleProjection;
  /** SPEC §3 JSON at the current position; never reflects a half-applied batch. */
  view(): ProjectionJson;
  /**
   * One section of the view (pools, agents, sessions, running, anomalies, or the whole projection)
   * at the current position, with its JSON text: brought up to date from what changed only when
   * read, so a read of the pools never pays for the sessions that moved. What serve's routes read.
   */
  viewSection<K extends ViewSectionName>(name: K): ViewSection<ViewSections[K]>;
  /** One agent's sessions in view at the current position, sorted by id: as many steps as it has sessions (an index, not a scan). */
  viewSessionsOf(agentId: string): { position: string | null; sessions: SessionJson[] };
  /** The current state (read-only: do not mutate); for cheap accessors without building the view. */
  state(): Readonly<LifecycleState>;
  position(): bigint | null;
  status(): LiveStatus;
  /** Calls `listener` for each change, in position order; returns the unsubscribe function. */
  subscribe(listener: (change: Change) => void, options?: LiveSubscribeOptions): () => void;
  /**
   * The changes after `from` (exclusive; null = from the position when first pulled), pulled at the
   * consumer's pace: each exactly once and in order, from memory while the ring of recent changes
   * reaches back that far, else from a private fold that starts at the nearest snapshot at or below.
   * What `serve` streams to SSE clients with backpressure.
   */
  changes(from: bigint | null): ChangeFeed;
  /** Resolves once the initial catch-up is done. */
  whenCaughtUp(): Promise<void>;
  /** Resolves once an event at or after `position` is applied; rejects on timeout or close. */
  whenProcessed(position: bigint, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
  /** How the snapshots taken while following went (null when snapshots are off or the store keeps none). */
  snapshotStats(): SnapshotStats | null;
}

export interface OpenRollcallOptions {
  store: EventStore;
  /** Terminal sessions stay in the view this long after they ended (default 24 h). */
  retentionMs?: number;
  /** Start from the newest valid snapshot and keep snapshots fresh (default true, where the store keeps them). */
  snapshots?: boolean;
  /** Record undecodable stored events as `invalid-event` anomalies instead of stopping. */
  skipInvalid?: boolean;
  /** Changes kept in memory for subscribers resuming from a recent `from` (default 50,000). */
  bufferSize?: number;
  /** Save a snapshot while following after this many events (default 10,000) … */
  snapshotEveryEvents?: number;
  /** … or this long after the last one when at least one event was applied since (default 60 s). */
  snapshotEveryMs?: number;
  /**
   * Fill the store's snapshot ladder in the background once caught up, and again every 16 live
   * snapshots (default false): a fold of the log from the nearest rung below each empty cell, for
   * time travel and resumes from far back. What `serve` does; a follower that only follows
   * (`watch`, an orchestrator) is idle once caught up.
   */
  fillLadder?: boolean;
  /**
   * Stop following for good (`status().failed`) once the store has been unreachable this long;
   * default: never, keep retrying. `watch` uses it to exit 3.
   */
  giveUpAfterMs?: number;
  /**
   * Called during the initial catch-up after each chunk read, with the events read so far and how
   * many there are from the snapshot (or the start) to the head (null when the store cannot say);
   * counts restart from 0 if the catch-up is retried after an outage. `watch` draws its bar with it.
   */
  onCatchUpProgress?: (done: number, total: number | null) => void;
}
