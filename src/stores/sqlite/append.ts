import type Database from 'better-sqlite3';
import { streamOf, type LifecycleEvent } from '../../events/lifecycleEvents.js';
import type { AppendResult, AppendToStreamResult, EventStore, ExpectedRevision, GroupOutcome, GroupRequest, StoredEvent } from '../eventStore.js';
import { storedRow } from '../relational/storedRow.js';
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
  /**
   * Called after every append that wrote something, with the events it wrote as a read would give
   * them back (built on demand: the change feed hands them to its followers instead of reading them).
   */
  onCommit: (written: () => StoredEvent[]) => void;
  /** The file this connection opened: checked under the write lock, before the first and after the last insert. */
  identity: FileIdentity;
}

/** An event as a row of the events table: its stream and its JSON texts (what the commit thread is sent). */
export interface EventRow {
  stream: string;
  id: string;
  type: string;
  data: string;
  metadata: string;
}

/** A group request as rows; `stream` set for an `appendToStream`. */
export interface RowRequest {
  rows: readonly EventRow[];
  stream?: string;
  expectedRevision?: ExpectedRevision;
}

/** The rows of a request's events, encoded on the caller's thread: each event to `stream`, or to its own. */
export const toRows = (events: readonly LifecycleEvent[], stream?: string): EventRow[] =>
  events.map((e) => ({ stream: stream ?? streamOf(e), id: e.id, type: e.type, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) }));

/** A group request encoded as rows. */
export const toRowRequest = (r: GroupRequest): RowRequest => ({
  rows: toRows(r.events, r.stream),
  ...(r.stream !== undefined ? { stream: r.stream } : {}),
  ...(r.expectedRevision !== undefined ? { expectedRevision: r.expectedRevision } : {}),
});

/**
 * What each request of a group wrote, as flat triples (index of the row in its request, position,
 * revision): with the rows, the events as the table now holds them.
 */
export type Written = number[][];

/** The stored events of a group from its rows and what it wrote: the same objects a read of those rows builds. */
export const writtenEvents = (requests: readonly RowRequest[], written: Written): StoredEvent[] => {
  const events: StoredEvent[] = [];
  for (let r = 0; r < requests.length; r++) {
    const rows = requests[r]!.rows;
    const w = written[r]!;
    for (let k = 0; k < w.length; k += 3) {
      const row = rows[w[k]!]!;
      events.push(storedRow(BigInt(w[k + 1]!), row.stream, BigInt(w[k + 2]!), row.id, row.type, row.data, row.metadata));
    }
  }
  return events;
};

/** A group's outcomes, with what each request wrote (empty for a refused one). */
export interface GroupWrite {
  outcomes: GroupOutcome[];
  written: Written;
}

export interface SqliteAppender extends Required<Pick<EventStore, 'appendToStream' | 'appendBatch' | 'appendGroup'>> {
  /** A group already encoded as rows (the commit thread's form): one transaction, as `appendGroup`. */
  appendRows(requests: readonly RowRequest[]): Promise<GroupWrite>;
}

/**
 * Appends, each call one write transaction (a group commit's `appendGroup` too: several requests, one commit). SQLite serializes writers, so positions (rowids) are
 * 1, 2, 3… in commit order and a poller never skips one.
 */
export const createSqliteAppender = (db: Database.Database, sql: SqliteDb, options: SqliteAppendOptions): SqliteAppender => {
  const insert = db.prepare(
    `INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
  );
  const streamRevision = db.prepare('SELECT max(revision) FROM events WHERE stream = ?').pluck();
  const currentRevision = (stream: string): number | null => streamRevision.get(stream) as number | null;

  /**
   * Whether the current transaction has checked the file: under the write lock, before the first
   * insert and again just before COMMIT, so that a file deleted or replaced at the path since this
   * connection opened it gets no row, in it or in a WAL beside it. Once per group, not per request
   * (a stat each): a check that fails rolls the whole group back, wherever it runs.
   */
  let checked = false;

  /** Writes rows in order inside the caller's transaction; pushes (index, position, revision) of each row written to `written`. */
  const write = (rows: readonly EventRow[], written: number[]): AppendResult => {
    if (!checked) {
      options.identity.check('append');
      checked = true;
    }
    const revisions = new Map<string, number>();
    let appended = 0;
    let firstPosition: bigint | null = null;
    let lastPosition: bigint | null = null;
    for (let i = 0; i < rows.length; i++) {
      const { stream, id, type, data, metadata } = rows[i]!;
      let revision = revisions.get(stream);
      if (revision === undefined) revision = currentRevision(stream) ?? -1;
      const info = insert.run(stream, revision + 1, id, type, data, metadata);
      if (info.changes === 1) {
        revision++;
        appended++;
        written.push(i, Number(info.lastInsertRowid), revision);
        lastPosition = BigInt(info.lastInsertRowid);
        firstPosition ??= lastPosition;
      }
      revisions.set(stream, revision);
    }
    return { appended, duplicates: rows.length - appended, lastPosition, firstPosition };
  };

  /** One stream request inside the caller's transaction: checked (throws before writing anything), then written. */
  const toStream = (stream: string, rows: readonly EventRow[], expected: ExpectedRevision, written: number[]): AppendToStreamResult => {
    const before = currentRevision(stream);
    checkExpectedRevision(stream, expected, before === null ? null : BigInt(before));
    const result = write(rows, written);
    const after = before === null ? (result.appended ? result.appended - 1 : null) : before + result.appended;
    return { ...result, nextExpectedRevision: after === null ? -1n : BigInt(after) };
  };
  /**
   * A group: every request in order in one transaction, each seeing what the earlier ones wrote;
   * a wrong expected revision refuses that request alone (it is checked before it writes).
   */
  const appendGroupTx = db.transaction((requests: readonly RowRequest[]): GroupWrite => {
    checked = false;
    const written: Written = [];
    const outcomes = requests.map((r): GroupOutcome => {
      const w: number[] = [];
      written.push(w);
      if (r.stream === undefined) return { success: true, data: write(r.rows, w) };
      try {
        return { success: true, data: toStream(r.stream, r.rows, r.expectedRevision ?? 'any', w) };
      } catch (e) {
        if (e instanceof RollcallError && e.code === 'wrong-expected-revision') return { success: false, error: e };
        throw e;
      }
    });
    if (checked) options.identity.check('append');
    return { outcomes, written };
  });

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
  const appendRows = async (requests: readonly RowRequest[]): Promise<GroupWrite> => {
    let events = 0;
    for (const r of requests) events += r.rows.length;
    const deadline = Date.now() + options.busyTimeoutMs;
    for (;;) {
      try {
        const result = sql.guard('append', () => bulkCache(events, () => appendGroupTx.immediate(requests)));
        if (result.written.some((w) => w.length > 0)) {
          options.identity.noteWal();
          options.onCommit(() => writtenEvents(requests, result.written));
        }
        return result;
      } catch (e) {
        if (!sqliteCode((e as RollcallError).cause).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw e;
      }
      await pause(1);
    }
  };

  /** One request alone: its outcome, or its refusal thrown. */
  const one = async (request: RowRequest): Promise<AppendResult & { nextExpectedRevision?: bigint }> => {
    const outcome = (await appendRows([request])).outcomes[0]!;
    if (!outcome.success) throw outcome.error;
    return outcome.data;
  };

  return {
    appendRows,
    appendToStream: async (stream, events, opts = {}) => {
      const data = await one({ rows: toRows(events, stream), stream, expectedRevision: opts.expectedRevision ?? 'any' });
      return { ...data, nextExpectedRevision: data.nextExpectedRevision! };
    },
    appendBatch: (events) => one({ rows: toRows(events) }),
    appendGroup: async (requests) => (await appendRows(requests.map(toRowRequest))).outcomes,
  };
};
