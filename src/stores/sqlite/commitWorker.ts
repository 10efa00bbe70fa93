// The commit worker: the write connection of a sqlite store on a thread of its own (see
// commitThread.ts). It commits each group it is sent with the appender every connection uses, so a
// group here is the same transaction, with the same checks, as on the main thread.
import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { parentPort, workerData, type Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { createSqliteAppender } from './append.js';
import type { CommitWorkerData, FromCommitWorker, ToCommitWorker, WireOutcome } from './commitThread.js';
import { toWire } from './commitThread.js';
import { createSqliteDb } from './db.js';
import { fileIdentity } from './fileIdentity.js';
import { openDatabase, WRITE_CACHE } from './open.js';
import type { FromCheckpointer, ToCheckpointer } from './checkpointWorker.js';
import { startWorker } from '../startWorker.js';

const { path, url, busyTimeoutMs, expected } = workerData as CommitWorkerData;
const port = parentPort!;
const post = (m: FromCommitWorker) => port.postMessage(m);

let db: Database.Database;
let closed = false;
try {
  // Never creates the file: the main thread opened (and created, and checked) it.
  db = openDatabase(path, url, { busyTimeoutMs, create: false, verify: false });
  db.pragma(`cache_size = ${WRITE_CACHE}`);
} catch (e) {
  post({ kind: 'unopened', error: toWire(e) });
  process.exit(0);
}
const identity = fileIdentity(path, url, expected);
const sql = createSqliteDb(db, url, () => closed, busyTimeoutMs);
// Followers are handed what was written by the main thread once it has the answer.
const appender = createSqliteAppender(db, sql, { busyTimeoutMs, identity, onCommit: () => undefined });

/**
 * WAL frames from which the checkpointer (checkpointWorker.ts) is asked to copy them into the
 * database file, off this thread. The connection's own `wal_autocheckpoint` (open.ts) is higher:
 * it runs only when the checkpointer falls behind or is gone.
 */
const BACKGROUND_CHECKPOINT_FRAMES = 1000;

let checkpointer: Worker | null = null;
let checkpointing = false;
try {
  checkpointer = startWorker(import.meta.url, 'checkpointWorker', { workerData });
  checkpointer.unref();
  checkpointer.on('message', (m: FromCheckpointer) => {
    checkpointing = false;
    post({ kind: 'checkpointed', log: m.log, backfilled: m.backfilled });
  });
  checkpointer.on('error', () => undefined);
  checkpointer.on('exit', () => (checkpointer = null));
} catch {
  checkpointer = null;
}

/**
 * The WAL's size and how much of it is already in the database file, from the WAL index header in
 * `PATH-shm` (SQLite's documented file format: mxFrame at byte 16, nBackfill at byte 96, native
 * byte order). Null when it cannot be read: no background checkpoint then.
 */
let shmFd: number | null = null;
const header = Buffer.alloc(100);
const walState = (): { frames: number; backfilled: number } | null => {
  try {
    shmFd ??= openSync(`${path}-shm`, 'r');
    if (readSync(shmFd, header, 0, 100, 0) < 100) return null;
    const le = endianness() === 'LE';
    return { frames: le ? header.readUInt32LE(16) : header.readUInt32BE(16), backfilled: le ? header.readUInt32LE(96) : header.readUInt32BE(96) };
  } catch {
    return null;
  }
};
/** After a commit: once the WAL is past the threshold, the checkpointer copies what is not yet copied (one request at a time). */
const maybeCheckpoint = () => {
  if (checkpointer === null || checkpointing || identity.lost) return;
  const wal = walState();
  if (wal === null || wal.frames < BACKGROUND_CHECKPOINT_FRAMES || wal.backfilled >= wal.frames) return;
  checkpointing = true;
  checkpointer.postMessage({ kind: 'checkpoint' } satisfies ToCheckpointer);
};
const closeCheckpointer = async () => {
  const c = checkpointer;
  if (c === null) return;
  const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  c.ref();
  c.postMessage({ kind: 'close' } satisfies ToCheckpointer);
  await exited;
};

// One group at a time, in the order sent.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToCommitWorker) => {
  queue = queue.then(async () => {
    if (m.kind === 'close') {
      closed = true;
      // Its connection first: this one's close is then the last word on the WAL of this thread's two.
      await closeCheckpointer();
      // Closed here rather than left to the end of the thread (Node closes a worker's fs descriptors then).
      if (shmFd !== null) closeSync(shmFd);
      shmFd = null;
      // A connection whose file was replaced leaves the WAL at the path alone (the main thread's retire decides).
      if (!identity.lost || identity.walIsOurs()) db.close();
      port.close();
      return;
    }
    try {
      const { outcomes, written } = await appender.appendRows(m.requests);
      post({ kind: 'done', id: m.id, outcomes: outcomes.map((o): WireOutcome => (o.success ? o : { success: false, error: toWire(o.error) })), written });
      if (written.some((w) => w.length > 0)) maybeCheckpoint();
    } catch (e) {
      post({ kind: 'failed', id: m.id, error: toWire(e) });
    }
  });
});
