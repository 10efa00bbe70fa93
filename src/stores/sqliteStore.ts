import { existsSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
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
import { pause, wakeAll } from './pause.js';
import { storedRow } from './storedRow.js';

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
  /** Rows per read query. Default 10,000. */
  pageSize?: number;
}

/*
 * Schema migrations: entry i takes the database from version i to version i + 1, and is recorded
 * in rollcall_schema in the same transaction. Never edit a shipped entry; append a new one.
 */
const migrations: readonly string[] = [
  `CREATE TABLE events (
     position INTEGER PRIMARY KEY,  -- rowid: max + 1 under the single writer lock, so 1, 2, 3… without gaps
     stream   TEXT NOT NULL,
     revision INTEGER NOT NULL,
     id       TEXT NOT NULL UNIQUE,
     type     TEXT NOT NULL,
     data     TEXT NOT NULL,
     metadata TEXT NOT NULL,
     UNIQUE (stream, revision)
   );
   CREATE TABLE snapshots (
     name     TEXT PRIMARY KEY,
     version  INTEGER NOT NULL,
     position INTEGER NOT NULL,
     payload  TEXT NOT NULL,
     saved_at TEXT NOT NULL
   );`,
];

/** The schema version this code writes; a database at a higher version is refused, not guessed at. */
export const sqliteSchemaVersion = migrations.length;

type Row = [number, string, number, string, string, unknown, unknown];

/** After a file event, how long a follower keeps checking for the commit it announced. */
const SETTLE_MS = 250;

/** How long one attempt at the write lock blocks inside SQLite before we yield and retry. */
const LOCK_POLL_MS = 5;

const sqliteCode = (e: unknown): string => String((e as { code?: unknown } | undefined)?.code ?? '');

/** SQLite errors as rollcall reports them: damage is `corrupt-store`, every other failure `store-unavailable`. */
const failure = (url: string, doing: string, e: unknown): RollcallError => {
  if (e instanceof RollcallError) return e;
  const code = sqliteCode(e);
  const message = (e as Error).message ?? String(e);
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new RollcallError('corrupt-store', `${url}: ${doing}: the database file is damaged (${message})`, { cause: e });
  }
  const hint = code.startsWith('SQLITE_BUSY') ? ' (another process held the write lock past the busy timeout)' : '';
  return new RollcallError('store-unavailable', `${url}: ${doing}: ${message}${hint}`, { cause: e });
};

/** What an open finds in the file before it changes anything (so a refused file is never modified). */
const inspect = (db: Database.Database, url: string): 'empty' | 'rollcall' => {
  let tables: string[];
  try {
    tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
  } catch (e) {
    if (sqliteCode(e) === 'SQLITE_NOTADB') {
      throw new RollcallError('corrupt-store', `cannot open store ${url}: the file is not an SQLite database (or its header is damaged)`, { cause: e });
    }
    throw failure(url, 'open', e);
  }
  if (tables.includes('rollcall_schema')) return 'rollcall';
  if (tables.length === 0) return 'empty';
  const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? ', …' : '');
  throw new RollcallError(
    'store-unavailable',
    `cannot open store ${url}: it is an SQLite database of something else (tables: ${shown}), not a rollcall store; left untouched`,
  );
};

/** `PRAGMA quick_check` before a write: appending into a damaged file could spread the damage. */
const verifyIntegrity = (db: Database.Database, url: string): void => {
  let problems: string[];
  try {
    problems = db.prepare('PRAGMA quick_check(5)').pluck().all() as string[];
  } catch (e) {
    throw failure(url, 'integrity check', e);
  }
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new RollcallError(
    'corrupt-store',
    `${url}: the database file is damaged (integrity check: ${problems.join('; ')}); nothing written. Restore it from a backup, or replay what is readable with --skip-invalid`,
  );
};

interface OpenOptions {
  busyTimeoutMs: number;
  create: boolean;
  verify: boolean;
}

/** SQLite failures that mean "no room for the WAL index file" (a full disk), not a bad database. */
const noRoomForIndex = (e: unknown): boolean => {
  const code = sqliteCode(e instanceof RollcallError ? e.cause : e);
  return code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL' || code === 'SQLITE_CANTOPEN';
};

const openDatabase = (path: string, url: string, options: OpenOptions): Database.Database => {
  const inMemory = path === ':memory:' || path === '';
  if (!options.create && !inMemory && !existsSync(path)) {
    throw new RollcallError('store-unavailable', `no store at ${url}: ${path} does not exist (only append and demo create a store)`);
  }
  try {
    return openAttempt(path, url, options, false);
  } catch (e) {
    // A reader on a full disk: SQLite cannot create the shared WAL index (-shm). With exclusive
    // locking it keeps the index in memory instead, so the log can still be read (and nobody else
    // writes meanwhile, which on a full disk nobody could anyway).
    if (options.create || inMemory || !noRoomForIndex(e)) throw e;
    return openAttempt(path, url, options, true);
  }
};

/** Page cache sizes (negative: KiB): small for a reader, large for a writer, larger during a bulk append. */
const READ_CACHE = -8192;
const WRITE_CACHE = -65536;
const BULK_CACHE = -131072;
const BULK_EVENTS = 10_000;

const openAttempt = (path: string, url: string, options: OpenOptions, exclusive: boolean): Database.Database => {
  const inMemory = path === ':memory:' || path === '';
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs, fileMustExist: !options.create && !inMemory });
  } catch (e) {
    // Decided by the file system, not by better-sqlite3's wording.
    const why = path !== ':memory:' && !existsSync(dirname(path)) ? `directory ${dirname(path)} does not exist` : (e as Error).message;
    throw new RollcallError('store-unavailable', `cannot open store ${url}: ${why}`, { cause: e });
  }
  try {
    if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
    const found = inspect(db, url);
    if (found === 'empty' && !options.create) {
      throw new RollcallError('store-unavailable', `no store at ${url}: ${path} is an empty file, not a rollcall store (only append and demo create a store)`);
    }
    if (found === 'rollcall' && options.verify) verifyIntegrity(db, url);
    // WAL: readers never block the writer. FULL: the WAL is fsynced at every commit, so an
    // acknowledged append survives power loss too, not only kill -9 (NORMAL would survive kill -9
    // but may lose the last commits on power loss). The cost is one fsync per append call.
    // A read-only file keeps its journal mode (switching needs a write; reading works either way).
    if (!db.readonly && db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // A writer's appends insert into the id index at random places: a large cache keeps it in
    // memory (and a bulk append raises it further, see `bulkCache`). A reader (opened without
    // `create`) scans in position order and needs little. A larger WAL between checkpoints means
    // each index page is copied to the database file less often.
    db.pragma(`cache_size = ${options.create ? WRITE_CACHE : READ_CACHE}`);
    db.pragma('wal_autocheckpoint = 10000');
    migrate(db, url);
    // From here on SQLite itself waits only a few ms for a lock; appends wait for the write lock
    // asynchronously (see writeLocked), so a busy database never freezes this process's event loop.
    db.pragma(`busy_timeout = ${LOCK_POLL_MS}`);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof RollcallError) throw e;
    if (sqliteCode(e).startsWith('SQLITE_CORRUPT') || sqliteCode(e) === 'SQLITE_NOTADB') throw failure(url, 'open', e);
    throw new RollcallError('store-unavailable', `cannot open store ${url}: ${(e as Error).message}`, { cause: e });
  }
};

const migrate = (db: Database.Database, url: string): void => {
  const version = (): number => {
    const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rollcall_schema'`).get();
    if (!exists) return 0;
    return (db.prepare('SELECT max(version) FROM rollcall_schema').pluck().get() as number | null) ?? 0;
  };
  const check = (v: number) => {
    if (v > migrations.length) {
      throw new RollcallError(
        'store-unavailable',
        `cannot open store ${url}: its schema is version ${v}, newer than this rollcall understands (${migrations.length}); upgrade rollcall`,
      );
    }
  };
  const seen = version();
  check(seen);
  if (seen === migrations.length) return;
  // IMMEDIATE: two processes opening a new file at once; the second waits, then sees the work done.
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS rollcall_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const current = version();
    check(current);
    const record = db.prepare('INSERT INTO rollcall_schema (version, applied_at) VALUES (?, ?)');
    for (let v = current; v < migrations.length; v++) {
      db.exec(migrations[v]!);
      record.run(v + 1, new Date().toISOString());
    }
  }).immediate();
};

/**
 * The embedded store (`sqlite:PATH`): one file, WAL, every append call one transaction. SQLite
 * serializes writers, so positions are 1, 2, 3… in commit order and a poller never skips one.
 */
export const openSqliteStore = (options: SqliteStoreOptions): EventStore => {
  const url = `sqlite:${options.path}`;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  // Rows per page read. A page and what is decoded from it should die young: 10,000 rows (with
  // their parsed data) outgrew V8's young generation, got promoted, and doubled a 1M-event
  // replay's peak RSS (381 MB vs 174 MB in-thread, measured by hand; see docs/performance.md).
  const pageSize = options.pageSize ?? 2_048;
  const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
  const db = openDatabase(options.path, url, { busyTimeoutMs, create: options.create ?? true, verify: options.verify ?? false });

  const insert = db.prepare(
    `INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
  );
  const streamRevision = db.prepare('SELECT max(revision) FROM events WHERE stream = ?').pluck();
  const headQuery = db.prepare('SELECT max(position) FROM events').pluck();
  const pageAll = db
    .prepare('SELECT position, stream, revision, id, type, data, metadata FROM events WHERE position > ? ORDER BY position LIMIT ?')
    .raw(true);
  const pageStream = db
    .prepare(
      `SELECT position, stream, revision, id, type, data, metadata FROM events
       WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    )
    .raw(true);
  // Safe integers: a snapshot position is any 64-bit value the projection reached; never round it.
  const loadSnapshot = db.prepare('SELECT name, version, position, payload FROM snapshots WHERE name = ?').safeIntegers(true);
  const saveSnapshot = db.prepare(
    `INSERT INTO snapshots (name, version, position, payload, saved_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position,
       payload = excluded.payload, saved_at = excluded.saved_at`,
  );

  const wakers = new Set<() => void>();
  let closed = false;
  /** Commits through this connection (PRAGMA data_version counts only other connections'). */
  let localCommits = 0;

  // --- the change feed: one file watch per store, shared by its subscriptions ---
  const onDisk = options.path !== ':memory:' && options.path !== '';
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  const identity = onDisk ? statSync(options.path, { throwIfNoEntry: false }) : undefined;
  let watchers: FSWatcher[] = [];
  let lastFileEvent = 0;
  let watching = 0;
  const startWatching = () => {
    if (watching++ > 0 || !onDisk) return;
    // Other processes append to the WAL; checkpoints and non-WAL writers touch the file itself.
    for (const file of [`${options.path}-wal`, options.path]) {
      try {
        const w = watch(file, { persistent: false }, () => {
          lastFileEvent = Date.now();
          wakeAll(wakers);
        });
        w.on('error', () => wakeAll(wakers));
        watchers.push(w);
      } catch {
        // No such file (yet): the fallback poll covers it.
      }
    }
  };
  const stopWatching = () => {
    if (--watching > 0) return;
    for (const w of watchers) w.close();
    watchers = [];
  };
  /** A follower must not go on reading a file that is no longer the one at the path. */
  const checkIdentity = () => {
    if (identity === undefined) return;
    const now = statSync(options.path, { throwIfNoEntry: false });
    if (now === undefined || now.ino !== identity.ino || now.dev !== identity.dev) {
      throw new RollcallError(
        'store-unavailable',
        `${url}: the database file was ${now === undefined ? 'deleted' : 'replaced'} while following it`,
      );
    }
  };

  const currentRevision = (stream: string): number | null => streamRevision.get(stream) as number | null;

  /** Writes events in order inside the caller's transaction; `stream` fixed, or each event's own. */
  const write = (events: readonly LifecycleEvent[], stream: string | null) => {
    const revisions = new Map<string, number>();
    let appended = 0;
    let firstPosition: bigint | null = null;
    let lastPosition: bigint | null = null;
    for (const e of events) {
      const s = stream ?? streamOf(e);
      let revision = revisions.get(s);
      if (revision === undefined) revision = currentRevision(s) ?? -1;
      const info = insert.run(s, revision + 1, e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata));
      if (info.changes === 1) {
        revision++;
        appended++;
        lastPosition = BigInt(info.lastInsertRowid);
        firstPosition ??= lastPosition;
      }
      revisions.set(s, revision);
    }
    return { appended, duplicates: events.length - appended, lastPosition, firstPosition };
  };

  const appendToStreamTx = db.transaction(
    (stream: string, events: readonly LifecycleEvent[], expected: ExpectedRevision): AppendToStreamResult => {
      const before = currentRevision(stream);
      checkExpectedRevision(stream, expected, before === null ? null : BigInt(before));
      const result = write(events, stream);
      const after = before === null ? (result.appended ? result.appended - 1 : null) : before + result.appended;
      return { ...result, nextExpectedRevision: after === null ? -1n : BigInt(after) };
    },
  );
  const appendBatchTx = db.transaction((events: readonly LifecycleEvent[]): AppendResult => write(events, null));

  /**
   * Runs a large write with a large page cache: the unique id index takes random inserts, and with
   * it in memory a bulk append does not re-read index pages from disk. Back to the reader's cache after.
   */
  const writeCache = db.pragma('cache_size', { simple: true }) as number;
  const bulkCache = <T>(events: number, f: () => T): T => {
    if (events < BULK_EVENTS) return f();
    db.pragma(`cache_size = ${BULK_CACHE}`);
    try {
      return f();
    } finally {
      db.pragma(`cache_size = ${writeCache}`);
    }
  };

  const guard = <T>(doing: string, f: () => T): T => {
    if (closed) throw new RollcallError('store-unavailable', `${url}: ${doing}: the store is closed`);
    try {
      return f();
    } catch (e) {
      throw failure(url, doing, e);
    }
  };

  /**
   * Runs a write transaction (BEGIN IMMEDIATE: the lock is taken before anything is read, so no
   * other process can slip in between an expected-revision check and the insert). While another
   * process holds the lock we retry every few milliseconds, up to busyTimeoutMs, without blocking
   * the event loop (better-sqlite3 is synchronous: SQLite's own busy wait would freeze timers,
   * subscriptions and sockets of this process for as long as the other one writes).
   */
  const writeLocked = async <T>(tx: () => T): Promise<T> => {
    const deadline = Date.now() + busyTimeoutMs;
    for (;;) {
      try {
        return guard('append', tx);
      } catch (e) {
        if (!sqliteCode((e as RollcallError).cause).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw e;
      }
      await pause(1);
    }
  };

  const toStored = (r: Row): StoredEvent =>
    storedRow(BigInt(r[0]), r[1], BigInt(r[2]), r[3], r[4], r[5], r[6]);

  const head = (): bigint | null => {
    const h = headQuery.get() as number | null;
    return h === null ? null : BigInt(h);
  };

  const readPages = async function* (options: ReadAllOptions = {}): AsyncGenerator<StoredEvent[]> {
    let after = options.after ?? 0n;
    let left = options.limit ?? Infinity;
    while (left > 0) {
      const asked = Math.min(pageSize, left);
      const rows = guard('read', () => pageAll.all(after, asked) as Row[]);
      if (rows.length === 0) return;
      const page = new Array<StoredEvent>(rows.length);
      for (let i = 0; i < rows.length; i++) page[i] = toStored(rows[i]!);
      yield page;
      if (rows.length < asked) return;
      left -= rows.length;
      after = BigInt(rows[rows.length - 1]![0]);
    }
  };

  const readAll = async function* (options: ReadAllOptions = {}): AsyncGenerator<StoredEvent> {
    for await (const page of readPages(options)) yield* page;
  };

  async function* subscribePages(options: SubscribeOptions = {}): AsyncGenerator<StoredEvent[]> {
    const signal = options.signal;
    let last = options.after ?? 0n;
    let seenVersion: unknown = null;
    let seenLocal = -1;
    startWatching();
    try {
      while (!signal?.aborted && !closed) {
        checkIdentity();
        const version = guard('read', () => dataVersion.get());
        if (version === seenVersion && localCommits === seenLocal) {
          // Nothing committed since the last read: wait for the file watch, a local append, or the poll.
          // The watch fires on the writer's WAL write, a moment before its commit is visible (the
          // WAL index is updated after it, through shared memory, which raises no file event), so
          // look again every few ms for a short while after a file event.
          await pause(Date.now() - lastFileEvent < SETTLE_MS ? 2 : pollIntervalMs, signal, wakers);
          continue;
        }
        seenVersion = version;
        seenLocal = localCommits;
        for (;;) {
          const rows = guard('read', () => pageAll.all(last, pageSize) as Row[]);
          if (rows.length > 0) {
            const page = rows.map(toStored);
            last = page[page.length - 1]!.position;
            yield page;
            if (signal?.aborted || closed) return;
          }
          if (rows.length < pageSize) break;
        }
      }
    } finally {
      stopWatching();
    }
  }

  const store: EventStore = {
    url,
    uniqueIds: true,
    async appendToStream(stream, events, options = {}) {
      const result = await writeLocked(() => appendToStreamTx.immediate(stream, events, options.expectedRevision ?? 'any'));
      if (result.appended) {
        localCommits++;
        wakeAll(wakers);
      }
      return result;
    },
    async appendBatch(events) {
      const result = await writeLocked(() => bulkCache(events.length, () => appendBatchTx.immediate(events)));
      if (result.appended) {
        localCommits++;
        wakeAll(wakers);
      }
      return result;
    },
    readAll,
    readPages,
    // Another connection to the same file; an in-memory database exists only on this connection.
    ...(options.path === ':memory:' ? {} : { readerUrl: () => url }),
    async *readStream(stream, options = {}) {
      let from = options.fromRevision ?? 0n;
      for (;;) {
        const rows = guard('read', () => pageStream.all(stream, from, pageSize) as Row[]);
        for (const r of rows) yield toStored(r);
        if (rows.length < pageSize) return;
        from = BigInt(rows[rows.length - 1]![2]) + 1n;
      }
    },
    async *subscribe(options: SubscribeOptions = {}) {
      for await (const page of subscribePages(options)) {
        for (const e of page) {
          yield e;
          if (options.signal?.aborted || closed) return;
        }
      }
    },
    subscribePages,
    async head() {
      return guard('read', head);
    },
    snapshots: {
      async load(name) {
        const row = guard('load snapshot', () => loadSnapshot.get(name)) as
          | { name: string; version: bigint; position: bigint; payload: string }
          | undefined;
        return row ? { name: row.name, version: Number(row.version), position: row.position, payload: row.payload } : null;
      },
      async save(snapshot: Snapshot) {
        guard('save snapshot', () =>
          saveSnapshot.run(snapshot.name, snapshot.version, snapshot.position, snapshot.payload, new Date().toISOString()),
        );
      },
    },
    async close() {
      if (closed) return;
      closed = true;
      wakeAll(wakers);
      for (const w of watchers) w.close();
      watchers = [];
      db.close();
    },
  };
  return store;
};
