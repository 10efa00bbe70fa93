import type { ExplainQuestion } from '../projections/explainState.js';
import type { TrackedChange } from '../projections/lifecycleChanged.js';
import type { AgentExplainJson, PoolExplainJson } from '../projections/viewJson.js';
import type { Snapshot, StoredEvent } from '../stores/eventStore.js';
import type { ViewBytes } from './foldSession.js';
import type { WireError } from './wireError.js';

/** What the time-travel worker is started with: the projection's retention window. */
export interface TravelWorkerOptions {
  retentionMs: number;
}

/**
 * Messages to the time-travel worker, per fold session (`id`); `gen` counts the starts of one
 * session, so that events posted for a rung the worker refused are ignored.
 */
export type ToTravel =
  | {
      kind: 'start';
      id: number;
      gen: number;
      /** The rung to start from (null: from nothing), and the event id the log holds at its position. */
      snapshot: Snapshot | null;
      expectEventId: string | null;
      until: string | null;
      asOf: string | null;
      skipInvalid: boolean;
      needsIds: boolean;
    }
  | { kind: 'events'; id: number; gen: number; events: StoredEvent[] }
  /** Ends the session: the view of the state reached, as JSON bytes. */
  | { kind: 'view'; id: number; gen: number }
  /** Ends the session: explain asked of the state reached. */
  | { kind: 'explain'; id: number; gen: number; question: ExplainQuestion }
  /** A snapshot of the state reached (after the last event posted); the session goes on. */
  | { kind: 'snapshot'; id: number; gen: number }
  /** Ends the fold; these events applied one at a time with what each changed (FoldSession.track). */
  | { kind: 'track'; id: number; gen: number; events: StoredEvent[] }
  | { kind: 'drop'; id: number }
  /** The whole fold here, reading the store the worker opens by `url` (credentials included: never printed). */
  | { kind: 'travel'; id: number; url: string; until: string | null; asOf: string | null; skipInvalid: boolean };

/** Replies, in the order of the messages they answer: one per start, events, view, explain, snapshot and track. */
export type FromTravel =
  | { kind: 'loaded'; id: number; gen: number }
  | { kind: 'unusable'; id: number; gen: number; reason: string }
  | { kind: 'ack'; id: number; gen: number; stopped: boolean }
  | ({ kind: 'view'; id: number; gen: number; startedAfter: string | null } & ViewBytes)
  | { kind: 'snapshot'; id: number; gen: number; snapshot: Snapshot | null }
  | { kind: 'explained'; id: number; gen: number; answer: PoolExplainJson | AgentExplainJson }
  | { kind: 'changes'; id: number; gen: number; changes: TrackedChange[] }
  | { kind: 'error'; id: number; gen: number; error: WireError };
