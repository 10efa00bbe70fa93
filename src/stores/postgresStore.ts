import { assembleStore } from './assembleStore.js';
import type { EventStore } from './eventStore.js';
import { maskUrl } from './maskUrl.js';
import { DEFAULT_PAGE_SIZE } from './pageSize.js';
import { createPostgresAppender } from './postgres/append.js';
import { createPostgresFeed } from './postgres/follow.js';
import { createPostgresConnection } from './postgres/pool.js';
import { takeSnapshotLease } from './postgres/lease.js';
import { lockKeys, notifyChannel, prepareSchema } from './postgres/schema.js';
import { splitPostgresUrl } from './postgres/url.js';
import { createRelationalReads } from './relational/reads.js';
import { createRelationalSnapshots } from './relational/snapshots.js';

export { postgresSchemaVersion } from './postgres/schema.js';

/*
 * The PostgreSQL store, assembled from one module per concern under ./postgres: the URL, the pool
 * and its transactions, the schema (migrations, advisory-lock keys, read-only servers), appends
 * under the append lock, following by LISTEN/NOTIFY, and the mapping of the server's errors; page
 * reads and snapshots are the relational code it shares with the embedded store.
 */

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:5432/database` (any node-postgres connection string, TLS
   * settings such as `sslmode` included), with rollcall's own `?max=`, `?schema=` and
   * `?statement_timeout=` parameters.
   */
  url: string;
  /** How long connecting may take before the store is reported unavailable. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Connections in the pool. Default `?max=`, else 4. */
  poolSize?: number;
  /** Schema of rollcall's tables, created if missing. Default `?schema=`, else the server's search_path (normally `public`). */
  schema?: string;
  /** Longest a statement may run before the server cancels it (store-unavailable). Default `?statement_timeout=`, else 60 000 ms; 0 = none. */
  statementTimeoutMs?: number;
  /** How long the client waits for one read query (a page, the head) before reporting the store unavailable. Default `?read_timeout=`, else 10 000 ms. */
  readTimeoutMs?: number;
  /**
   * A live subscription is woken by NOTIFY (sent inside every append transaction, received on one
   * LISTEN connection per process and server); it polls this often only while that connection is
   * down, and always on a read-only server (a hot standby cannot LISTEN). Default 500 ms, 100 ms on a
   * read-only server.
   */
  pollIntervalMs?: number;
  /** The poll while the LISTEN connection is up, in case a notification is lost. Default 5000 ms. */
  notifyFallbackMs?: number;
  /** Rows per read query (and per page a follower is handed). Default 2,048. */
  pageSize?: number;
  /** How long a live subscription keeps retrying while the server is unreachable before it throws. Default 60 s. */
  reconnectWindowMs?: number;
  /**
   * Runs inside every append transaction, after the rows are written and just before COMMIT.
   * For tests that widen the commit window to prove that readers never skip an event.
   */
  beforeCommit?: () => Promise<void>;
}

/**
 * The PostgreSQL store (`postgres://…`): same semantics as the embedded one — gapless positions
 * in commit order, id-idempotent appends, per-stream revisions — over a connection pool.
 */
export const openPostgresStore = async (options: PostgresStoreOptions): Promise<EventStore> => {
  const url = maskUrl(options.url);
  const { connectionString, params } = splitPostgresUrl(options.url);
  const schema = options.schema ?? params.schema;
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const conn = createPostgresConnection({
    url,
    connectionString,
    connectTimeoutMs,
    poolSize: options.poolSize ?? params.poolSize ?? 4,
    statementTimeoutMs: options.statementTimeoutMs ?? params.statementTimeoutMs ?? 60_000,
    readTimeoutMs: options.readTimeoutMs ?? params.readTimeoutMs ?? 10_000,
    serverOptions: [params.options, schema && `-c search_path=${schema}`].filter(Boolean).join(' '),
  });
  const { readOnly } = await prepareSchema(conn, schema);

  const reads = createRelationalReads(conn.sql, pageSize);
  const feed = createPostgresFeed({
    url,
    connectionString,
    channel: notifyChannel(schema),
    connectTimeoutMs,
    readOnly,
    pageSize,
    // A standby's followers poll all the time, so more often by default.
    pollIntervalMs: options.pollIntervalMs ?? (readOnly ? 100 : 500),
    notifyFallbackMs: options.notifyFallbackMs ?? 5_000,
    reconnectWindowMs: options.reconnectWindowMs ?? 60_000,
    page: reads.page,
    isClosed: conn.isClosed,
  });
  const appender = createPostgresAppender(conn, { schema, readOnly, beforeCommit: options.beforeCommit, onCommit: feed.wake });
  const snapshots = createRelationalSnapshots(conn.sql);

  return assembleStore(
    {
      url,
      uniqueIds: true,
      appendToStream: appender.appendToStream,
      appendBatch: appender.appendBatch,
      appendGroup: appender.appendGroup,
      readPages: reads.readPages,
      readerUrl: () => options.url,
      // The snapshot worker opens a pool of its own (a standby saves nothing: no writer).
      snapshotWriter: () => (readOnly ? null : { url: options.url }),
      // One runtime among all those following this log keeps its live snapshot; a standby, which
      // saves nothing, never takes it (its followers mirror nothing for a save that would be dropped).
      snapshotLease: async () => (readOnly || conn.isClosed() ? null : takeSnapshotLease(connectionString, lockKeys(schema).snapshot, connectTimeoutMs)),
      readStream: reads.readStream,
      subscribePages: feed.subscribePages,
      async head() {
        const rows = await conn.sql.rows('read head', 'rollcall_head', 'SELECT position FROM rollcall_head', []);
        const h = BigInt((rows[0]?.[0] as string | undefined) ?? '0');
        return h === 0n ? null : h;
      },
      // A standby cannot write: its followers load the snapshots the primary's processes save.
      snapshots: readOnly ? { ...snapshots, save: async () => undefined } : snapshots,
      async close() {
        if (conn.isClosed()) return;
        const ending = conn.close();
        feed.wake();
        await ending;
      },
    },
    conn.isClosed,
  );
};
