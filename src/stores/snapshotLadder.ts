/**
 * Which snapshots of one projection a store keeps: a ladder along the whole log, dense near the
 * head, and no sparser anywhere than a cap `K` (a rung in every `K` events once the ladder is
 * filled), bounded in number and in bytes. Time travel, `replay --until/--as-of`, audits and SSE
 * resumes start from the nearest rung at or below where they go and fold only the gap: at most
 * about `K` events in the old part of the log, a fraction of the distance from the head near it.
 */
export interface LadderPolicy {
  /** The finest spacing, near the head (default 10,000 events: the live snapshot interval). */
  minGap: number;
  /** Rungs per doubling of the distance from the head (default 8): near the head the spacing at distance d is d / density to 2·d / density. */
  density: number;
  /** At most this many rungs (default 64)… */
  maxRungs: number;
  /** …and at most this many bytes of payload (default 1 GiB): the cap `K` is the smallest that fits both. */
  maxBytes: number;
}

export const DEFAULT_LADDER: LadderPolicy = { minGap: 10_000, density: 8, maxRungs: 64, maxBytes: 1024 * 1024 * 1024 };

export interface RungSize {
  position: bigint;
  bytes: number;
}

/** The shape of a ladder: rungs per doubling near the head, and the largest cell (`cap`, a power-of-two multiple of minGap). */
export interface LadderShape {
  density: number;
  cap: number;
  /** At most this many rungs (from maxRungs and maxBytes at the given snapshot size). */
  most: number;
}

/** One cell of the ladder: positions `start` to `start + size - 1`; a full ladder holds a rung in each (but the first). */
export interface LadderCell {
  start: bigint;
  size: bigint;
}

/**
 * The cell holding `position` when the newest rung is at `newest`: the largest aligned cell (of
 * `minGap·2^l` positions, never over `cap`) that lies wholly at least `density·minGap·2^(l-1)`
 * behind the newest, else the `minGap` cell. So within `density·minGap` of the head cells are
 * `minGap` wide, and they double with each doubling of the distance, up to the cap. Sizes are
 * power-of-two multiples of minGap and cells are aligned to their size, so the cells partition the
 * log, and as the head moves on (or the cap grows) two cells merge into one, never overlap.
 */
const cellOf = (position: bigint, newest: bigint, minGap: number, shape: Pick<LadderShape, 'density' | 'cap'>): LadderCell => {
  const band = BigInt(minGap * shape.density);
  for (let level = Math.round(Math.log2(shape.cap / minGap)); level >= 1; level--) {
    const size = BigInt(minGap * 2 ** level);
    const start = (position / size) * size;
    if (newest - (start + size - 1n) >= band * 2n ** BigInt(level - 1)) return { start, size };
  }
  const size = BigInt(minGap);
  return { start: (position / size) * size, size };
};

/** The cells of a full ladder whose newest rung is at `newest`, newest first (at most `limit + 1`: enough to tell it does not fit). */
export const ladderCells = (newest: bigint, shape: LadderShape, policy: LadderPolicy = DEFAULT_LADDER, limit = Infinity): LadderCell[] => {
  const cells: LadderCell[] = [];
  for (let p = newest; p >= 0n && cells.length <= limit; ) {
    const cell = cellOf(p, newest, policy.minGap, shape);
    cells.push(cell);
    p = cell.start - 1n;
  }
  return cells;
};

/**
 * The ladder for a log whose newest rung is at `newest`, with snapshots of about `bytes` each: the
 * density asked for and the smallest cap with which a full ladder fits the bounds (the density is
 * halved only when even one cell for the whole old part would not fit).
 */
export const ladderShape = (newest: bigint, bytes: number, policy: LadderPolicy = DEFAULT_LADDER): LadderShape => {
  const most = Math.max(1, Math.min(policy.maxRungs, Math.floor(policy.maxBytes / Math.max(1, bytes))));
  const span = Math.max(1, Number(newest));
  // Start where a uniform ladder alone would fit: the loop then takes a step or two, not thousands.
  const first = Math.max(0, Math.floor(Math.log2(span / (most * policy.minGap))));
  for (let density = policy.density; density >= 1; density /= 2) {
    for (let k = first; k === first || policy.minGap * 2 ** k <= 2 * span; k++) {
      const shape = { density, cap: policy.minGap * 2 ** k, most };
      // Room for the newest rung beside the oldest of its own cell.
      if (ladderCells(newest, shape, policy, most).length < most) return shape;
    }
  }
  return { density: 1, cap: policy.minGap * 2 ** Math.max(0, Math.ceil(Math.log2((2 * span) / policy.minGap))), most };
};

const ascending = (a: RungSize, b: RungSize) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0);

/**
 * The positions to keep of `rungs` (any order): the oldest rung of each cell of the ladder shaped
 * for the newest one (see `ladderShape`), and the newest. As the head moves on, two cells merge
 * and keep the older of their two rungs, so a rung that is dropped is never one a later ladder
 * needs: saving one snapshot at a time and pruning after each keeps a ladder with a rung every
 * d / density to 2·d / density events at distance d from the head, at most `cap` apart wherever a
 * rung was saved in each cell (the ladder builder fills the cells that have none).
 */
export const rungsToKeep = (rungs: readonly RungSize[], policy: LadderPolicy = DEFAULT_LADDER): Set<bigint> => {
  if (rungs.length === 0) return new Set();
  const sorted = [...rungs].sort(ascending);
  const newest = sorted[sorted.length - 1]!;
  const shape = ladderShape(newest.position, Math.max(1, ...rungs.map((r) => r.bytes)), policy);
  const cells = new Set<string>();
  const kept: RungSize[] = [];
  for (const r of sorted) {
    const cell = cellOf(r.position, newest.position, policy.minGap, shape);
    const key = `${cell.size}:${cell.start}`;
    if (r !== newest && cells.has(key)) continue;
    cells.add(key);
    kept.push(r);
  }
  return new Set(kept.slice(-shape.most).map((r) => r.position));
};

/**
 * Where a full ladder lacks a rung: the cells (oldest first) of the ladder shaped for `newest` that
 * hold none of `rungs`, but the first cell (folding from the start of the log is its rung) and the
 * newest one. A rung saved anywhere in such a cell, best at its start, is one the policy keeps.
 */
export const missingCells = (rungs: readonly bigint[], newest: bigint, bytes: number, policy: LadderPolicy = DEFAULT_LADDER): LadderCell[] => {
  const shape = ladderShape(newest, bytes, policy);
  const cells = ladderCells(newest, shape, policy).reverse();
  return cells.filter((c, i) => i > 0 && i < cells.length - 1 && !rungs.some((p) => p >= c.start && p < c.start + c.size));
};
