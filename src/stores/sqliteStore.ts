import type Database from 'better-sqlite3';
import { assembleStore } from './assembleStore.js';
import type { EventStore } from './eventStore.js';
import { DEFAULT_PAGE_SIZE } from './pageSize.js';
import { createRelationalReads } from './relational/reads.js';
import { createRelationalSnapshots } from './relational/snapshots.js';
import { createSqliteAppender } from './sqlite/append.js';
import { createSqliteDb } from './sqlite/db.js';
import { createSqliteFeed } from './sqlite/follow.js';
import { openDatabase } from './sqlite/open.js';

export { sqliteSchemaVersion } from './sqlite/schema.js';

/*
 * The embedded store (`sqlite:PATH`), assembled from one module per concern under ./sqlite: the
 * schema and its migrations, opening (and refusing) a file, appends under the write lock, the
 * change feed that followers wait on, and the mapping of SQLite's errors; page reads and snapshots
 * are the relational code it shares with the PostgreSQL store.
 */

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** Create the file (and schema) when missing; its directory must exist. Default true; readers pass false. */
  create?: boolean;
  /** Run SQLite's quick integrity check at open and refuse a damaged file (`corrupt-store`). Writers pass true. */
  verify?: boolean;
  /** How long an append waits for another process's write lock before giving up. Default 10 s. */
  busyTimeoutMs?: number;
  /**
   * A live subscription learns of other processes' commits from a file watch on the database and
   * its WAL, confirmed by PRAGMA data_version; this is its fallback poll, for file systems whose
   * watch misses writes (network mounts). Default 1000 ms.
   */
  pollIntervalMs?: number;
  /** Rows per read query (and per page a follower is handed). Default 2,048. */
  pageSize?: number;
}

/**
 * The embedded store (`sqlite:PATH`): one file, WAL, every append call one transaction. SQLite
 * serializes writers, so positions are 1, 2, 3… in commit order and a poller never skips one.
 */
export const openSqliteStore = (options: SqliteStoreOptions): EventStore => {
  const url = `sqlite:${options.path}`;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
  const db: Database.Database = openDatabase(options.path, url, { busyTimeoutMs, create: options.create ?? true, verify: options.verify ?? false });
  let closed = false;
  const isClosed = () => closed;

  const sql = createSqliteDb(db, url, isClosed);
  const reads = createRelationalReads(sql, pageSize);
  const feed = createSqliteFeed(db, sql, { path: options.path, url, pageSize, pollIntervalMs: options.pollIntervalMs ?? 1000, page: reads.page, isClosed });
  const appender = createSqliteAppender(db, sql, { busyTimeoutMs, onCommit: feed.committed });
  const headQuery = db.prepare('SELECT max(position) FROM events').pluck();

  return assembleStore(
    {
      url,
      uniqueIds: true,
      appendToStream: appender.appendToStream,
      appendBatch: appender.appendBatch,
      appendGroup: appender.appendGroup,
      readPages: reads.readPages,
      // Another connection to the same file; an in-memory database exists only on this connection.
      ...(options.path === ':memory:' ? {} : { readerUrl: () => url }),
      readStream: reads.readStream,
      subscribePages: feed.subscribePages,
      async head() {
        const h = sql.guard('read', () => headQuery.get() as number | null);
        return h === null ? null : BigInt(h);
      },
      snapshots: createRelationalSnapshots(sql),
      async close() {
        if (closed) return;
        closed = true;
        feed.close();
        db.close();
      },
    },
    isClosed,
  );
};
