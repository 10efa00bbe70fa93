import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { RollcallError } from '../../errors.js';
import { sqliteCode } from './errors.js';

/*
 * A reader of a store it may not write beside. SQLite reads a WAL-mode file only through its `-wal`
 * and `-shm` companions, which it must be able to create (or open) next to the file: in a
 * read-only directory or on a read-only mount it fails ("attempt to write a readonly database",
 * "unable to open database file", "disk I/O error"), even with `readonly: true`. The driver here
 * takes no URI, so `?immutable=1` is out of reach. What it does take is an image: the file's bytes,
 * deserialized into a read-only in-memory database.
 *
 * That image is the store exactly when the file alone is the store: when there is no `-wal` with
 * frames in it. Then no connection is open on the file (the last one to close removes or empties
 * its WAL), and none can start writing, since it would need to create its `-wal` where nobody may.
 * The file is read whole, and read again if it changed during the read.
 */

/** SQLite's refusals of a reader that cannot create or open the WAL's companions beside the file. */
const READ_ONLY_PLACE = /^SQLITE_(READONLY|CANTOPEN|IOERR|BUSY)/;

/** Whether `e` (or the error it wraps) is SQLite refusing to read for want of a writable place. */
export const refusedForReadOnlyPlace = (e: unknown): boolean =>
  READ_ONLY_PLACE.test(sqliteCode(e instanceof RollcallError ? e.cause : e));

/** Whether this process may create files in the directory of `path` (false on a read-only mount). */
export const directoryWritable = (path: string): boolean => {
  try {
    accessSync(dirname(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

const HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const ATTEMPTS = 3;

/** The file at `path` as a read-only in-memory database; refused (one line) when its `-wal` holds commits. */
export const openImage = (path: string, url: string): Database.Database => {
  const wal = statSync(`${path}-wal`, { throwIfNoEntry: false });
  if (wal !== undefined && wal.size > 0) {
    throw new RollcallError(
      'store-unavailable',
      `cannot read store ${url}: its directory is read-only and ${path}-wal holds commits not yet in the database file, which SQLite reads only where it may write beside the file; open it once where the directory is writable (any rollcall command folds the log into the file), or copy ${path} and ${path}-wal together to a writable directory and read the copy`,
    );
  }
  for (let attempt = 1; ; attempt++) {
    const before = statSync(path);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new RollcallError('store-unavailable', `cannot read store ${url}: its directory is read-only, so it is read into memory, and that failed: ${(e as Error).message}`, { cause: e });
    }
    const after = statSync(path);
    if (before.size !== after.size || before.mtimeMs !== after.mtimeMs || bytes.length !== after.size) {
      if (attempt < ATTEMPTS) continue;
      throw new RollcallError('store-unavailable', `cannot read store ${url}: the file kept changing while it was read (something writes it although its directory is read-only)`);
    }
    // The image has no WAL beside it: mark it a rollback-journal database (header bytes 18 and 19),
    // which is what a WAL-mode file is once its WAL is empty.
    if (bytes.length >= 100 && bytes.subarray(0, 16).equals(HEADER)) bytes[18] = bytes[19] = 1;
    return new Database(bytes, { readonly: true });
  }
};
