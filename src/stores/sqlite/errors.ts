import { RollcallError } from '../../errors.js';

/** The driver's error code (`SQLITE_BUSY`, `SQLITE_CORRUPT_…`), or '' for anything else. */
export const sqliteCode = (e: unknown): string => String((e as { code?: unknown } | undefined)?.code ?? '');

/** A damaged file, as SQLite reports it. */
export const isCorrupt = (e: unknown): boolean => sqliteCode(e).startsWith('SQLITE_CORRUPT') || sqliteCode(e) === 'SQLITE_NOTADB';

/** SQLite errors as rollcall reports them: damage is `corrupt-store`, every other failure `store-unavailable`. */
export const sqliteFailure = (url: string, doing: string, e: unknown): RollcallError => {
  if (e instanceof RollcallError) return e;
  const code = sqliteCode(e);
  const message = (e as Error).message ?? String(e);
  if (isCorrupt(e)) {
    return new RollcallError('corrupt-store', `${url}: ${doing}: the database file is damaged (${message})`, { cause: e });
  }
  const hint = code.startsWith('SQLITE_BUSY') ? ' (another process held the write lock past the busy timeout)' : '';
  return new RollcallError('store-unavailable', `${url}: ${doing}: ${message}${hint}`, { cause: e });
};
