import type { Change } from './types.js';

/**
 * The most recent changes, oldest evicted first. `floor` is the position after which the ring holds
 * every change: a subscriber resuming from `from >= floor` is served from memory.
 */
export interface ChangeRing {
  readonly floor: bigint | null;
  push(change: Change): void;
  /** Calls `f` for each change with a position strictly greater than `after`, in order. */
  forEachAfter(after: bigint, f: (change: Change) => void): void;
  /** At most `max` changes with a position strictly greater than `after`, in order. */
  after(after: bigint, max: number): Change[];
  /** Drops everything and says that changes are complete after `floor` from now on. */
  reset(floor: bigint | null): void;
}

export const createChangeRing = (capacity: number): ChangeRing => {
  const size = Math.max(1, capacity);
  const items: Array<Change | undefined> = new Array(size);
  let start = 0; // index of the oldest
  let count = 0;
  let floor: bigint | null = null;

  const at = (i: number): Change => items[(start + i) % size]!;
  // Binary search for the index of the first position > after.
  const firstAfter = (after: bigint): number => {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at(mid).position <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  return {
    get floor() {
      return floor;
    },
    push(change) {
      if (count === size) {
        floor = items[start]!.position;
        items[start] = change;
        start = (start + 1) % size;
      } else {
        items[(start + count) % size] = change;
        count++;
      }
    },
    forEachAfter(after, f) {
      for (let i = firstAfter(after); i < count; i++) f(at(i));
    },
    after(after, max) {
      const out: Change[] = [];
      for (let i = firstAfter(after); i < count && out.length < max; i++) out.push(at(i));
      return out;
    },
    reset(next) {
      items.fill(undefined);
      start = 0;
      count = 0;
      floor = next;
    },
  };
};

/** Position of "before the first event": every real position is greater. */
export const START = -1n;
