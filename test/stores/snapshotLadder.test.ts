import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LADDER, ladderShape, missingCells, rungsToKeep, type RungSize } from '../../src/stores/snapshotLadder.js';

const MB = 1024 * 1024;
/** The ladder after saving a snapshot every `every` events up to `head`, pruning after each save as a store does. */
const grow = (head: number, every: number, bytes = MB, policy = DEFAULT_LADDER): bigint[] => {
  let rungs: RungSize[] = [];
  for (let p = every; p <= head; p += every) {
    rungs.push({ position: BigInt(p), bytes });
    const keep = rungsToKeep(rungs, policy);
    rungs = rungs.filter((r) => keep.has(r.position));
  }
  return rungs.map((r) => r.position).sort((a, b) => (a < b ? -1 : 1));
};

describe('snapshot ladder', () => {
  it('keeps the newest always, and one rung per minGap cell near the head (its oldest)', () => {
    expect([...rungsToKeep([{ position: 5n, bytes: 1 }])]).toEqual([5n]);
    const keep = rungsToKeep([100_000n, 95_000n, 91_000n, 89_000n].map((position) => ({ position, bytes: 1 })));
    expect([...keep].sort((a, b) => (a < b ? -1 : 1))).toEqual([89_000n, 91_000n, 100_000n]);
  });

  it('grown over 1M events, one save per 10k: bounded in number, dense near the head, no gap anywhere over the cap', () => {
    const ladder = grow(1_000_000, 10_000);
    expect(ladder.length).toBeGreaterThan(40);
    expect(ladder.length).toBeLessThanOrEqual(DEFAULT_LADDER.maxRungs);
    expect(ladder[ladder.length - 1]).toBe(1_000_000n);
    // Near the head, a rung every 10k.
    expect(ladder.slice(-3)).toEqual([980_000n, 990_000n, 1_000_000n]);
    // The gap a fold to any position pays: at most the cap (20k here: 55 cells fit 64 rungs), in the middle of the log too.
    const { cap } = ladderShape(1_000_000n, MB);
    expect(cap).toBe(20_000);
    for (let target = 1; target <= 1_000_000; target += 997) {
      const below = ladder.filter((p) => p <= BigInt(target)).pop() ?? 0n;
      expect(target - Number(below)).toBeLessThan(cap);
    }
  });

  it('the cap grows with the log and the snapshot size, within the bounds: the smallest power-of-two multiple of minGap that fits', () => {
    expect(ladderShape(200_000n, MB).cap).toBe(10_000);
    expect(ladderShape(10_000_000n, MB).cap).toBe(320_000);
    // 28 MB snapshots: 36 fit in 1 GiB.
    const shape = ladderShape(1_000_000n, 28 * MB);
    expect(shape.most).toBe(36);
    expect(shape.cap).toBe(40_000);
  });

  it('grown over 10M events at an odd interval: still within maxRungs, thinned rather than cut (the oldest rung stays)', () => {
    const ladder = grow(10_000_000, 7_919);
    expect(ladder.length).toBeLessThanOrEqual(DEFAULT_LADDER.maxRungs);
    expect(ladder[0]).toBe(7_919n);
  });

  it('keeps within the byte bound, however large the snapshots', () => {
    const ladder = grow(500_000, 10_000, 100 * MB);
    expect(ladder.length * 100).toBeLessThanOrEqual(1024);
    expect(ladder[ladder.length - 1]).toBe(500_000n);
  });

  it('property: the newest is kept, the count and bytes are bounded, and only given positions are kept', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 64 * MB }), (positions, bytes) => {
        const rungs = positions.map((p) => ({ position: BigInt(p), bytes }));
        const keep = rungsToKeep(rungs);
        const newest = BigInt(Math.max(...positions));
        expect(keep.has(newest)).toBe(true);
        expect(keep.size).toBeLessThanOrEqual(DEFAULT_LADDER.maxRungs);
        expect(keep.size === 1 || keep.size * bytes <= DEFAULT_LADDER.maxBytes).toBe(true);
        for (const p of keep) expect(positions).toContain(Number(p));
      }),
    );
  });

  it('property: filling the missing cells of a ladder (the builder) gives one the policy keeps whole, with no gap over the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3_000_000 }),
        fc.integer({ min: 1, max: 64 * MB }),
        fc.uniqueArray(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
        (head, bytes, shares) => {
          const newest = BigInt(head);
          const given = [...new Set([newest, ...shares.map((s) => 1n + BigInt(Math.floor(s * (head - 1))))])];
          const filled = [...given, ...missingCells(given, newest, bytes).map((c) => c.start)];
          const keep = rungsToKeep(filled.map((position) => ({ position, bytes })));
          // Nothing the builder saved is pruned at once, and nothing is missing any more.
          for (const c of missingCells(given, newest, bytes)) expect(keep.has(c.start)).toBe(true);
          expect(missingCells([...keep], newest, bytes)).toEqual([]);
          expect(keep.size).toBeLessThanOrEqual(DEFAULT_LADDER.maxRungs);
          expect(keep.size === 1 || keep.size * bytes <= DEFAULT_LADDER.maxBytes).toBe(true);
          const { cap } = ladderShape(newest, bytes);
          const sorted = [0n, ...keep].sort((a, b) => (a < b ? -1 : 1));
          for (let i = 1; i < sorted.length; i++) expect(Number(sorted[i]! - sorted[i - 1]!)).toBeLessThanOrEqual(2 * cap);
        },
      ),
    );
  });
});
