import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { RollcallError } from '../errors.js';
import { assembleStore, type StoreParts } from './assembleStore.js';
import type { EventStore, ReadAllOptions, SnapshotStore, SnapshotWriterSpec, SubscribeOptions } from './eventStore.js';
import { DEFAULT_PAGE_SIZE } from './pageSize.js';
import { pause } from './pause.js';
import { createRelationalReads } from './relational/reads.js';
import { createRelationalSnapshots } from './relational/snapshots.js';
import { createSqliteAppender, toRowRequest, writtenEvents } from './sqlite/append.js';
import { createCommitThread } from './sqlite/commitThread.js';
import { createSqliteDb } from './sqlite/db.js';
import { fileIdentity, type FileIdentity } from './sqlite/fileIdentity.js';
import { createSqliteFeed, type FeedReader } from './sqlite/follow.js';
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
  /** Rows per read query. Default 2,048. */
  pageSize?: number;
  /**
   * Commit groups (`appendGroup`, what the group-commit queue calls) on a worker thread with a write
   * connection of its own, so that the fsync of each commit does not stop this thread (`serve`).
   * Default false: a one-shot writer (`rollcall append`) gains nothing from a thread. A group of
   * BULK_EVENTS or more is committed here all the same (copying it to the thread would cost more).
   */
  commitThread?: boolean;
}

/** A group this large is committed on the calling thread even with `commitThread`. */
const BULK_GROUP_EVENTS = 10_000;

/**
 * Page cache of the connection a follower reads with (negative: KiB). Every commit by another
 * connection (the commit thread's included) empties a connection's whole cache at its next read,
 * at a cost that grows with the cache: the follower's reads are kept off the large one of the
 * connection that catches up and writes.
 */
const FOLLOW_CACHE = -1024;

/**
 * Characters of a snapshot payload per part (relational/snapshots.ts): each part is one short write
 * transaction, so a commit waits for at most one part's write, not a whole snapshot's.
 */
export const SNAPSHOT_PART_CHARS = 1 << 18;

/**
 * Between two parts a snapshot save lets go of the lock for longer than a committer's poll (its
 * busy wait inside SQLite, LOCK_POLL_MS, then a retry a millisecond later): found free, the lock
 * goes to the group commit; re-taken at once, it would make the commit wait out the whole save.
 */
export const snapshotPartGap = (): Promise<void> => pause(6);

/** Snapshots of a store read as an image: loaded as usual, never saved (there is nowhere to save them). */
const readOnlySnapshots = (snapshots: SnapshotStore, url: string): SnapshotStore => ({
  ...snapshots,
  save: () => Promise.reject(new RollcallError('store-unavailable', `${url}: save snapshot: its directory is read-only, so the store was read into memory`)),
});

/** One open connection to the file at the path, with everything built on it. */
interface Connection {
  /** The file read into memory (a read-only directory): nothing can be saved into it. */
  image: boolean;
  parts: Omit<StoreParts, 'url' | 'uniqueIds' | 'close'>;
  identity: FileIdentity;
  /** Stops its feed and its commit thread; closes the connection unless that could touch a file at the path it did not open. */
  retire(): Promise<void>;
}

/**
 * The embedded store (`sqlite:PATH`): one file, WAL, every append call one transaction. SQLite
 * serializes writers, so positions are 1, 2, 3… in commit order and a poller never skips one.
 *
 * The store is the file at the path, not an inode: when the file is deleted or replaced under the
 * process (an operator restoring a backup with `mv`), every write is refused (`store-unavailable`)
 * and the old connection is retired without writing anything beside the new file; once a valid
 * store is at the path again, the next call reopens it. `incarnation()` counts those reopenings, so
 * that a follower knows its log may no longer be the one it folded.
 */
export const openSqliteStore = (options: SqliteStoreOptions): EventStore & { incarnation(): number } => {
  const url = `sqlite:${options.path}`;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
  let closed = false;
  const isClosed = () => closed;

  const onDiskPath = options.path !== ':memory:' && options.path !== '';
  const connect = (create: boolean): Connection => {
    // The file the path names before the open is the one opened, unless the path changed during it
    // (checks, integrity, schema: milliseconds): then the identity sees a replacement from the start.
    const before = onDiskPath ? statSync(options.path, { throwIfNoEntry: false }) : undefined;
    const db: Database.Database = openDatabase(options.path, url, { busyTimeoutMs, create, verify: options.verify ?? false });
    const identity = fileIdentity(options.path, url, before);
    identity.noteWal();
    const sql = createSqliteDb(db, url, isClosed, busyTimeoutMs, identity);
    const reads = createRelationalReads(sql, pageSize);
    const headQuery = db.prepare('SELECT max(position) FROM events').pluck();
    const onDisk = options.path !== ':memory:' && options.path !== '';
    // The file read into memory, its directory being read-only (see sqlite/image.ts).
    const image = db.memory && onDisk;
    const readerOn = (rdb: Database.Database, rsql: typeof sql, page: typeof reads.page, close: () => void): FeedReader => {
      const dataVersion = rdb.prepare('PRAGMA data_version').pluck();
      return { dataVersion: () => rsql.guard('read', () => dataVersion.get()), page, close };
    };
    const openReader = (): FeedReader => {
      // Only this connection holds an in-memory database or an image.
      if (!onDisk || image) return readerOn(db, sql, reads.page, () => undefined);
      const rdb = openDatabase(options.path, url, { busyTimeoutMs, create: false, verify: false });
      rdb.pragma(`cache_size = ${FOLLOW_CACHE}`);
      const rsql = createSqliteDb(rdb, url, isClosed, busyTimeoutMs);
      return readerOn(rdb, rsql, createRelationalReads(rsql, pageSize).page, () => rdb.close());
    };
    const feed = createSqliteFeed({ path: options.path, pageSize, pollIntervalMs: options.pollIntervalMs ?? 1000, openReader, isClosed, identity });
    const appender = createSqliteAppender(db, sql, { busyTimeoutMs, onCommit: feed.committed, identity });
    const thread = options.commitThread && onDisk ? createCommitThread({ path: options.path, url, busyTimeoutMs, expected: identity.opened }) : null;
    const appendGroup: NonNullable<EventStore['appendGroup']> =
      thread === null
        ? appender.appendGroup
        : async (requests) => {
            let events = 0;
            for (const r of requests) events += r.events.length;
            if (events >= BULK_GROUP_EVENTS) return appender.appendGroup(requests);
            // Encoded here: the thread is sent strings, and what it wrote is handed to followers from them.
            const rows = requests.map(toRowRequest);
            feed.committing();
            try {
              const { outcomes, written } = await thread.appendRows(rows);
              if (written.some((w) => w.length > 0)) {
                identity.noteWal();
                feed.committed(() => writtenEvents(rows, written));
              }
              return outcomes;
            } catch (e) {
              // The thread checks the file under the write lock (one stat per group there, not
              // another here): a loss it found is noted by this thread's identity too, so that this
              // connection is retired and the path reopened.
              try {
                identity.check('append');
              } catch {
                // Noted as lost; the thread's own error says the same.
              }
              throw e;
            } finally {
              feed.settled();
            }
          };
    return {
      identity,
      image,
      parts: {
        appendToStream: appender.appendToStream,
        appendBatch: appender.appendBatch,
        appendGroup,
        readPages: reads.readPages,
        readStream: reads.readStream,
        subscribePages: feed.subscribePages,
        async head() {
          identity.check('head');
          const h = sql.guard('read', () => headQuery.get() as number | null);
          return h === null ? null : BigInt(h);
        },
        snapshots: image ? readOnlySnapshots(createRelationalSnapshots(sql), url) : createRelationalSnapshots(sql, { partChars: SNAPSHOT_PART_CHARS, betweenParts: snapshotPartGap }),
      },
      retire() {
        feed.close();
        const closeDb = () => {
          if (!identity.lost) {
            db.close();
            return;
          }
          // The frames in this connection's WAL belong to the file it opened, not to the one now at
          // the path: fold them into the old file and empty the WAL, so that a reader opening the new
          // file never applies them to it. Closing then deletes `PATH-wal` by name, so it happens only
          // when that is this connection's own WAL (or none); otherwise the handle is left open.
          try {
            db.pragma('wal_checkpoint(TRUNCATE)');
          } catch {
            // A deleted file's WAL is unreachable anyway.
          }
          if (identity.walIsOurs()) db.close();
        };
        // The thread's connection first: then this one's close (or checkpoint) is the last word on the WAL.
        if (thread === null) {
          closeDb();
          return Promise.resolve();
        }
        return thread.close().then(closeDb);
      },
    };
  };

  let connection: Connection | null = connect(options.create ?? true);
  let lastConnected: Connection = connection;
  let incarnation = 0;

  /** The open connection, reopening the file at the path after the previous one was lost. */
  const current = (): Connection => {
    if (closed) throw new RollcallError('store-unavailable', `${url}: the store is closed`);
    if (connection !== null && !connection.identity.lost) return connection;
    if (connection !== null) {
      void connection.retire();
      connection = null;
    }
    // Never creates one: a store that vanished comes back only when someone puts a valid one there.
    connection = connect(false);
    lastConnected = connection;
    incarnation++;
    return connection;
  };
  /** Runs `f` on the current connection; a loss it discovers retires that connection at once. */
  const onAsync = async <T>(f: (c: Connection) => Promise<T>): Promise<T> => {
    const c = current();
    try {
      return await f(c);
    } finally {
      if (c.identity.lost && connection === c) {
        void c.retire();
        connection = null;
      }
    }
  };
  /**
   * A read from the start names the file at the path: one replaced or deleted since the connection
   * opened is noticed here (nothing is read from the file that is gone), so `current()` reopens what
   * is at the path now, or fails naming it. (A follower notices on its own, page by page.)
   */
  const noticeLoss = () => {
    if (connection === null || connection.identity.lost) return;
    try {
      connection.identity.check('read');
    } catch {
      // Recorded as lost: current() retires the connection and reopens the path.
    }
  };
  async function* pagesOf<T>(open: (c: Connection) => AsyncIterable<T>, fromTheStart = false): AsyncGenerator<T> {
    if (fromTheStart) noticeLoss();
    const c = current();
    try {
      yield* open(c);
    } finally {
      if (c.identity.lost && connection === c) {
        void c.retire();
        connection = null;
      }
    }
  }

  /** The snapshot store of whichever connection is current, method by method. */
  function forwardSnapshots(): SnapshotStore {
    const forwarded: Partial<Record<keyof SnapshotStore, unknown>> = {};
    for (const key of Object.keys(connection!.parts.snapshots!) as (keyof SnapshotStore)[]) {
      forwarded[key] = (...args: unknown[]) => onAsync((c) => (c.parts.snapshots![key] as (...a: unknown[]) => Promise<unknown>)(...args));
    }
    return forwarded as SnapshotStore;
  }

  return Object.assign(
    assembleStore(
      {
        url,
        uniqueIds: true,
        appendToStream: (stream, events, o) => onAsync((c) => c.parts.appendToStream(stream, events, o)),
        appendBatch: (events) => onAsync((c) => c.parts.appendBatch(events)),
        appendGroup: (requests) => onAsync((c) => c.parts.appendGroup!(requests)),
        readPages: (o?: ReadAllOptions) => pagesOf((c) => c.parts.readPages(o), true),
        // Another connection to the same file; an in-memory database exists only on this connection.
        ...(options.path === ':memory:' ? {} : { readerUrl: () => url }),
        // Another thread saves into the file this store has open now, and into no other (see snapshotWriter.ts).
        ...(onDiskPath
          ? {
              snapshotWriter: (): SnapshotWriterSpec | null => {
                // The last connection opened, even once found lost: a writer told its file refuses the one now at the path.
                const c = lastConnected;
                if (c.image) return null;
                return { url, sqlite: { path: options.path, busyTimeoutMs, expected: c.identity.opened, incarnation } };
              },
            }
          : {}),
        readStream: (stream, o) => pagesOf((c) => c.parts.readStream(stream, o), true),
        subscribePages: (o?: SubscribeOptions) => pagesOf((c) => c.parts.subscribePages(o)),
        head: () => onAsync((c) => c.parts.head()),
        snapshots: forwardSnapshots(),
        async close() {
          if (closed) return;
          closed = true;
          const c = connection;
          connection = null;
          await c?.retire();
        },
      },
      isClosed,
    ),
    { incarnation: () => incarnation },
  );
};
