import type { RollcallError } from '../errors.js';
import type { RecordedEvent } from '../events/lifecycleEvents.js';

/** A log entry that could not be decoded; replay stops on it unless told to skip it. */
export interface InvalidRecord {
  readonly invalid: RollcallError;
  readonly position: bigint;
  readonly id: string | null;
  readonly type: string | null;
}

/** What a replay source yields: a decoded event, or the record of one that failed to decode. */
export type ReplayItem = RecordedEvent | InvalidRecord;

export const isInvalid = (item: ReplayItem): item is InvalidRecord => (item as InvalidRecord).invalid !== undefined;
