/**
 * What the shared relational code (page reads, stream reads, snapshots) needs of a database:
 * rows as arrays, its placeholder syntax, and its table names. Each dialect (sqlite, postgres)
 * implements it over its own driver, with its own error mapping and closed-store check.
 */
export interface SqlDb {
  /**
   * Runs one statement and returns its rows as arrays, in column order. `doing` names the
   * operation in errors; `name` identifies the statement for reuse (a prepared statement).
   * Integers arrive as number, bigint or decimal text, whichever the driver gives exactly.
   */
  rows(doing: string, name: string, sql: string, params: readonly unknown[]): Promise<unknown[][]>;
  /** The n-th (1-based) parameter placeholder: `?` or `$n`. */
  param(n: number): string;
  /** SQL for the current time as ISO 8601 text or a timestamp, stored with a snapshot. */
  readonly now: string;
  readonly tables: { events: string; snapshots: string };
  /**
   * Whether a page read asks for the next page before handing out this one: worth it over a
   * network (the server works while we parse), pointless for a synchronous embedded driver.
   */
  readonly readAhead: boolean;
}
