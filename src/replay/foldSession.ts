import { CompactIdSet } from '../events/compactIdSet.js';
import { explainIn, type ExplainQuestion } from '../projections/explainState.js';
import { trackLifecycleChanges, type LifecycleChangeTracker, type TrackedChange } from '../projections/lifecycleChanged.js';
import type { LifecycleProjection } from '../projections/lifecycleProjection.js';
import type { LifecycleState } from '../projections/lifecycleState.js';
import type { AgentExplainJson, PoolExplainJson } from '../projections/viewJson.js';
import type { Snapshot, StoredEvent } from '../stores/eventStore.js';
import { applyStored } from './applyStored.js';
import { decodeStored } from './decodeStored.js';
import { markDuplicates } from './dedupeIds.js';
import { foldEvents, type FoldResult } from './foldEvents.js';
import type { ReplayItem } from './replayItem.js';
import { decodeSnapshot, encodeSnapshot } from './snapshots.js';

export type PushOutcome = 'ok' | 'stopped' | 'unusable';

/** A fold from a rung (or nothing), fed the events after it: in this thread, or on the traveler's (travel.ts). */
export interface FoldSession {
  /** Posts the events (in order, after what was posted); resolves once the fold is at most a few pages behind. */
  push(events: readonly StoredEvent[]): Promise<PushOutcome>;
  /** Waits until everything posted is folded: 'unusable' when the rung was refused, 'stopped' past the target. */
  settle(): Promise<PushOutcome>;
  /** The view of the state reached, as JSON bytes; ends the session. */
  view(): Promise<ViewBytes>;
  /** Explain (SPEC §7.5) asked of the state reached; ends the session. */
  explain(question: ExplainQuestion): Promise<PoolExplainJson | AgentExplainJson>;
  /** A snapshot of the state after the last event posted (null before any); the session goes on. */
  snapshot(): Promise<Snapshot | null>;
  /**
   * Ends the fold where it is and applies these events (and those of later calls) one at a time
   * through a change tracker, answering what each changed: a resumption behind the change ring.
   * Nothing may be pushed after.
   */
  track(events: readonly StoredEvent[]): Promise<TrackedChange[]>;
  close(): void;
}

/** The view a fold reached, as JSON bytes, and what the fold did (for its span and metrics). */
export interface ViewBytes {
  json: Uint8Array;
  position: string | null;
  processed: number;
  stoppedEarly: boolean;
  lastPosition: string | null;
}

export interface FoldSessionOptions {
  /** The rung to start from, and the id of the event the log holds at its position (checked against the rung's own). */
  snapshot: Snapshot | null;
  expectEventId: string | null;
  until?: bigint | null;
  asOf?: string | null;
  skipInvalid: boolean;
  /** The store does not guarantee unique ids: the fold deduplicates (the rung carries the ids seen). */
  needsIds: boolean;
}

/** A state a fold reached, with the position and id of the last event in it: a start like a rung's, already decoded. */
export interface ReachedState {
  state: LifecycleState;
  position: bigint;
  eventId: string;
}

/** A session in this thread, which can hand over the state it reached once its view is taken. */
export interface LocalFoldSession extends FoldSession {
  /** After `view`: the state reached and the position of the last event folded into it (null when none was). */
  reached(): { state: LifecycleState; position: bigint } | null;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A fold session in this thread: decodes the rung (refusing one that is damaged, of another
 * projection, or taken after another event than the log holds there), then folds what is pushed
 * with `foldEvents` (so `until`, `asOf`, invalid events and redeliveries as in any replay). Given
 * `from` (a state an earlier fold reached, on a store with unique ids), it goes on from that state
 * instead, which it then owns.
 */
export const openLocalSession = (projection: LifecycleProjection, o: FoldSessionOptions, from?: ReachedState): LocalFoldSession => {
  let refused = false;
  let seen: CompactIdSet | null = o.needsIds ? new CompactIdSet() : null;
  let last: { position: bigint; id: string } | null = null;
  let state: LifecycleState | undefined;
  let reached: { state: LifecycleState; position: bigint } | null = null;
  if (from !== undefined) {
    if (o.needsIds) throw new Error('a reached state carries no ids seen: only for a store with unique ids');
    state = from.state;
    last = { position: from.position, id: from.eventId };
  } else if (o.snapshot !== null) {
    const decoded = decodeSnapshot(projection, o.snapshot, { needsIds: o.needsIds });
    if (!decoded.usable || decoded.eventId !== o.expectEventId) refused = true;
    else {
      state = decoded.state;
      if (o.needsIds) seen = decoded.seenIds;
      last = { position: decoded.position, id: decoded.eventId };
    }
  }
  /** Position of the event the fold starts after (the rung's, or the reached state's). */
  const startedAt = last?.position ?? null;
  let queue: ReplayItem[][] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  let stopped = false;
  let failure: unknown;
  let fold: Promise<FoldResult<LifecycleState>>;
  let tracker: LifecycleChangeTracker | null = null;

  async function* queued(): AsyncGenerator<ReplayItem[]> {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) yield chunk;
      else if (ended) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  }
  const begin = (from: LifecycleState | undefined) => {
    queue = [];
    ended = false;
    fold = foldEvents(projection, queued(), {
      until: o.until ?? null,
      asOf: o.asOf ?? null,
      skipInvalid: o.skipInvalid,
      ...(from !== undefined ? { initialState: from, adoptInitialState: true } : {}),
    });
    fold.then(
      (r) => (stopped ||= r.stoppedEarly),
      (e: unknown) => (failure ??= e),
    );
  };
  const finish = () => {
    ended = true;
    wake?.();
    return fold;
  };
  // The fold runs on microtasks alone (its source never waits for I/O): by the next turn it has
  // taken everything queued.
  const settle = async (): Promise<PushOutcome> => {
    if (refused) return 'unusable';
    await turn();
    if (failure !== undefined) throw failure;
    return stopped ? 'stopped' : 'ok';
  };
  if (!refused) begin(state);

  return {
    async push(events) {
      if (refused || stopped) return settle();
      const items: ReplayItem[] = events.map(decodeStored);
      queue.push(seen === null ? items : markDuplicates(items, seen));
      const lastEvent = events[events.length - 1];
      if (lastEvent !== undefined) last = { position: lastEvent.position, id: lastEvent.id };
      wake?.();
      return settle();
    },
    settle,
    async view() {
      if (refused) throw new Error('the snapshot the fold started from was refused');
      const result = await finish();
      const position = result.lastPosition ?? startedAt;
      reached = position === null ? null : { state: result.state, position };
      const view = projection.view(result.state);
      return {
        json: new TextEncoder().encode(JSON.stringify(view)),
        position: view.position,
        processed: result.processed,
        stoppedEarly: result.stoppedEarly || stopped,
        lastPosition: result.lastPosition?.toString() ?? null,
      };
    },
    async explain(question) {
      if (refused) throw new Error('the snapshot the fold started from was refused');
      return explainIn((await finish()).state, question);
    },
    async snapshot() {
      if (refused) throw new Error('the snapshot the fold started from was refused');
      const result = await finish();
      const snapshot = last === null ? null : encodeSnapshot(projection, last.position, last.id, result.state, seen ?? undefined);
      // The fold goes on from the state just encoded (the encoding copied what it needed).
      begin(result.state);
      return snapshot;
    },
    async track(events) {
      if (refused) throw new Error('the snapshot the fold started from was refused');
      if (tracker === null) tracker = trackLifecycleChanges(projection, (await finish()).state);
      const into = tracker;
      return events.map((e) => applyStored(into, seen, e, o.skipInvalid));
    },
    reached: () => reached,
    close() {
      ended = true;
      wake?.();
    },
  };
};
