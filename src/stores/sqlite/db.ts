import type Database from 'better-sqlite3';
import { storeClosed } from '../storeClosed.js';
import type { SqlDb } from '../relational/sqlDb.js';
import { pause } from '../pause.js';
import { sqliteCode, sqliteFailure } from './errors.js';
import type { FileIdentity } from './fileIdentity.js';

export interface SqliteDb extends SqlDb {
  /** Runs `f` unless the store is closed, mapping what SQLite throws to a RollcallError. */
  guard<T>(doing: string, f: () => T): T;
}

/**
 * The shared relational code's view of one better-sqlite3 connection: statements prepared once
 * and kept, every integer read exactly (as bigint), every failure a RollcallError. A statement that
 * finds the write lock taken (a snapshot save while the commit thread commits) is tried again
 * every millisecond, without blocking the event loop, for up to `busyTimeoutMs`.
 *
 * Given the connection's `identity`, a statement that writes (snapshots: their saves and prunes)
 * runs in a transaction of its own that checks under the write lock, before and after writing,
 * that the path still names the file opened (as appends do): nothing lands in a replaced file.
 */
export const createSqliteDb = (db: Database.Database, url: string, isClosed: () => boolean, busyTimeoutMs = 0, identity?: FileIdentity): SqliteDb => {
  const statements = new Map<string, Database.Statement>();
  const checkedWrite =
    identity === undefined
      ? null
      : db.transaction((statement: Database.Statement, doing: string, params: readonly unknown[]) => {
          identity.check(doing);
          statement.run(...params);
          identity.check(doing);
        });
  const guard = <T>(doing: string, f: () => T): T => {
    if (isClosed()) throw storeClosed(url, doing);
    try {
      return f();
    } catch (e) {
      throw sqliteFailure(url, doing, e);
    }
  };
  const run = (doing: string, name: string, sql: string, params: readonly unknown[]): unknown[][] =>
    guard(doing, () => {
      let statement = statements.get(name);
      if (statement === undefined) {
        statement = db.prepare(sql);
        if (statement.reader) statement.raw(true).safeIntegers(true);
        statements.set(name, statement);
      }
      if (statement.reader) return statement.all(...params) as unknown[][];
      if (checkedWrite === null) statement.run(...params);
      else {
        checkedWrite.immediate(statement, doing, params);
        identity!.noteWal();
      }
      return [];
    });
  return {
    guard,
    async rows(doing, name, sql, params) {
      const deadline = Date.now() + busyTimeoutMs;
      for (;;) {
        try {
          return run(doing, name, sql, params);
        } catch (e) {
          if (!sqliteCode((e as Error).cause).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw e;
        }
        await pause(1);
      }
    },
    param: () => '?',
    // The same text as Date.prototype.toISOString.
    now: `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    tables: { events: 'events', snapshots: 'snapshots' },
    readAhead: false,
  };
};
