// The checkpointer of a sqlite store under `serve`: a connection of its own on a thread of its own,
// started by the commit worker (commitWorker.ts), that copies the WAL into the database file with
// PASSIVE checkpoints while the commit connection goes on committing. Left to the commit
// connection, SQLite checkpoints automatically right after the commit that takes the WAL past
// `wal_autocheckpoint` pages, on the committing thread: copying thousands of pages and fsyncing the
// file there stalled every group queued behind that commit. The commit connection keeps its
// automatic checkpoint as a bound should this thread fall behind or be gone.
//
// Durability is unchanged: a commit is durable once the WAL is fsynced; a checkpoint only moves
// committed pages into the database file. It never checkpoints into a file that is not the one the
// store opened (a store replaced or deleted under the running process): see fileIdentity.ts.
import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { CommitWorkerData } from './commitThread.js';
import { fileIdentity } from './fileIdentity.js';
import { openDatabase } from './open.js';

/** From the commit worker: checkpoint now, or close the connection and end. */
export type ToCheckpointer = { kind: 'checkpoint' } | { kind: 'close' };
/** After each `checkpoint`: the WAL's frames, and how many of them are now in the database file (-1, -1: not done). */
export type FromCheckpointer = { kind: 'checkpointed'; log: number; backfilled: number };

const { path, url, busyTimeoutMs, expected } = workerData as CommitWorkerData;
const port = parentPort!;

let db: Database.Database | null = null;
try {
  db = openDatabase(path, url, { busyTimeoutMs, create: false, verify: false });
} catch {
  // No checkpointer: the commit connection's automatic checkpoint still bounds the WAL.
}
const identity = fileIdentity(path, url, expected);
try {
  identity.check('checkpoint');
  identity.noteWal();
} catch {
  // Replaced before this connection opened it: it never checkpoints (see below).
}

port.on('message', (m: ToCheckpointer) => {
  if (m.kind === 'close') {
    // A connection whose file was replaced leaves the WAL at the path alone (as the commit worker's).
    if (db !== null && (!identity.lost || identity.walIsOurs())) db.close();
    port.close();
    return;
  }
  let log = -1;
  let backfilled = -1;
  if (db !== null && !identity.lost) {
    try {
      identity.check('checkpoint');
      // PASSIVE: copies what no reader still needs, never waits for a lock nor blocks the writer.
      const row = (db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[])[0]!;
      log = row.log;
      backfilled = row.checkpointed;
    } catch {
      // Lost, busy (another checkpoint running) or failing: the automatic checkpoint remains.
    }
  }
  port.postMessage({ kind: 'checkpointed', log, backfilled } satisfies FromCheckpointer);
});
