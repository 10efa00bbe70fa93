import { byCodeUnit } from '../projections/lifecycleView.js';

/** Index of `id` in a sorted array, or where it would go (as `~index`). */
const search = (sorted: readonly string[], id: string): number => {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = byCodeUnit(sorted[mid]!, id);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return ~lo;
};

/** The sorted array with `id` in it or not; the same array when nothing changes (so unchanged lists are shared). */
export const withMember = (sorted: string[], id: string, member: boolean): string[] => {
  const at = search(sorted, id);
  if (at >= 0 === member) return sorted;
  const copy = sorted.slice();
  if (member) copy.splice(~at, 0, id);
  else copy.splice(at, 1);
  return copy;
};
