import type Database from 'better-sqlite3';
import { streamOf, type LifecycleEvent } from '../../events/lifecycleEvents.js';
import type { AppendResult, AppendToStreamResult, EventStore, ExpectedRevision, GroupOutcome, GroupRequest } from '../eventStore.js';
import { checkExpectedRevision } from '../expectedRevision.js';
import { pause } from '../pause.js';
import type { SqliteDb } from './db.js';
import { sqliteCode } from './errors.js';
import { RollcallError } from '../../errors.js';
import type { FileIdentity } from './fileIdentity.js';

/** Page cache (negative: KiB) during a bulk append, and the events from which an append is bulk. */
const BULK_CACHE = -131072;
const BULK_EVENTS = 10_000;

export interface SqliteAppendOptions {
  /** How long an append waits for another process's write lock before giving up. */
  busyTimeoutMs: number;
  /** Called after every append that wrote something (the change feed wakes its followers). */
  onCommit: () => void;
  /** The file this connection opened: checked under the write lock, before the first and after the last insert. */
  identity: FileIdentity;
}

/**
 * Appends, each call one write transaction (a group commit's `appendGroup` too: several requests, one commit). SQLite serializes writers, so positions (rowids) are
 * 1, 2, 3… in commit order and a poller never skips one.
 */
export const createSqliteAppender = (
  db: Database.Database,
  sql: SqliteDb,
  options: SqliteAppendOptions,
): Required<Pick<EventStore, 'appendToStream' | 'appendBatch' | 'appendGroup'>> => {
  const insert = db.prepare(
    `INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
  );
  const streamRevision = db.prepare('SELECT max(revision) FROM events WHERE stream = ?').pluck();
  const currentRevision = (stream: string): number | null => streamRevision.get(stream) as number | null;

  /** Writes events in order inside the caller's transaction; `stream` fixed, or each event's own. */
  const write = (events: readonly LifecycleEvent[], stream: string | null) => {
    // Under the write lock, before the first insert and again just before COMMIT: a file deleted or
    // replaced at the path since this connection opened it gets no row, in it or in a WAL beside it.
    options.identity.check('append');
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
    options.identity.check('append');
    return { appended, duplicates: events.length - appended, lastPosition, firstPosition };
  };

  /** One stream request inside the caller's transaction: checked (throws before writing anything), then written. */
  const toStream = (stream: string, events: readonly LifecycleEvent[], expected: ExpectedRevision): AppendToStreamResult => {
    const before = currentRevision(stream);
    checkExpectedRevision(stream, expected, before === null ? null : BigInt(before));
    const result = write(events, stream);
    const after = before === null ? (result.appended ? result.appended - 1 : null) : before + result.appended;
    return { ...result, nextExpectedRevision: after === null ? -1n : BigInt(after) };
  };
  const appendToStreamTx = db.transaction(toStream);
  /**
   * A group: every request in order in one transaction, each seeing what the earlier ones wrote;
   * a wrong expected revision refuses that request alone (it is checked before it writes).
   */
  const appendGroupTx = db.transaction((requests: readonly GroupRequest[]): GroupOutcome[] =>
    requests.map((r): GroupOutcome => {
      if (r.stream === undefined) return { success: true, data: write(r.events, null) };
      try {
        return { success: true, data: toStream(r.stream, r.events, r.expectedRevision ?? 'any') };
      } catch (e) {
        if (e instanceof RollcallError && e.code === 'wrong-expected-revision') return { success: false, error: e };
        throw e;
      }
    }),
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
  const writeLocked = async <T>(tx: () => T, wrote: (result: T) => boolean = (r) => (r as AppendResult).appended > 0): Promise<T> => {
    const deadline = Date.now() + options.busyTimeoutMs;
    for (;;) {
      try {
        const result = sql.guard('append', tx);
        if (wrote(result)) {
          options.identity.noteWal();
          options.onCommit();
        }
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
    appendGroup: (requests) => {
      let events = 0;
      for (const r of requests) events += r.events.length;
      return writeLocked(
        () => bulkCache(events, () => appendGroupTx.immediate(requests)),
        (outcomes) => outcomes.some((o) => o.success && o.data.appended > 0),
      );
    },
  };
};
