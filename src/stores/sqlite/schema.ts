import type Database from 'better-sqlite3';
import { RollcallError } from '../../errors.js';

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

/** Brings the schema to this code's version, or refuses a newer one. */
export const migrate = (db: Database.Database, url: string): void => {
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
