import type { Draft } from 'immer';

/** An anomaly the engine reports for an event it could not decode (only with --skip-invalid). */
export interface InvalidEventInfo {
  position: bigint;
  eventId: string | null;
  type: string | null;
  message: string;
}

/** An event the reader recognised as a redelivery of an id already applied (rule 4). */
export interface SkippedEventInfo {
  position: bigint;
  eventId: string;
  type: string;
}

/**
 * A projection is a value: a name and version (a snapshot is only reused by the same pair), an
 * initial state, and an immer recipe that applies one recorded event to a draft.
 */
export interface Projection<State, Event> {
  readonly name: string;
  readonly version: number;
  readonly initialState: () => State;
  readonly apply: (draft: Draft<State>, event: Event) => void;
  /** Records an event that could not be decoded, when the caller chose to skip such events. */
  readonly applyInvalid?: (draft: Draft<State>, info: InvalidEventInfo) => void;
  /** Records a redelivered event (an id already applied) without applying it. Without it the fold drops such items silently. */
  readonly applyDuplicate?: (draft: Draft<State>, info: SkippedEventInfo) => void;
  /** A deep copy the caller owns (default: `structuredClone`). */
  readonly clone?: (state: State) => State;
  /** To a JSON-safe value for snapshots (default: the state itself). */
  readonly toJSON?: (state: State) => unknown;
  /** Back from `toJSON`'s value. */
  readonly fromJSON?: (json: unknown) => State;
  /** The newest event time (ISO) folded into a state: lets time travel by time pick a snapshot without loading it. */
  readonly newestAt?: (state: State) => string | null;
}

/** Declares a projection; returns its argument, typed (Emmett's `projection()`). */
export const defineProjection = <State, Event>(projection: Projection<State, Event>): Projection<State, Event> =>
  projection;
