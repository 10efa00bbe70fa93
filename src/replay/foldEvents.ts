import { Immer, enableMapSet, type Draft } from 'immer';
import type { Projection } from '../projections/defineProjection.js';
import type { RecordedEvent } from '../events/lifecycleEvents.js';
import { isDuplicate, isInvalid, type ReplayItem } from './replayItem.js';

// Freezing walks every new object; states here are never mutated after they are handed out.
const immer = new Immer({ autoFreeze: false });

// immer's plugins are process-wide, not per instance: loading them on first use rather than at
// import keeps `import 'rollcall'` free of side effects on an embedder's own immer.
let pluginsLoaded = false;
const loadImmerPlugins = (): void => {
  if (pluginsLoaded) return;
  enableMapSet();
  pluginsLoaded = true;
};

export interface FoldOptions<S> {
  /** Start from this state (a snapshot) instead of the projection's initial state. */
  initialState?: S;
  /**
   * The fold may change `initialState` in place: it was made for this fold alone (decoded from a
   * snapshot), so copying it first (about a second for ~100k sessions) buys nothing.
   */
  adoptInitialState?: boolean;
  /** Inclusive: apply events up to and including this position. */
  until?: bigint | null;
  /** Apply the log up to, not including, the first event whose `at` is later than this ISO time. */
  asOf?: string | null;
  /** Record undecodable events as anomalies and go on, instead of stopping with their error. */
  skipInvalid?: boolean;
  /** Most events applied inside one `produce()`. */
  batchSize?: number;
  /** Called with the state after every batch (used by `check` to watch invariants on every prefix). */
  onBatch?: (state: S) => void;
}

export interface FoldResult<S> {
  state: S;
  /** Events processed (applied or recorded as anomalies). */
  processed: number;
  /** True when `until` or `asOf` cut the log short. */
  stoppedEarly: boolean;
  /** Position of the last event processed (null when none was). */
  lastPosition: bigint | null;
}

export type ReplaySource = AsyncIterable<readonly ReplayItem[]> | Iterable<readonly ReplayItem[]>;

const DEFAULT_BATCH = 512;

/**
 * Folds a log into a projection. The fold owns its working state (a fresh initial state, or a clone
 * of the one given), so it runs the projection's recipes directly on it instead of on immer
 * drafts: measured on 1M generated events, one `produce()` per 4096-event batch ran at ~16k
 * events/s and a single `produce()` around everything at ~42k/s (proxy traps on every nested
 * read), while the same recipes on an owned state keep up with JSON.parse (see `npm run bench`).
 * Nothing outside sees the state until the fold returns it, so the result is still a value; the
 * equivalence with immer application is a property test.
 */
export const foldEvents = async <S, E extends RecordedEvent = RecordedEvent>(
  projection: Projection<S, E>,
  source: ReplaySource,
  options: FoldOptions<S> = {},
): Promise<FoldResult<S>> => {
  const given = options.initialState;
  const state =
    given === undefined
      ? projection.initialState()
      : options.adoptInitialState
        ? given
        : projection.clone
          ? projection.clone(given)
          : structuredClone(given);
  const until = options.until ?? null;
  const asOfMs = options.asOf == null ? null : Date.parse(options.asOf);
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  let processed = 0;
  let stoppedEarly = false;
  let lastPosition: bigint | null = null;
  let pending: ReplayItem[] = [];

  const flush = () => {
    if (pending.length === 0) return;
    const items = pending;
    pending = [];
    applyItemsInPlace(projection, state, items);
    processed += items.length;
    lastPosition = items[items.length - 1]!.position;
    options.onBatch?.(state);
  };

  outer: for await (const chunk of source) {
    for (const item of chunk) {
      if (until !== null && item.position > until) {
        stoppedEarly = true;
        break outer;
      }
      if (isInvalid(item)) {
        if (!options.skipInvalid || projection.applyInvalid === undefined) {
          flush();
          throw item.invalid;
        }
      } else if (asOfMs !== null && Date.parse(isDuplicate(item) ? item.event.metadata.at : item.metadata.at) > asOfMs) {
        stoppedEarly = true;
        break outer;
      }
      pending.push(item);
      if (pending.length >= batchSize) flush();
    }
  }
  flush();
  return { state, processed, stoppedEarly, lastPosition };
};

/**
 * Runs the recipes on a state the caller owns (mutating it); undecodable items go to `applyInvalid`,
 * redeliveries to `applyDuplicate` (dropped when the projection has none).
 */
export const applyItemsInPlace = <S, E extends RecordedEvent>(projection: Projection<S, E>, state: S, items: readonly ReplayItem[]): void => {
  const draft = state as Draft<S>;
  for (const item of items) {
    if (isInvalid(item)) {
      projection.applyInvalid!(draft, { position: item.position, eventId: item.id, type: item.type, message: item.invalid.message });
    } else if (isDuplicate(item)) {
      const e = item.event;
      projection.applyDuplicate?.(draft, { position: e.position, eventId: e.id, type: e.type });
    } else {
      projection.apply(draft, item as E);
    }
  }
};

/** Applies items inside one immer `produce()`: the given state is left untouched. */
export const applyItems = <S, E extends RecordedEvent>(projection: Projection<S, E>, state: S, items: readonly ReplayItem[]): S => {
  loadImmerPlugins();
  return immer.produce(state, (draft) => {
    applyItemsInPlace(projection, draft as S, items);
  }) as S;
};
