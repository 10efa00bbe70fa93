import type { RollcallError } from '../errors.js';
import type { RecordedEvent } from '../events/lifecycleEvents.js';

/** A log entry that could not be decoded; replay stops on it unless told to skip it. */
export class InvalidRecord {
  constructor(
    readonly invalid: RollcallError,
    readonly position: bigint,
    readonly id: string | null,
    readonly type: string | null,
  ) {}
}

/** What a replay source yields: a decoded event, or the record of one that failed to decode. */
export type ReplayItem = RecordedEvent | InvalidRecord;

// instanceof, not a property probe: events come in many shapes and a missing-property lookup on
// all of them is megamorphic (it showed up in profiles of the fold).
export const isInvalid = (item: ReplayItem): item is InvalidRecord => item instanceof InvalidRecord;
