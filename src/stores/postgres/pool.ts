import pg from 'pg';
import { RollcallError } from '../../errors.js';
import { storeClosed } from '../storeClosed.js';
import type { SqlDb } from '../relational/sqlDb.js';
import { postgresFailure, sqlState } from './errors.js';

// json is kept as the text we wrote (jsonb would reorder keys and reject \u0000); every column is
// read as text and parsed here, so a damaged value flags its row instead of failing the query.
export const asText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

export interface PostgresPoolOptions {
  /** The store's URL with its password masked, for messages. */
  url: string;
  connectionString: string;
  connectTimeoutMs: number;
  poolSize: number;
  statementTimeoutMs: number;
  /** Client-side bound on one read query (a page, the head): a silent partition fails it instead of hanging. */
  readTimeoutMs: number;
  /** Server settings (`-c search_path=…`), or '' for none. */
  serverOptions: string;
}

/** The store's pool, its transactions, and the shared relational code's view of it. */
export interface PostgresConnection {
  readonly url: string;
  readonly pool: pg.Pool;
  readonly sql: SqlDb;
  /** Runs `work` in one transaction on one pooled client; any failure rolls back and is a RollcallError. */
  transaction<T>(doing: string, work: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  isClosed(): boolean;
  close(): Promise<void>;
}

/**
 * At most `n` holders at once, the others waiting in arrival order: transactions take a slot
 * before they take a pooled client, so that they never hold every connection of the pool.
 */
const slots = (n: number) => {
  let free = n;
  const waiting: Array<() => void> = [];
  return {
    /** Resolves true once a slot is taken, false after `timeoutMs` without one (as the pool's own wait for a client). */
    take(timeoutMs: number): Promise<boolean> {
      if (free > 0) {
        free--;
        return Promise.resolve(true);
      }
      return new Promise<boolean>((resolve) => {
        const granted = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(granted), 1);
          resolve(false);
        }, timeoutMs);
        waiting.push(granted);
      });
    },
    give(): void {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
};

export const createPostgresConnection = (options: PostgresPoolOptions): PostgresConnection => {
  const { url } = options;
  let closed = false;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs,
    max: options.poolSize,
    idleTimeoutMillis: 10_000,
    statement_timeout: options.statementTimeoutMs,
    // The client's own bounds, for when the server cannot say anything (a partition holds the
    // packets): a statement gets the server's timeout plus a margin, a dead peer is found by TCP
    // keep-alive, and a transaction left open by a lost client is ended by the server.
    ...(options.statementTimeoutMs > 0
      ? { query_timeout: options.statementTimeoutMs + 5_000, idle_in_transaction_session_timeout: options.statementTimeoutMs + 5_000 }
      : {}),
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    ...(options.serverOptions ? { options: options.serverOptions } : {}),
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);

  // One connection of the pool is kept for reads: appends queued behind the append lock (held by
  // another process, or by a long append) must not starve the reads that readiness and followers
  // make, or a reachable store would look unreachable (/readyz 503). A pool of one keeps nothing.
  const transactionSlots = slots(Math.max(1, options.poolSize - 1));

  const transaction = async <T>(doing: string, work: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    if (!(await transactionSlots.take(options.connectTimeoutMs))) {
      throw new RollcallError(
        'store-unavailable',
        `${url}: ${doing}: no connection free for it within ${options.connectTimeoutMs} ms (this process's other appends hold them, waiting for the append lock)`,
      );
    }
    try {
      return await transactionOnClient(doing, work);
    } finally {
      transactionSlots.give();
    }
  };

  const transactionOnClient = async <T>(doing: string, work: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw postgresFailure(url, doing, e);
    }
    // A checked-out client has no listener of the pool's: a connection lost mid-transaction
    // (pg_terminate_backend, a failover, a reset link) would be an unhandled 'error' event that
    // kills the process. Kept here, it makes the pending query fail, which is store-unavailable.
    let lost: Error | undefined;
    const onError = (e: Error) => (lost ??= e);
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      // A lost or timed-out connection cannot roll back (and waiting on it would only stall):
      // the client is destroyed, and the server rolls back when it notices the socket gone.
      if (lost !== undefined || (sqlState(e) === null && !(e instanceof RollcallError))) broken = lost ?? (e as Error);
      else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw postgresFailure(url, doing, e);
    } finally {
      client.removeListener('error', onError);
      client.release(broken ?? lost);
    }
  };

  const sql: SqlDb = {
    async rows(doing, name, text, params) {
      if (closed) throw storeClosed(url, doing);
      const values = params.map((v) => (typeof v === 'bigint' ? v.toString() : v));
      try {
        // query_timeout per query is honoured by node-postgres but missing from its types.
        const query = { text, values, rowMode: 'array', types: asText, name, query_timeout: options.readTimeoutMs } as pg.QueryArrayConfig;
        const result = await pool.query<unknown[]>(query);
        return result.rows;
      } catch (e) {
        throw postgresFailure(url, doing, e);
      }
    },
    param: (n) => `$${n}`,
    now: 'now()',
    tables: { events: 'rollcall_events', snapshots: 'rollcall_snapshots' },
    readAhead: true,
  };

  return {
    url,
    pool,
    sql,
    transaction,
    isClosed: () => closed,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
};
