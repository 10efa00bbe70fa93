// How long a snapshot save holds SQLite's write lock (issue 19): a probe thread commits one row
// per transaction every 2 ms (WAL, synchronous=FULL, as the commit thread does), retrying the lock without
// SQLite's coarse busy sleeps, while this thread saves a payload of --mb MB: A as every rollcall
// before parts did (one row, one transaction, synchronous=FULL), B as the snapshot worker now does
// (snapshotWriter: parts, synchronous=NORMAL), interleaved. Prints, per save, the longest wait of
// a probe commit and the save's time; compare A with B of the same run only.
//
//   node --import tsx bench/snapshotLock.ts [--mb 29] [--rounds 4]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { createRelationalSnapshots } from '../src/stores/relational/snapshots.js';
import { createSqliteDb } from '../src/stores/sqlite/db.js';
import { openDatabase } from '../src/stores/sqlite/open.js';
import { openSnapshotWriter } from '../src/stores/snapshotWriter.js';
import { openSqliteStore } from '../src/stores/sqliteStore.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '29' }, rounds: { type: 'string', default: '4' } } });
const dir = mkdtempSync(join(tmpdir(), 'rollcall-snaplock-'));
const path = join(dir, 'lock.db');
const url = `sqlite:${path}`;
await openSqliteStore({ path }).close();

const flag = new Int32Array(new SharedArrayBuffer(4));
const probe = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
   const Database = require(workerData.sqlite);
   const db = new Database(workerData.path, { timeout: 0 });
   db.pragma('synchronous = FULL');
   db.exec('CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at REAL)');
   const insert = db.prepare('INSERT INTO probe (at) VALUES (?)');
   const flag = new Int32Array(workerData.flag);
   let worst = 0, commits = 0, worstRun = 0;
   const gap = new Int32Array(new SharedArrayBuffer(4));
   parentPort.postMessage('ready');
   for (;;) {
     const f = Atomics.load(flag, 0);
     if (f === 2) break;
     if (f === 1) { parentPort.postMessage({ worst, commits, worstRun }); worst = 0; worstRun = 0; commits = 0; Atomics.store(flag, 0, 0); }
     const t0 = performance.now();
     let t1;
     for (;;) { t1 = performance.now(); try { insert.run(t0); break; } catch (e) { if (!String(e.code).startsWith('SQLITE_BUSY')) throw e; } }
     const t2 = performance.now();
     worst = Math.max(worst, t1 - t0); worstRun = Math.max(worstRun, t2 - t1); commits++;
     // A commit thread's pace under load, not a loop that would starve every other writer.
     Atomics.wait(gap, 0, 0, 2);
   }
   db.close();
   parentPort.postMessage('closed');`,
  { eval: true, workerData: { path, sqlite: createRequire(import.meta.url).resolve('better-sqlite3'), flag: flag.buffer } },
);
const messages: unknown[] = [];
let wake: (() => void) | null = null;
probe.on('error', (e) => {
  console.error(e);
  process.exit(1);
});
probe.on('message', (m) => {
  messages.push(m);
  wake?.();
});
const next = async () => {
  while (messages.length === 0) await new Promise<void>((r) => (wake = r));
  return messages.shift();
};
await next();
/** The probe's worst wait and commits since the last call. */
const window = async () => {
  Atomics.store(flag, 0, 1);
  return (await next()) as { worst: number; commits: number; worstRun: number };
};

const payload = 'x'.repeat(Number(values.mb) * 1024 * 1024);
// A: the main connection's save as before parts (one row; synchronous=FULL).
const oldDb = openDatabase(path, url, { busyTimeoutMs: 10_000, create: false, verify: false });
const oldSnapshots = createRelationalSnapshots(createSqliteDb(oldDb, url, () => false, 10_000));
// B: the worker's writer.
const writer = await openSnapshotWriter({ url, sqlite: { path, busyTimeoutMs: 10_000, expected: statSync(path), incarnation: 0 } });

let position = 0n;
const rows: string[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, save] of [
    ['A one row', (p: bigint) => oldSnapshots.save({ name: 'lock', version: 1, position: p, payload, at: null })],
    ['B parts  ', (p: bigint) => writer.save({ name: 'lock', version: 1, position: p, payload, at: null })],
  ] as const) {
    await window();
    const t0 = performance.now();
    await save((position += 10_000n));
    const took = performance.now() - t0;
    const { worst, commits, worstRun } = await window();
    rows.push(`${name}  save ${took.toFixed(0).padStart(5)} ms   probe commits ${String(commits).padStart(5)}   longest wait for the lock ${worst.toFixed(1).padStart(6)} ms   longest commit once locked ${worstRun.toFixed(1).padStart(6)} ms`);
  }
}
Atomics.store(flag, 0, 2);
await next();
await writer.close();
oldDb.close();
rmSync(dir, { recursive: true, force: true });
console.log(`snapshot save vs a committing thread, ${values.mb} MB payload (compare A with B of this run only):`);
for (const r of rows) console.log(`  ${r}`);
