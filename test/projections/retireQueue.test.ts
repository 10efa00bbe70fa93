import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RetireEntry } from '../../src/projections/lifecycleState.js';
import { popRetireBefore, pushRetire } from '../../src/projections/retireQueue.js';
import { runs } from '../support/runs.js';

// The retention clock pops only what is due (O(what expires)); everything it pops must come out in
// due order, none may be lost or popped early, whatever order the entries were pushed in.

const entries = (dues: number[]): RetireEntry[] => dues.map((dueMs, i) => ({ dueMs, id: `s${i}`, agent: i % 3 === 0 }));

const drain = (heap: RetireEntry[], beforeMs: number): RetireEntry[] => {
  const out: RetireEntry[] = [];
  for (let e = popRetireBefore(heap, beforeMs); e !== undefined; e = popRetireBefore(heap, beforeMs)) out.push(e);
  return out;
};

describe('retire queue (min-heap on dueMs)', () => {
  it('pops in due order, each entry once, whatever the push order', () =>
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 60 }), (dues) => {
        const heap: RetireEntry[] = [];
        for (const e of entries(dues)) pushRetire(heap, e);
        const popped = drain(heap, Infinity);
        expect(popped.map((e) => e.dueMs)).toEqual([...dues].sort((a, b) => a - b));
        expect(new Set(popped.map((e) => e.id)).size).toBe(dues.length);
        expect(heap).toEqual([]);
      }),
      { numRuns: runs(300) },
    ));

  it('pops exactly what is due before the horizon and keeps the rest, still in order', () =>
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 60 }), fc.integer({ min: 0, max: 51 }), (dues, horizon) => {
        const heap: RetireEntry[] = [];
        for (const e of entries(dues)) pushRetire(heap, e);
        const due = drain(heap, horizon);
        expect(due.every((e) => e.dueMs < horizon)).toBe(true);
        expect(due.length).toBe(dues.filter((d) => d < horizon).length);
        expect(drain(heap, Infinity).map((e) => e.dueMs)).toEqual(dues.filter((d) => d >= horizon).sort((a, b) => a - b));
      }),
      { numRuns: runs(300) },
    ));

  it('given pushes in falling order (late events), then the smallest is on top and pops first', () => {
    const heap: RetireEntry[] = [];
    for (const e of entries([9, 7, 5, 3, 1])) pushRetire(heap, e);
    expect(heap[0]!.dueMs).toBe(1);
    expect(drain(heap, 6).map((e) => e.dueMs)).toEqual([1, 3, 5]);
    expect(heap.map((e) => e.dueMs).sort()).toEqual([7, 9]);
  });

  it('an entry due exactly at the horizon is not popped; an empty queue pops nothing', () => {
    const heap: RetireEntry[] = [];
    expect(popRetireBefore(heap, Infinity)).toBeUndefined();
    pushRetire(heap, { dueMs: 5, id: 's', agent: false });
    expect(popRetireBefore(heap, 5)).toBeUndefined();
    expect(popRetireBefore(heap, 6)).toEqual({ dueMs: 5, id: 's', agent: false });
  });
});
