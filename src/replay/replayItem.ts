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

/** A log entry whose id was already delivered earlier in the same log (rule 4): it changes nothing. */
export class DuplicateRecord {
  constructor(readonly event: RecordedEvent) {}
  get position(): bigint {
    return this.event.position;
  }
}

/** What decoding one stored or NDJSON entry gives. */
export type DecodedItem = RecordedEvent | InvalidRecord;

/** What a replay source yields: a decoded event, the record of one that failed to decode, or a redelivery. */
export type ReplayItem = RecordedEvent | InvalidRecord | DuplicateRecord;

// instanceof, not a property probe: events come in many shapes and a missing-property lookup on
// all of them is megamorphic (it showed up in profiles of the fold).
export const isInvalid = (item: ReplayItem): item is InvalidRecord => item instanceof InvalidRecord;
export const isDuplicate = (item: ReplayItem): item is DuplicateRecord => item instanceof DuplicateRecord;
