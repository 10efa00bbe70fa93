import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { RollcallError } from '../../errors.js';
import { isCorrupt, sqliteCode, sqliteFailure } from './errors.js';
import { directoryWritable, openImage, refusedForReadOnlyPlace } from './image.js';
import { migrate } from './schema.js';

/** How long one attempt at the write lock blocks inside SQLite before we yield and retry. */
const LOCK_POLL_MS = 5;

/** What an open finds in the file before it changes anything (so a refused file is never modified). */
const inspect = (db: Database.Database, url: string): 'empty' | 'rollcall' => {
  let tables: string[];
  try {
    tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
  } catch (e) {
    if (sqliteCode(e) === 'SQLITE_NOTADB') {
      throw new RollcallError('corrupt-store', `cannot open store ${url}: the file is not an SQLite database (or its header is damaged)`, { cause: e });
    }
    throw sqliteFailure(url, 'open', e);
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
    throw sqliteFailure(url, 'integrity check', e);
  }
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new RollcallError(
    'corrupt-store',
    `${url}: the database file is damaged (integrity check: ${problems.join('; ')}); nothing written. Restore it from a backup, or replay what is readable with --skip-invalid`,
  );
};

export interface OpenOptions {
  busyTimeoutMs: number;
  create: boolean;
  verify: boolean;
}

/** SQLite failures that mean "no room for the WAL index file" (a full disk), not a bad database. */
const noRoomForIndex = (e: unknown): boolean => {
  const code = sqliteCode(e instanceof RollcallError ? e.cause : e);
  return code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL' || code === 'SQLITE_CANTOPEN';
};

/** Opens (or creates) the database file, refusing one that is not a rollcall store or is damaged. */
export const openDatabase = (path: string, url: string, options: OpenOptions): Database.Database => {
  const inMemory = path === ':memory:' || path === '';
  if (!options.create && !inMemory && !existsSync(path)) {
    throw new RollcallError('store-unavailable', `no store at ${url}: ${path} does not exist (only append and demo create a store)`);
  }
  try {
    return openAttempt(path, url, options, 'shared');
  } catch (e) {
    if (inMemory) throw e;
    const readOnlyPlace = refusedForReadOnlyPlace(e) && !directoryWritable(path);
    if (options.create && readOnlyPlace) {
      throw new RollcallError(
        'store-unavailable',
        `cannot open store ${url} for writing: its directory ${dirname(path)} is read-only (SQLite writes its -wal and -shm beside the file)${existsSync(path) ? '; replay, check, audit, explain and watch can still read it' : ''}`,
      );
    }
    if (options.create) throw e;
    // A reader in a read-only directory or on a read-only mount: SQLite cannot put the WAL's
    // companions beside the file, so the file is read as an image (see image.ts).
    if (readOnlyPlace) return openAttempt(path, url, options, 'image');
    // A reader on a full disk: SQLite cannot create the shared WAL index (-shm). With exclusive
    // locking it keeps the index in memory instead, so the log can still be read (and nobody else
    // writes meanwhile, which on a full disk nobody could anyway).
    if (!noRoomForIndex(e)) throw e;
    return openAttempt(path, url, options, 'exclusive');
  }
};

/** Page cache sizes (negative: KiB): small for a reader, large for a writer (a bulk append raises it further, see append.ts). */
const READ_CACHE = -8192;
export const WRITE_CACHE = -65536;

const openAttempt = (path: string, url: string, options: OpenOptions, mode: 'shared' | 'exclusive' | 'image'): Database.Database => {
  const inMemory = path === ':memory:' || path === '';
  let db: Database.Database;
  try {
    db = mode === 'image' ? openImage(path, url) : new Database(path, { timeout: options.busyTimeoutMs, fileMustExist: !options.create && !inMemory });
  } catch (e) {
    if (e instanceof RollcallError) throw e;
    // Decided by the file system, not by better-sqlite3's wording.
    const why = path !== ':memory:' && !existsSync(dirname(path)) ? `directory ${dirname(path)} does not exist` : (e as Error).message;
    throw new RollcallError('store-unavailable', `cannot open store ${url}: ${why}`, { cause: e });
  }
  try {
    if (mode === 'exclusive') db.pragma('locking_mode = EXCLUSIVE');
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
    if (isCorrupt(e)) throw sqliteFailure(url, 'open', e);
    throw new RollcallError('store-unavailable', `cannot open store ${url}: ${(e as Error).message}`, { cause: e });
  }
};
