/**
 * Events per page a store reads (and hands a follower) unless told otherwise. A page and what is
 * decoded from it should die young: 10,000 rows (with their parsed data) outgrew V8's young
 * generation, got promoted, and doubled a 1M-event replay's peak RSS (381 MB vs 174 MB in-thread,
 * measured by hand; see docs/performance.md).
 */
export const DEFAULT_PAGE_SIZE = 2_048;
