import { statSync } from 'node:fs';
import { RollcallError } from '../../errors.js';

/**
 * Which file a connection opened (device + inode), so that nothing is written into or beside a file
 * the process did not open: an operator may delete the store under a running process, or restore a
 * backup over it (`mv backup.db live.db`), and SQLite keeps writing to the inode it has open, and
 * to the `-wal` beside whatever now sits at the path.
 */
export interface FileIdentity {
  /** Throws `store-unavailable` once the path no longer names the file opened; remembers that it did. */
  check(doing: string): void;
  /** True once a check found the file gone or replaced. */
  readonly lost: boolean;
  /** The inode of the `-wal` this connection writes, once it exists (0 before). */
  noteWal(): void;
  /** Whether the `-wal` at the path is this connection's own (or absent). */
  walIsOurs(): boolean;
  /** The file opened (null in memory). */
  readonly opened: { dev: number; ino: number } | null;
}

const NONE: FileIdentity = { check: () => undefined, lost: false, noteWal: () => undefined, walIsOurs: () => true, opened: null };

/** `expected`: the file another connection of this process opened; a different one here is lost from the start. */
export const fileIdentity = (path: string, url: string, expected?: { dev: number; ino: number } | null): FileIdentity => {
  if (path === ':memory:' || path === '') return NONE;
  const opened = expected ?? statSync(path);
  let walIno = 0;
  let lost = false;
  const identity: FileIdentity = {
    check(doing) {
      const now = statSync(path, { throwIfNoEntry: false });
      if (now !== undefined && now.ino === opened.ino && now.dev === opened.dev) return;
      lost = true;
      throw new RollcallError(
        'store-unavailable',
        `${url}: ${doing}: the database file was ${now === undefined ? 'deleted' : 'replaced'} under this process; nothing written (a running serve or reconcile --every reopens the store once a valid one is at the path)`,
      );
    },
    get lost() {
      return lost;
    },
    noteWal() {
      if (walIno !== 0 || lost) return;
      walIno = statSync(`${path}-wal`, { throwIfNoEntry: false })?.ino ?? 0;
    },
    opened: { dev: opened.dev, ino: opened.ino },
    walIsOurs() {
      const now = statSync(`${path}-wal`, { throwIfNoEntry: false });
      return now === undefined || (walIno !== 0 && now.ino === walIno);
    },
  };
  return identity;
};
