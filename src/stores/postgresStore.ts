import pg from 'pg';
import { RollcallError } from '../errors.js';
import { streamOf, type LifecycleEvent } from '../events/lifecycleEvents.js';
import type {
  AppendResult,
  AppendToStreamResult,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  Snapshot,
  StoredEvent,
  SubscribeOptions,
} from './eventStore.js';
import { checkExpectedRevision } from './expectedRevision.js';
import { maskUrl } from './maskUrl.js';
import { pause, wakeAll } from './pause.js';
import { splitPostgresUrl } from './postgresUrl.js';
import { storedRow } from './storedRow.js';

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
  /**
   * A live subscription is woken by NOTIFY (sent inside every append transaction, received on one
   * LISTEN connection per process and server); it polls this often only while that connection is
   * down, and always on a read-only server (a hot standby cannot LISTEN). Default 500 ms, 100 ms on a
   * read-only server.
   */
  pollIntervalMs?: number;
  /** The poll while the LISTEN connection is up, in case a notification is lost. Default 5000 ms. */
  notifyFallbackMs?: number;
  /** Rows per read query. Default 10,000. */
  pageSize?: number;
  /** How long a live subscription keeps retrying while the server is unreachable before it throws. Default 60 s. */
  reconnectWindowMs?: number;
  /**
   * Runs inside every append transaction, after the rows are written and just before COMMIT.
   * For tests that widen the commit window to prove that readers never skip an event.
   */
  beforeCommit?: () => Promise<void>;
}

/*
 * The position-gap problem (NOTES.md): with a sequence, position 101 can commit, and be read and
 * checkpointed, before 100 commits; the reader then skips 100 for ever. We serialize appenders
 * instead: every append transaction first takes one transaction-level advisory lock, then takes
 * its positions from a counter row in the same transaction. The lock is released only after the
 * commit is visible, so the next appender starts after it; positions are therefore gapless
 * (a rolled-back append rolls the counter back too) and become visible strictly in order, and a
 * reader that asks for `position > checkpoint` can never miss one. It also makes the expected-
 * revision check and the id de-duplication race-free without retries.
 * The price is one appender at a time per database. Appends are one round trip per statement and
 * a bulk append is a few multi-row INSERTs, so that is tens of thousands of events per second;
 * Emmett's xid8 scheme would let writers run in parallel, but readers would have to order by
 * (transaction id, position) and positions would have gaps, which the contract (and the CLI's
 * `--until POSITION`) would have to live with. Message DB makes the same choice as we do.
 */
const APPEND_LOCK = 0x726f6c6c63616c6cn; // 'rollcall'

/**
 * The advisory-lock keys of one log. Advisory locks are per database, so a log in its own schema
 * takes keys of its own (FNV-1a of the name, shifted clear of the constant's top byte); the default
 * log keeps the keys every earlier version used, so old and new processes still exclude each other.
 */
const lockKeys = (schema: string | undefined): { append: bigint; schema: bigint } => {
  if (!schema) return { append: APPEND_LOCK, schema: APPEND_LOCK + 1n };
  let h = 0x811c9dc5;
  for (let i = 0; i < schema.length; i++) h = Math.imul(h ^ schema.charCodeAt(i), 0x01000193) >>> 0;
  const append = APPEND_LOCK ^ (BigInt(h) << 16n);
  return { append, schema: append + 1n };
};

/** The NOTIFY channel appends signal on: NOTIFY is per database, so a log in its own schema has its own. */
const notifyChannel = (schema: string | undefined): string => (schema ? `rollcall_events_${schema}` : 'rollcall_events');

/* Entry i takes the schema from version i to i + 1, recorded in rollcall_schema in the same transaction. */
const migrations: readonly string[] = [
  `CREATE TABLE rollcall_events (
     position bigint PRIMARY KEY,
     stream   text NOT NULL,
     revision bigint NOT NULL,
     id       text NOT NULL UNIQUE,
     type     text NOT NULL,
     data     json NOT NULL,
     metadata json NOT NULL,
     UNIQUE (stream, revision)
   );
   CREATE TABLE rollcall_head (
     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
     position bigint NOT NULL
   );
   INSERT INTO rollcall_head (singleton, position) VALUES (true, 0);
   CREATE TABLE rollcall_snapshots (
     name     text PRIMARY KEY,
     version  integer NOT NULL,
     position bigint NOT NULL,
     payload  text NOT NULL,
     saved_at timestamptz NOT NULL DEFAULT now()
   );`,
];

/** The schema version this code writes; a database at a higher version is refused. */
export const postgresSchemaVersion = migrations.length;

// json is kept as the text we wrote (jsonb would reorder keys and reject \u0000); every column is
// read as text and parsed here, so a damaged value flags its row instead of failing the query.
const asText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

const PAGE_SQL = `SELECT position, stream, revision, id, type, data, metadata FROM rollcall_events
  WHERE position > $1 ORDER BY position LIMIT $2`;
const STREAM_SQL = `SELECT position, stream, revision, id, type, data, metadata FROM rollcall_events
  WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`;
// One JSON array of rows per statement, unpacked by the server in C: faster than unnest() over
// seven arrays, most of whose cost was node-postgres escaping array literals. data and metadata
// travel as JSON strings holding their JSON text: spliced in as nested JSON, the server would
// de-escape them and refuse a lone surrogate (which JSON.stringify writes as "\ud83d"), which the
// json type itself stores verbatim, as every other store does.
const INSERT_SQL = `INSERT INTO rollcall_events (position, stream, revision, id, type, data, metadata)
  SELECT p, s, r, id, t, d::json, m::json FROM json_to_recordset($1::json)
    AS x(p bigint, s text, r bigint, id text, t text, d text, m text)`;

type Row = [string, string, string, string, string, string | null, string | null];

/** Rows per INSERT statement and per id look-up, and the payload bytes at which a statement is cut. */
const WRITE_ROWS = 5_000;
const WRITE_BYTES = 16 * 1024 * 1024;

/** The SQLSTATE of a server error (five characters), or null for a socket or client error. */
const sqlState = (e: unknown): string | null => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
};

/** Connection-level failures (SQLSTATE classes 08, 28, 53, 57P, 3D000) and socket errors. */
const isUnavailable = (e: unknown): boolean => {
  const code = sqlState(e);
  if (code === null) return true; // ECONNREFUSED, ETIMEDOUT, "Connection terminated" …
  return /^(08|28|53|57P)/.test(code) || code === '3D000';
};

/** What a SQLSTATE that is not a connection failure means to an operator, where we know better than "unexpected". */
const knownStates: Record<string, string> = {
  '57014': 'the statement ran longer than the statement timeout (statement_timeout) and was cancelled',
  '25006': 'the server is read-only (a hot standby, or default_transaction_read_only): append to the primary',
  '42P01': "rollcall's tables are missing (dropped or renamed, or another schema is on the search_path)",
  '42501': 'permission denied: the user needs rights on rollcall’s tables (and CREATE on the schema, to create them)',
};

/** An error's message; a refused dual-stack connect is an AggregateError with an empty one. */
const describe = (e: unknown): string => {
  const err = e as { message?: unknown; code?: unknown; errors?: unknown[] };
  if (typeof err.message === 'string' && err.message) return err.message;
  const inner = Array.isArray(err.errors) ? err.errors.map(describe).filter(Boolean) : [];
  return inner.length ? [...new Set(inner)].join('; ') : String(err.code ?? e);
};

/** Why a call failed, for the message: decided by SQLSTATE, worded for an operator. */
const reasonOf = (e: unknown): string => {
  const message = describe(e);
  const state = sqlState(e);
  const known = state === null ? undefined : knownStates[state];
  return isUnavailable(e) ? message : known ? `${known} (${message})` : `unexpected database error: ${message}`;
};

/** Every failure of the server is `store-unavailable` (exit 3): reachable or not, it could not do what was asked. */
const toRollcallError = (url: string, doing: string, e: unknown): RollcallError =>
  e instanceof RollcallError ? e : new RollcallError('store-unavailable', `${url}: ${doing}: ${reasonOf(e)}`, { cause: e });

/**
 * One LISTEN connection per process, server and channel, shared by every subscription of every
 * store on that connection string; it reconnects by itself (backing off) and wakes its subscriptions on each
 * notification and on every (re)connect, so that nothing committed while it was down is missed.
 */
interface Listener {
  /** True while LISTEN is established. */
  readonly up: boolean;
  /** Notifications (and reconnects) heard so far. */
  readonly heard: number;
  readonly wakers: Set<() => void>;
  release(): void;
}

const listeners = new Map<string, Listener & { refs: number }>();

const acquireListener = (connectionString: string, channel: string, connectTimeoutMs: number): Listener => {
  const key = `${channel} ${connectionString}`;
  const existing = listeners.get(key);
  if (existing !== undefined) {
    existing.refs++;
    return existing;
  }
  const wakers = new Set<() => void>();
  const stop = new AbortController();
  let client: pg.Client | null = null;
  const shared = {
    up: false,
    heard: 0,
    refs: 1,
    wakers,
    release() {
      if (--shared.refs > 0) return;
      listeners.delete(key);
      stop.abort();
      void client?.end().catch(() => undefined);
    },
  };
  const signal = () => {
    shared.heard++;
    wakeAll(wakers);
  };
  void (async () => {
    let backoff = 100;
    while (!stop.signal.aborted) {
      const c = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
      client = c;
      let onAbort = () => undefined as void;
      const lost = new Promise<void>((resolve) => {
        c.on('error', () => resolve());
        c.on('end', () => resolve());
        onAbort = () => resolve();
        stop.signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${channel}`);
        c.on('notification', signal);
        shared.up = true;
        backoff = 100;
        signal(); // anything committed while we were not listening
        await lost;
      } catch {
        // Unreachable: subscriptions poll (and report the outage from their own reads) meanwhile.
      }
      shared.up = false;
      stop.signal.removeEventListener('abort', onAbort);
      void c.end().catch(() => undefined);
      if (stop.signal.aborted) return;
      signal(); // wake subscriptions so that they look (and report) at once
      await pause(backoff, stop.signal, new Set());
      backoff = Math.min(backoff * 2, 5_000);
    }
  })();
  listeners.set(key, shared);
  return shared;
};

interface Pending {
  stream: string;
  event: LifecycleEvent;
}

/**
 * The PostgreSQL store (`postgres://…`): same semantics as the embedded one — gapless positions
 * in commit order, id-idempotent appends, per-stream revisions — over a connection pool.
 */
export const openPostgresStore = async (options: PostgresStoreOptions): Promise<EventStore> => {
  const url = maskUrl(options.url);
  const { connectionString, params } = splitPostgresUrl(options.url);
  const schema = options.schema ?? params.schema;
  const locks = lockKeys(schema);
  const serverOptions = [params.options, schema && `-c search_path=${schema}`].filter(Boolean).join(' ');
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const channel = notifyChannel(schema);
  // Rows per page read. A page and what is decoded from it should die young: 10,000 rows (with
  // their parsed data) outgrew V8's young generation, got promoted, and doubled a 1M-event
  // replay's peak RSS (381 MB vs 174 MB in-thread, measured by hand; see docs/performance.md).
  const pageSize = options.pageSize ?? 2_048;
  let pollIntervalMs = options.pollIntervalMs ?? 500;
  const notifyFallbackMs = options.notifyFallbackMs ?? 5_000;
  const reconnectWindowMs = options.reconnectWindowMs ?? 60_000;
  const beforeCommit = options.beforeCommit;
  const pool = new pg.Pool({
    connectionString,
    connectionTimeoutMillis: connectTimeoutMs,
    max: options.poolSize ?? params.poolSize ?? 4,
    idleTimeoutMillis: 10_000,
    statement_timeout: options.statementTimeoutMs ?? params.statementTimeoutMs ?? 60_000,
    ...(serverOptions ? { options: serverOptions } : {}),
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);

  const transaction = async <T>(doing: string, work: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw toRollcallError(url, doing, e);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw toRollcallError(url, doing, e);
    } finally {
      client.release(broken);
    }
  };

  // A hot standby (or a read-only user) is opened for reading only: a follower of the primary.
  let readOnly = false;
  let refused: RollcallError | undefined;
  const refuse = (why: string): never => {
    throw (refused = new RollcallError('store-unavailable', `cannot open store ${url}: ${why}`));
  };
  const checkVersion = (current: number) => {
    if (current > migrations.length) {
      refuse(`its schema is version ${current}, newer than this rollcall understands (${migrations.length}); upgrade rollcall`);
    }
  };
  try {
    await transaction('create schema', async (c) => {
      const { rows: modes } = await c.query<{ ro: boolean }>(
        "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS ro",
      );
      readOnly = modes[0]?.ro === true;
      if (readOnly) {
        const { rows: found } = await c.query<{ t: string | null }>("SELECT to_regclass('rollcall_schema')::text AS t");
        const { rows } = found[0]?.t
          ? await c.query<{ v: number | null }>('SELECT max(version) AS v FROM rollcall_schema')
          : { rows: [{ v: 0 }] };
        const current = rows[0]?.v ?? 0;
        checkVersion(current);
        if (current < migrations.length) {
          refuse(
            `the server is read-only (a hot standby?) and its rollcall schema is at version ${current}, not ${migrations.length}: open the store once on the primary first`,
          );
        }
        return;
      }
      // Two processes opening a fresh database at once: the second waits here, then finds it done.
      await c.query('SELECT pg_advisory_xact_lock($1)', [locks.schema.toString()]);
      if (schema) await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS rollcall_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM rollcall_schema');
      const current = rows[0]?.v ?? 0;
      checkVersion(current);
      for (let v = current; v < migrations.length; v++) {
        await c.query(migrations[v]!);
        await c.query('INSERT INTO rollcall_schema (version) VALUES ($1)', [v + 1]);
      }
    });
  } catch (e) {
    await pool.end().catch(() => undefined);
    if (refused) throw refused;
    const root = e instanceof RollcallError && e.cause !== undefined ? e.cause : e;
    throw new RollcallError('store-unavailable', `cannot open store ${url}: ${reasonOf(root)}`, { cause: root });
  }

  const wakers = new Set<() => void>();
  let closed = false;
  const pollingOnly: Listener = { up: false, heard: 0, wakers: new Set(), release: () => undefined };
  if (readOnly && options.pollIntervalMs === undefined) pollIntervalMs = 100;

  const query = async <R extends unknown[]>(doing: string, text: string, values: unknown[], name?: string): Promise<R[]> => {
    if (closed) throw new RollcallError('store-unavailable', `${url}: ${doing}: the store is closed`);
    try {
      const result = await pool.query<R>({ text, values, rowMode: 'array', types: asText, ...(name ? { name } : {}) });
      return result.rows;
    } catch (e) {
      throw toRollcallError(url, doing, e);
    }
  };

  const toStored = (r: Row): StoredEvent => storedRow(BigInt(r[0]), r[1], BigInt(r[2]), r[3], r[4], r[5], r[6]);

  /**
   * Writes `pending` in order inside an append transaction that holds APPEND_LOCK: drops ids
   * already stored (or repeated in the batch), numbers the rest, inserts them.
   */
  const write = async (c: pg.PoolClient, pending: Pending[]): Promise<AppendResult & { byStream: Map<string, bigint> }> => {
    const seen = new Set<string>();
    const unique: Pending[] = [];
    for (const p of pending) {
      if (!seen.has(p.event.id)) {
        seen.add(p.event.id);
        unique.push(p);
      }
    }
    const stored = new Set<string>();
    for (let i = 0; i < unique.length; i += WRITE_ROWS) {
      const ids = unique.slice(i, i + WRITE_ROWS).map((p) => p.event.id);
      const { rows } = await c.query<[string]>({
        text: 'SELECT id FROM rollcall_events WHERE id IN (SELECT json_array_elements_text($1::json))',
        values: [JSON.stringify(ids)],
        rowMode: 'array',
      });
      for (const r of rows) stored.add(r[0]);
    }
    const fresh = stored.size ? unique.filter((p) => !stored.has(p.event.id)) : unique;
    const byStream = new Map<string, bigint>();
    if (!fresh.length) return { appended: 0, duplicates: pending.length, lastPosition: null, byStream };

    const streams = [...new Set(fresh.map((p) => p.stream))];
    const { rows: revisions } = await c.query<[string, string | null]>({
      // One index probe per stream (max() on the (stream, revision) index).
      text: `SELECT s, (SELECT max(revision) FROM rollcall_events e WHERE e.stream = s)
             FROM json_array_elements_text($1::json) AS s`,
      values: [JSON.stringify(streams)],
      rowMode: 'array',
      types: asText,
    });
    for (const [s, r] of revisions) byStream.set(s, r === null ? -1n : BigInt(r));

    const { rows: head } = await c.query<[string]>({
      // The NOTIFY is queued here and delivered at COMMIT, so a follower never hears of rows it cannot read.
      text: `WITH h AS (UPDATE rollcall_head SET position = position + $1 RETURNING position)
             SELECT position, pg_notify('${channel}', position::text) FROM h`,
      values: [fresh.length],
      rowMode: 'array',
      types: asText,
    });
    const last = BigInt(head[0]![0]);
    let position = last - BigInt(fresh.length);

    for (let i = 0; i < fresh.length; ) {
      const rows: string[] = [];
      let bytes = 0;
      for (; i < fresh.length && rows.length < WRITE_ROWS && bytes < WRITE_BYTES; i++) {
        const { stream, event } = fresh[i]!;
        const revision = byStream.get(stream)! + 1n;
        byStream.set(stream, revision);
        const row = `{"p":${++position},"s":${JSON.stringify(stream)},"r":${revision},"id":${JSON.stringify(event.id)},"t":${JSON.stringify(
          event.type,
        )},"d":${JSON.stringify(JSON.stringify(event.data))},"m":${JSON.stringify(JSON.stringify(event.metadata))}}`;
        bytes += row.length;
        rows.push(row);
      }
      await c.query(INSERT_SQL, [`[${rows.join(',')}]`]);
    }
    if (beforeCommit) await beforeCommit();
    return {
      appended: fresh.length,
      duplicates: pending.length - fresh.length,
      lastPosition: last,
      firstPosition: last - BigInt(fresh.length) + 1n,
      byStream,
    };
  };

  const lock = (c: pg.PoolClient) => c.query('SELECT pg_advisory_xact_lock($1)', [locks.append.toString()]);

  const writable = () => {
    if (closed) throw new RollcallError('store-unavailable', `${url}: append: the store is closed`);
    if (readOnly) {
      throw new RollcallError('usage', `${url}: append: the server is read-only (a hot standby?); followers may read here, appends go to the primary`);
    }
  };

  const head = async (): Promise<bigint | null> => {
    const rows = await query<[string]>('read head', 'SELECT position FROM rollcall_head', [], 'rollcall_head');
    const h = BigInt(rows[0]?.[0] ?? '0');
    return h === 0n ? null : h;
  };

  const page = (after: bigint, limit: number) =>
    query<Row>('read', PAGE_SQL, [after.toString(), limit], 'rollcall_page');

  const readPages = async function* (options: ReadAllOptions = {}): AsyncGenerator<StoredEvent[]> {
    let after = options.after ?? 0n;
    let left = options.limit ?? Infinity;
    let next = left > 0 ? page(after, Math.min(pageSize, left)) : null;
    while (next) {
      const rows = await next;
      const asked = Math.min(pageSize, left);
      left -= rows.length;
      // Ask for the next page before handing these rows out, so the database works while we parse.
      next = null;
      if (rows.length === asked && left > 0) {
        after = BigInt(rows[rows.length - 1]![0]);
        next = page(after, Math.min(pageSize, left));
        next.catch(() => undefined); // rethrown when awaited; no unhandled rejection if the reader stops early
      }
      if (rows.length === 0) return;
      const events = new Array<StoredEvent>(rows.length);
      for (let i = 0; i < rows.length; i++) events[i] = toStored(rows[i]!);
      yield events;
    }
  };
  const readAll = async function* (options: ReadAllOptions = {}): AsyncGenerator<StoredEvent> {
    for await (const events of readPages(options)) yield* events;
  };

  async function* subscribePages(options: SubscribeOptions = {}): AsyncGenerator<StoredEvent[]> {
    const signal = options.signal;
    let last = options.after ?? 0n;
    let failingSince: number | null = null;
    let backoff = pollIntervalMs;
    // A hot standby cannot LISTEN (nor does NOTIFY reach it): its followers poll.
    const listener: Listener = readOnly ? pollingOnly : acquireListener(connectionString, channel, connectTimeoutMs);
    const wake = () => wakeAll(subscriptionWakers);
    const subscriptionWakers = new Set<() => void>();
    listener.wakers.add(wake);
    wakers.add(wake);
    try {
      while (!signal?.aborted && !closed) {
        // Counted before the read: a notification that arrives while reading or yielding is not lost.
        const heard = listener.heard;
        let rows: Row[];
        try {
          rows = await page(last, pageSize);
          if (failingSince !== null) {
            failingSince = null;
            backoff = pollIntervalMs;
            options.onStatus?.({ available: true });
          }
        } catch (e) {
          if (closed || signal?.aborted) return; // closed while reading: the subscription just ends
          // A restart or failover of the server: keep following from `last` (nothing is skipped
          // or repeated), backing off, and give up only after reconnectWindowMs of failures.
          failingSince ??= Date.now();
          options.onStatus?.({ available: false, error: toRollcallError(url, 'follow', e) });
          if (Date.now() - failingSince > reconnectWindowMs) throw toRollcallError(url, 'follow', e);
          await pause(backoff, signal, new Set());
          backoff = Math.min(backoff * 2, 5_000);
          continue;
        }
        if (rows.length > 0) {
          const batch = rows.map(toStored);
          last = batch[batch.length - 1]!.position;
          yield batch;
          if (signal?.aborted || closed) return;
        }
        if (rows.length === pageSize || listener.heard !== heard) continue;
        await pause(listener.up ? notifyFallbackMs : pollIntervalMs, signal, subscriptionWakers);
      }
    } finally {
      listener.wakers.delete(wake);
      wakers.delete(wake);
      listener.release();
    }
  }

  const store: EventStore = {
    url,
    uniqueIds: true,
    async appendToStream(stream, events, options = {}): Promise<AppendToStreamResult> {
      const expected: ExpectedRevision = options.expectedRevision ?? 'any';
      writable();
      const result = await transaction('append', async (c) => {
        await lock(c);
        const { rows } = await c.query<[string | null]>({
          text: 'SELECT max(revision) FROM rollcall_events WHERE stream = $1',
          values: [stream],
          rowMode: 'array',
          types: asText,
        });
        const before = rows[0]?.[0] == null ? null : BigInt(rows[0][0]);
        checkExpectedRevision(stream, expected, before);
        const { byStream, ...written } = await write(c, events.map((event) => ({ stream, event })));
        return { ...written, nextExpectedRevision: byStream.get(stream) ?? before ?? -1n };
      });
      if (result.appended) wakeAll(wakers);
      return result;
    },
    async appendBatch(events): Promise<AppendResult> {
      writable();
      if (!events.length) return { appended: 0, duplicates: 0, lastPosition: null };
      const result = await transaction('append', async (c) => {
        await lock(c);
        const { byStream: _, ...written } = await write(c, events.map((event) => ({ stream: streamOf(event), event })));
        return written;
      });
      if (result.appended) wakeAll(wakers);
      return result;
    },
    readAll,
    readPages,
    readerUrl: () => options.url,
    async *readStream(stream, options = {}) {
      let from = options.fromRevision ?? 0n;
      for (;;) {
        const rows = await query<Row>('read', STREAM_SQL, [stream, from.toString(), pageSize], 'rollcall_stream');
        for (const r of rows) yield toStored(r);
        if (rows.length < pageSize) return;
        from = BigInt(rows[rows.length - 1]![2]) + 1n;
      }
    },
    async *subscribe(options: SubscribeOptions = {}) {
      for await (const batch of subscribePages(options)) {
        for (const e of batch) {
          yield e;
          if (options.signal?.aborted || closed) return;
        }
      }
    },
    subscribePages,
    head,
    snapshots: {
      async load(name): Promise<Snapshot | null> {
        const rows = await query<[string, string, string, string]>(
          'load snapshot',
          'SELECT name, version, position, payload FROM rollcall_snapshots WHERE name = $1',
          [name],
        );
        const r = rows[0];
        return r ? { name: r[0], version: Number(r[1]), position: BigInt(r[2]), payload: r[3] } : null;
      },
      async save(snapshot) {
        // A standby cannot write: its followers load the snapshots the primary's processes save.
        if (readOnly) return;
        await query(
          'save snapshot',
          `INSERT INTO rollcall_snapshots (name, version, position, payload) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position,
             payload = excluded.payload, saved_at = now()`,
          [snapshot.name, snapshot.version, snapshot.position.toString(), snapshot.payload],
        );
      },
    },
    async close() {
      if (closed) return;
      closed = true;
      wakeAll(wakers);
      await pool.end();
    },
  };
  return store;
};
