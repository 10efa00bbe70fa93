/**
 * Which snapshots of one projection a store keeps: a ladder along the log, dense near the head and
 * sparser further back, bounded in number and in bytes. Time travel, `replay --until/--as-of`,
 * audits and SSE resumes start from the nearest rung at or below where they go and fold only the
 * gap, so the gap a request pays for grows with how far back it goes (an eighth to a quarter of
 * that distance by default), never with the length of the log.
 */
export interface LadderPolicy {
  /** The finest spacing, near the head (default 10,000 events: the live snapshot interval). */
  minGap: number;
  /** Rungs per doubling of the distance from the head (default 8): the spacing at distance d is d / density to 2·d / density. */
  density: number;
  /** At most this many rungs (default 24)… */
  maxRungs: number;
  /** …and at most this many bytes of payload (default 256 MiB): past either bound the ladder thins out. */
  maxBytes: number;
}

export const DEFAULT_LADDER: LadderPolicy = { minGap: 10_000, density: 8, maxRungs: 24, maxBytes: 256 * 1024 * 1024 };

export interface RungSize {
  position: bigint;
  bytes: number;
}

/** The oldest rung of each cell of the lattice for `density` (see `rungsToKeep`), oldest first. */
const lattice = (ascending: readonly RungSize[], minGap: number, density: number): RungSize[] => {
  const newest = ascending[ascending.length - 1]!;
  const band = minGap * density;
  const cells = new Set<string>();
  const kept: RungSize[] = [];
  for (const r of ascending) {
    const behind = Number(newest.position - r.position);
    const level = behind < band ? 0 : Math.floor(Math.log2(behind / band)) + 1;
    const cell = `${level}:${r.position / BigInt(minGap * 2 ** level)}`;
    if (r !== newest && cells.has(cell)) continue;
    cells.add(cell);
    kept.push(r);
  }
  return kept;
};

/**
 * The positions to keep of `rungs` (any order). The log is cut into cells whose size doubles with
 * the distance from the newest rung (`minGap` near the head, `minGap·2^k` once `density·minGap·2^(k-1)`
 * behind), and the oldest rung of each cell is kept. As the head moves on, two cells merge into one
 * and keep the older of their two rungs: a rung that is dropped is never one a later ladder needs,
 * so saving one snapshot at a time, and pruning after each, keeps a ladder with a rung every
 * d / density to 2·d / density events at distance d. Over the count bound (`maxRungs`, or as many
 * of the largest as fit in `maxBytes`), the density is halved (cells merge the same way) until the
 * ladder fits; the newest always stays.
 */
export const rungsToKeep = (rungs: readonly RungSize[], policy: LadderPolicy = DEFAULT_LADDER): Set<bigint> => {
  if (rungs.length === 0) return new Set();
  const ascending = [...rungs].sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  const largest = Math.max(1, ...rungs.map((r) => r.bytes));
  const most = Math.max(1, Math.min(policy.maxRungs, Math.floor(policy.maxBytes / largest)));
  let kept = lattice(ascending, policy.minGap, policy.density);
  for (let density = policy.density / 2; kept.length > most && density >= 1; density /= 2) kept = lattice(ascending, policy.minGap, density);
  return new Set(kept.slice(-most).map((r) => r.position));
};
