import { watch, type FSWatcher } from 'node:fs';
import type Database from 'better-sqlite3';
import type { StoredEvent, SubscribeOptions } from '../eventStore.js';
import { pause, wakeAll } from '../pause.js';
import type { SqliteDb } from './db.js';
import type { FileIdentity } from './fileIdentity.js';

/** After a file event, how long a follower keeps checking for the commit it announced. */
const SETTLE_MS = 250;

export interface SqliteFeedOptions {
  /** The database file ('' or ':memory:' for an in-memory database, which has no file to watch). */
  path: string;
  url: string;
  pageSize: number;
  /** The fallback poll, for file systems whose watch misses writes. */
  pollIntervalMs: number;
  /** Up to `limit` events after `after`. */
  page: (after: bigint, limit: number) => Promise<StoredEvent[]>;
  isClosed: () => boolean;
  /** The file this connection opened: a follower must not go on reading one no longer at the path. */
  identity: FileIdentity;
}

export interface SqliteFeed {
  subscribePages(options?: SubscribeOptions): AsyncGenerator<StoredEvent[]>;
  /** This connection committed: wake its followers (PRAGMA data_version counts only other connections'). */
  committed(): void;
  close(): void;
}

/**
 * The change feed: one file watch per store on the database and its WAL, shared by its
 * subscriptions, confirmed by PRAGMA data_version, with a fallback poll. Other processes append
 * to the WAL; checkpoints and non-WAL writers touch the file itself.
 */
export const createSqliteFeed = (db: Database.Database, sql: SqliteDb, options: SqliteFeedOptions): SqliteFeed => {
  const { path, pageSize, pollIntervalMs, page, isClosed, identity } = options;
  const wakers = new Set<() => void>();
  /** Commits through this connection. */
  let localCommits = 0;
  const onDisk = path !== ':memory:' && path !== '';
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  let watchers: FSWatcher[] = [];
  let lastFileEvent = 0;
  let watching = 0;

  const startWatching = () => {
    if (watching++ > 0 || !onDisk) return;
    for (const file of [`${path}-wal`, path]) {
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

  async function* subscribePages(opts: SubscribeOptions = {}): AsyncGenerator<StoredEvent[]> {
    const signal = opts.signal;
    let last = opts.after ?? 0n;
    let seenVersion: unknown = null;
    let seenLocal = -1;
    startWatching();
    try {
      while (!signal?.aborted && !isClosed()) {
        identity.check('follow');
        const version = sql.guard('read', () => dataVersion.get());
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
          const events = await page(last, pageSize);
          if (events.length > 0) {
            last = events[events.length - 1]!.position;
            yield events;
            if (signal?.aborted || isClosed()) return;
          }
          if (events.length < pageSize) break;
        }
      }
    } finally {
      stopWatching();
    }
  }

  return {
    subscribePages,
    committed() {
      localCommits++;
      wakeAll(wakers);
    },
    close() {
      wakeAll(wakers);
      for (const w of watchers) w.close();
      watchers = [];
    },
  };
};
