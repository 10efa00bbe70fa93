import type Database from 'better-sqlite3';
import { streamOf, type LifecycleEvent } from '../../events/lifecycleEvents.js';
import type { AppendResult, AppendToStreamResult, EventStore, ExpectedRevision } from '../eventStore.js';
import { checkExpectedRevision } from '../expectedRevision.js';
import { pause } from '../pause.js';
import type { SqliteDb } from './db.js';
import { sqliteCode } from './errors.js';
import type { RollcallError } from '../../errors.js';

/** Page cache (negative: KiB) during a bulk append, and the events from which an append is bulk. */
const BULK_CACHE = -131072;
const BULK_EVENTS = 10_000;

export interface SqliteAppendOptions {
  /** How long an append waits for another process's write lock before giving up. */
  busyTimeoutMs: number;
  /** Called after every append that wrote something (the change feed wakes its followers). */
  onCommit: () => void;
}

/**
 * Appends, each call one write transaction. SQLite serializes writers, so positions (rowids) are
 * 1, 2, 3… in commit order and a poller never skips one.
 */
export const createSqliteAppender = (
  db: Database.Database,
  sql: SqliteDb,
  options: SqliteAppendOptions,
): Pick<EventStore, 'appendToStream' | 'appendBatch'> => {
  const insert = db.prepare(
    `INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
  );
  const streamRevision = db.prepare('SELECT max(revision) FROM events WHERE stream = ?').pluck();
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
   * it in memory a bulk append does not re-read index pages from disk. Back to the writer's cache after.
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

  /**
   * Runs a write transaction (BEGIN IMMEDIATE: the lock is taken before anything is read, so no
   * other process can slip in between an expected-revision check and the insert). While another
   * process holds the lock we retry every few milliseconds, up to busyTimeoutMs, without blocking
   * the event loop (better-sqlite3 is synchronous: SQLite's own busy wait would freeze timers,
   * subscriptions and sockets of this process for as long as the other one writes).
   */
  const writeLocked = async <T extends AppendResult>(tx: () => T): Promise<T> => {
    const deadline = Date.now() + options.busyTimeoutMs;
    for (;;) {
      try {
        const result = sql.guard('append', tx);
        if (result.appended) options.onCommit();
        return result;
      } catch (e) {
        if (!sqliteCode((e as RollcallError).cause).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw e;
      }
      await pause(1);
    }
  };

  return {
    appendToStream: (stream, events, opts = {}) =>
      writeLocked(() => appendToStreamTx.immediate(stream, events, opts.expectedRevision ?? 'any')),
    appendBatch: (events) => writeLocked(() => bulkCache(events.length, () => appendBatchTx.immediate(events))),
  };
};
