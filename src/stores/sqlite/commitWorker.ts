// The commit worker: the write connection of a sqlite store on a thread of its own (see
// commitThread.ts). It commits each group it is sent with the appender every connection uses, so a
// group here is the same transaction, with the same checks, as on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { createSqliteAppender } from './append.js';
import type { CommitWorkerData, FromCommitWorker, ToCommitWorker, WireOutcome } from './commitThread.js';
import { toWire } from './commitThread.js';
import { createSqliteDb } from './db.js';
import { fileIdentity } from './fileIdentity.js';
import { openDatabase, WRITE_CACHE } from './open.js';

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

// One group at a time, in the order sent.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToCommitWorker) => {
  queue = queue.then(async () => {
    if (m.kind === 'close') {
      closed = true;
      // A connection whose file was replaced leaves the WAL at the path alone (the main thread's retire decides).
      if (!identity.lost || identity.walIsOurs()) db.close();
      port.close();
      return;
    }
    try {
      const { outcomes, written } = await appender.appendRows(m.requests);
      post({ kind: 'done', id: m.id, outcomes: outcomes.map((o): WireOutcome => (o.success ? o : { success: false, error: toWire(o.error) })), written });
    } catch (e) {
      post({ kind: 'failed', id: m.id, error: toWire(e) });
    }
  });
});
