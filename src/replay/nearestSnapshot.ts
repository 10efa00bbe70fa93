/**
 * Where a fold must not go past: a position (inclusive), a time (the log before the first later
 * event), or both. Folds to a target start from the nearest rung of the snapshot ladder at or
 * below it (travel.ts `foldToward`, replayLog.ts `findSnapshot`).
 */
export interface FoldTarget {
  until?: bigint | null;
  asOf?: string | null;
}
