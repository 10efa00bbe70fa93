import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { linkSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cli, finished, ndjsonFile, spawnBuilt, tempDir } from '../support/cli.js';
import { outputMatching, waitFor } from '../support/waitFor.js';

// The store is the file at the path, for the CLI's long-running and writing commands too: a file
// deleted or replaced (a backup restored with `mv`) under `append`, `watch` or `reconcile --every`
// is never written into, and neither is the file that replaced it until the command has reopened it.

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const query = <T>(path: string, sql: string): T => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).pluck().get() as T;
  } finally {
    db.close();
  }
};
const rows = (path: string) => query<number>(path, 'SELECT count(*) FROM events');
const integrity = (path: string) => query<string>(path, 'PRAGMA integrity_check');
const storeFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('live.db')).sort();
/**
 * Nothing beside the file at the path holds a frame: SQLite leaves the old connection's `-wal` and
 * `-shm` by name when the file it opened has moved, but rollcall empties that WAL first.
 */
const nothingBeside = (path: string) => {
  const wal = statSync(`${path}-wal`, { throwIfNoEntry: false });
  return wal === undefined || wal.size === 0;
};

const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
const event = (type: string, data: object, secondsAgo = 100) => ({ id: randomUUID(), type, data, metadata: { at: ago(secondsAgo) } });
const heartbeat = (agentId: string) => event('AgentHeartbeat', { agentId }, 1);

/** Resolves once the process has `path` open (an fd linking to it), looked at in /proc. */
const hasOpen = (pid: number, path: string) =>
  waitFor(`process ${pid} to have ${path} open`, () => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === path);
    } catch {
      return false; // the process ended, or an fd closed while it was read
    }
  });

/** A pid that no process has any more. */
const deadPid = async (): Promise<number> => {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
};

/** A store at dir/name made by the CLI (closed cleanly: no WAL beside it) holding `events`. */
const storeOf = async (dir: string, name: string, events: object[]) => {
  const path = join(dir, name);
  const r = await cli(['append', '--store', `sqlite:${path}`, ndjsonFile(events, tempDir())]);
  expect(r.code).toBe(0);
  return path;
};

/** An agent whose session's process is gone: the reconciler's dead-pid rule corrects it. */
const crashedAgent = async (agentId: string) => [
  event('AgentRegistered', { agentId, role: 'worker' }),
  event('AgentSpawned', { agentId, sessionId: `${agentId}-s`, pid: await deadPid() }, 90),
];

describe('append: the file replaced between open and commit', () => {
  it('is refused with exit 3 and one line; the file now at the path stays byte-identical, the replaced one gets nothing', async () => {
    const dir = tempDir();
    const path = await storeOf(dir, 'live.db', [heartbeat('a1'), heartbeat('a2')]);
    const backup = await storeOf(dir, 'backup.db', [heartbeat('b1')]);
    const restored = sha(backup);
    linkSync(path, join(dir, 'old.db'));
    // Another writer holds the write lock, so the append opens the store, then waits to write.
    const holder = new Database(path);
    holder.prepare('BEGIN IMMEDIATE').run();
    const child = spawnBuilt(['append', '--store', `sqlite:${path}`, ndjsonFile([heartbeat('c1'), heartbeat('c2')], tempDir())], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = finished(child);
    await hasOpen(child.pid!, path);
    renameSync(backup, path);
    holder.prepare('ROLLBACK').run();
    holder.close();
    const r = await done;
    expect(r.stderr).toBe(
      `rollcall: sqlite:${path}: append: the database file was replaced under this process; nothing written (a running serve or reconcile --every reopens the store once a valid one is at the path)\n`,
    );
    expect(r.stdout).toBe('');
    expect(r.code).toBe(3);
    expect(sha(path)).toBe(restored);
    expect(nothingBeside(path)).toBe(true);
    expect(rows(join(dir, 'old.db'))).toBe(2);
    // The next append goes into the restored store, right after its own last event.
    const next = await cli(['append', '--store', `sqlite:${path}`, ndjsonFile([heartbeat('d1')], tempDir())]);
    expect(next.stdout).toBe(`appended 1 event(s) to sqlite:${path}, positions 2–2\n`);
    expect(integrity(path)).toBe('ok');
  }, 60_000);

  it('a file deleted between open and commit: exit 3, nothing created at the path', async () => {
    const dir = tempDir();
    const path = await storeOf(dir, 'live.db', [heartbeat('a1')]);
    const holder = new Database(path);
    holder.prepare('BEGIN IMMEDIATE').run();
    const child = spawnBuilt(['append', '--store', `sqlite:${path}`, ndjsonFile([heartbeat('c1')], tempDir())], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = finished(child);
    await hasOpen(child.pid!, path);
    for (const f of storeFiles(dir)) rmSync(join(dir, f));
    holder.prepare('ROLLBACK').run();
    holder.close();
    const r = await done;
    expect(r.stderr).toMatch(/^rollcall: sqlite:.*: append: the database file was deleted under this process; nothing written \(.*\)\n$/);
    expect(r.code).toBe(3);
    expect(storeFiles(dir)).toEqual([]);
  }, 60_000);
});

describe('watch: the file it follows replaced or deleted', () => {
  it.each(['replaced', 'deleted'] as const)('%s: watch stops with exit 3 and one line naming it; nothing is written into either file', async (how) => {
    const dir = tempDir();
    const path = await storeOf(dir, 'live.db', [heartbeat('a1'), heartbeat('a2'), heartbeat('a3')]);
    const backup = await storeOf(dir, 'backup.db', [heartbeat('b1')]);
    const restored = sha(backup);
    const child = spawnBuilt(['watch', '--from', '0', '--store', `sqlite:${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = finished(child);
    await outputMatching(child.stdout!, /"position":"3"/);
    linkSync(path, join(dir, 'old.db'));
    if (how === 'replaced') renameSync(backup, path);
    else for (const f of storeFiles(dir)) rmSync(join(dir, f));
    const r = await done;
    expect(r.stderr).toBe(
      `rollcall: sqlite:${path}: follow: the database file was ${how} under this process; nothing written (a running serve or reconcile --every reopens the store once a valid one is at the path)\n`,
    );
    expect(r.code).toBe(3);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
    expect(rows(join(dir, 'old.db'))).toBe(3);
    if (how === 'replaced') {
      expect(sha(path)).toBe(restored);
      expect(nothingBeside(path)).toBe(true);
    } else expect(storeFiles(dir)).toEqual([]);
  }, 60_000);
});

describe('reconcile --every: the file it corrects replaced or deleted', () => {
  it('replaced by a backup: no correction lands in the replaced file; the daemon reopens the backup and corrects it', async () => {
    const dir = tempDir();
    const path = await storeOf(dir, 'live.db', await crashedAgent('a1'));
    const backup = await storeOf(dir, 'backup.db', await crashedAgent('b1'));
    const child = spawnBuilt(['reconcile', '--every', '0.05', '--store', `sqlite:${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = finished(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await outputMatching(child.stdout!, /dead-pid +agent=a1 .*\n.*1 correction appended/, { already: () => out });
    linkSync(path, join(dir, 'old.db'));
    renameSync(backup, path);
    await outputMatching(child.stdout!, /dead-pid +agent=b1 .*\n.*1 correction appended/, { already: () => out });
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/reconcile: stopped after \d+ passes: 2 corrections appended \(dead-pid 2\)/);
    // The replaced file: its two events and its one correction, nothing after.
    expect(rows(join(dir, 'old.db'))).toBe(3);
    expect(query(join(dir, 'old.db'), `SELECT count(*) FROM events WHERE data LIKE '%b1%'`)).toBe(0);
    // The backup: its own two events and its correction, sound.
    expect(rows(path)).toBe(3);
    expect(query(path, `SELECT count(*) FROM events WHERE data LIKE '%a1%'`)).toBe(0);
    expect(integrity(path)).toBe('ok');
  }, 60_000);

  it('deleted: each pass fails with one line, nothing is created at the path; a store put back there is reopened and corrected; SIGTERM exits 0', async () => {
    const dir = tempDir();
    const path = await storeOf(dir, 'live.db', [heartbeat('a1')]);
    const child = spawnBuilt(['reconcile', '--every', '0.05', '--store', `sqlite:${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = finished(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    // Its first pass (quiet: nothing to correct) has opened the store: wait for its open file.
    await hasOpen(child.pid!, path);
    for (const f of storeFiles(dir)) rmSync(join(dir, f));
    const failed = await outputMatching(child.stderr!, /rollcall: reconcile pass failed: (.*)\n/, { already: () => err });
    expect(failed[1]).toMatch(/sqlite:.*live\.db.*(was deleted under this process|does not exist)/);
    // A pass already inside its read when the files went may leave the old connection's -shm behind
    // (it opened that file legitimately). Clear it, then a whole pass that began after the deletion
    // must fail again and create nothing at all at the path.
    for (const f of storeFiles(dir)) rmSync(join(dir, f));
    const failuresSoFar = err.split('reconcile pass failed').length;
    await waitFor('another failed pass', () => (err.split('reconcile pass failed').length > failuresSoFar + 1 ? true : undefined), { intervalMs: 20 });
    expect(storeFiles(dir)).toEqual([]);
    // Put back: a valid store with something to correct.
    const staged = await storeOf(tempDir(), 'live.db', await crashedAgent('c1'));
    renameSync(staged, path);
    await outputMatching(child.stdout!, /dead-pid +agent=c1 .*\n.*1 correction appended/);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean).every((l) => l.startsWith('rollcall: reconcile pass failed: '))).toBe(true);
    expect(rows(path)).toBe(3);
    expect(integrity(path)).toBe('ok');
  }, 60_000);
});
