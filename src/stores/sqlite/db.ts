import type Database from 'better-sqlite3';
import { storeClosed } from '../storeClosed.js';
import type { SqlDb } from '../relational/sqlDb.js';
import { sqliteFailure } from './errors.js';

export interface SqliteDb extends SqlDb {
  /** Runs `f` unless the store is closed, mapping what SQLite throws to a RollcallError. */
  guard<T>(doing: string, f: () => T): T;
}

/**
 * The shared relational code's view of one better-sqlite3 connection: statements prepared once
 * and kept, every integer read exactly (as bigint), every failure a RollcallError.
 */
export const createSqliteDb = (db: Database.Database, url: string, isClosed: () => boolean): SqliteDb => {
  const statements = new Map<string, Database.Statement>();
  const guard = <T>(doing: string, f: () => T): T => {
    if (isClosed()) throw storeClosed(url, doing);
    try {
      return f();
    } catch (e) {
      throw sqliteFailure(url, doing, e);
    }
  };
  return {
    guard,
    async rows(doing, name, sql, params) {
      return guard(doing, () => {
        let statement = statements.get(name);
        if (statement === undefined) {
          statement = db.prepare(sql);
          if (statement.reader) statement.raw(true).safeIntegers(true);
          statements.set(name, statement);
        }
        if (statement.reader) return statement.all(...params) as unknown[][];
        statement.run(...params);
        return [];
      });
    },
    param: () => '?',
    // The same text as Date.prototype.toISOString.
    now: `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`,
    tables: { events: 'events', snapshots: 'snapshots' },
    readAhead: false,
  };
};
