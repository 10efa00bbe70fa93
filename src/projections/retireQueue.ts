
// A binary min-heap on `dueMs` kept in a plain array (so immer can draft it), for what retention
// evicts and for leases that lapse alike. Events mostly come in
// time order, so a push usually stops at its first comparison; the clock pops only what expires.

/** Adds an entry. */
export const pushRetire = <T extends { dueMs: number }>(heap: T[], entry: T): void => {
  let i = heap.length;
  heap.push(entry);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent]!;
    if (p.dueMs <= entry.dueMs) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = entry;
};

/** Removes and returns the entry due first, if it is due before `beforeMs`. */
export const popRetireBefore = <T extends { dueMs: number }>(heap: T[], beforeMs: number): T | undefined => {
  const top = heap[0];
  if (top === undefined || !(top.dueMs < beforeMs)) return undefined;
  const last = heap.pop()!;
  const n = heap.length;
  if (n === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && heap[r]!.dueMs < heap[l]!.dueMs ? r : l;
    if (heap[c]!.dueMs >= last.dueMs) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = last;
  return top;
};
