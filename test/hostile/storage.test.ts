import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, dumpSqlite, finished, ndjsonFile, runBuilt, spawnBuilt, tempDir } from '../support/cli.js';
import { outputMatching } from '../support/waitFor.js';

// Stores that are missing, foreign, damaged, read-only or on a full disk.

const at = (s: number) => new Date(Date.UTC(2026, 10, 20, 10, 0, s)).toISOString();
const heartbeats = (n: number, agent = 'a') =>
  Array.from({ length: n }, (_, i) => ({ type: 'AgentHeartbeat', data: { agentId: `${agent}${i % 5}` }, metadata: { at: at(i % 3000) } }));
const registered = [{ type: 'AgentRegistered', data: { agentId: 'a1', role: 'worker' }, metadata: { at: at(0) } }];

/** A rollcall store with `n` events at `dir/name`. */
const storeWith = async (dir: string, n: number, name = 'store.db') => {
  const path = join(dir, name);
  const r = await cli(['append', '--store', `sqlite:${path}`, ndjsonFile(heartbeats(n), dir)]);
  expect(r.code).toBe(0);
  return path;
};

const filesIn = (dir: string) => readdirSync(dir).sort();

describe('only commands that write create a store', () => {
  it.each([
    ['replay', ['replay']],
    ['replay --json', ['replay', '--json']],
    ['check', ['check']],
    ['audit', ['audit', 'a1']],
    ['reconcile --once', ['reconcile', '--once']],
  ])('%s on a missing sqlite path: exit 3 naming the path, nothing created', async (_name, args) => {
    const dir = tempDir();
    const path = join(dir, 'typo.db');
    const r = await cli([...args, '--store', `sqlite:${path}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`rollcall: no store at sqlite:${path}: ${path} does not exist (only append and demo create a store)\n`);
    expect(filesIn(dir)).toEqual([]);
  });

  it('watch on a missing sqlite path: exit 3 naming the path, nothing created', async () => {
    const dir = tempDir();
    const path = join(dir, 'typo.db');
    const r = await cli(['watch', '--store', `sqlite:${path}`]);
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n')[0]).toContain(path);
    expect(filesIn(dir)).toEqual([]);
  });

  it('the default store (ROLLCALL_STORE unset) is not created by replay either', async () => {
    const dir = tempDir();
    const r = await runBuilt(['replay'], { cwd: dir, env: { ROLLCALL_STORE: '' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('rollcall: no store at sqlite:./rollcall.db: ./rollcall.db does not exist (only append and demo create a store)\n');
    expect(filesIn(dir)).toEqual([]);
  });

  it('an empty file is no store for a reader; append makes it one', async () => {
    const dir = tempDir();
    const path = join(dir, 'empty.db');
    writeFileSync(path, '');
    const r = await cli(['replay', '--store', `sqlite:${path}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`rollcall: no store at sqlite:${path}: ${path} is an empty file, not a rollcall store (only append and demo create a store)\n`);
    expect(readFileSync(path).length).toBe(0);
    expect((await cli(['append', '--store', `sqlite:${path}`, ndjsonFile(registered, dir)])).code).toBe(0);
  });
});

describe('a file rollcall refuses is never modified', () => {
  const foreign = (dir: string) => {
    const path = join(dir, 'app.db');
    const db = new Database(path);
    db.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada')");
    db.close();
    return path;
  };

  it.each([
    ['append', (p: string, dir: string) => ['append', '--store', `sqlite:${p}`, ndjsonFile(registered, dir)]],
    ['replay', (p: string) => ['replay', '--store', `sqlite:${p}`]],
    ['check', (p: string) => ['check', '--store', `sqlite:${p}`]],
  ])('%s on a foreign SQLite file: exit 3, the file byte for byte as it was, still not WAL', async (_name, args) => {
    const dir = tempDir();
    const path = foreign(dir);
    const bytes = readFileSync(path);
    const r = await cli(args(path, dir));
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`rollcall: cannot open store sqlite:${path}: it is an SQLite database of something else (tables: users), not a rollcall store; left untouched\n`);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(filesIn(dir).filter((f) => f.startsWith('app.db'))).toEqual(['app.db']);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    db.close();
  });

  it.each(['append', 'replay'])('%s on a file that is not a database: exit 3 corrupt-store, unchanged', async (command) => {
    const dir = tempDir();
    const path = join(dir, 'notes.db');
    writeFileSync(path, 'these are my notes, not a database; '.repeat(200));
    const bytes = readFileSync(path);
    const args = command === 'append' ? ['append', '--store', `sqlite:${path}`, ndjsonFile(registered, dir)] : ['replay', '--store', `sqlite:${path}`];
    const r = await cli(args);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`rollcall: cannot open store sqlite:${path}: the file is not an SQLite database (or its header is damaged)\n  detail: file is not a database\n`);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });
});

describe('damage is exit 3 (corrupt-store) wherever it is found', () => {
  /** A store with a page in the middle of its events overwritten. */
  const damaged = async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 3000);
    const db = new Database(path);
    db.pragma('wal_checkpoint(TRUNCATE)');
    // One whole leaf page of the events table (which every replay reads), whatever the page size
    // the store was created with.
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const leaves = db.prepare(`SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' ORDER BY pageno`).pluck().all() as number[];
    db.close();
    const bytes = readFileSync(path);
    const page = leaves[Math.floor(leaves.length / 2)]! - 1;
    bytes.fill(0xde, pageSize * page, pageSize * (page + 1));
    writeFileSync(path, bytes);
    return { dir, path };
  };

  it('append into a file that fails the integrity check: refused, nothing written, the file unchanged', async () => {
    const { dir, path } = await damaged();
    const bytes = readFileSync(path);
    const r = await cli(['append', '--store', `sqlite:${path}`, ndjsonFile(registered, dir)]);
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n')[0]).toBe(`rollcall: sqlite:${path}: integrity check: the database file is damaged (database disk image is malformed)`);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it.each([
    ['replay --no-snapshot', ['replay', '--no-snapshot']],
    ['check', ['check']],
    ['audit', ['audit', 'a1']],
  ])('%s of a damaged file: exit 3 naming it', async (_name, args) => {
    const { path } = await damaged();
    const r = await cli([...args, '--store', `sqlite:${path}`]);
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n')[0]).toBe(`rollcall: sqlite:${path}: read: the database file is damaged (database disk image is malformed)`);
    expect(r.stdout).toBe('');
  });

  it('a row whose JSON is damaged stops replay with exit 3, naming its position', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 3);
    const db = new Database(path);
    db.prepare(`UPDATE events SET data = '{"agentId":' WHERE position = 2`).run();
    db.close();
    const r = await cli(['replay', '--store', `sqlite:${path}`]);
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n')[0]).toMatch(/^rollcall: position 2: unreadable stored event \(/);
  });
});

describe('snapshots are best effort: a read never fails for want of one', () => {
  it('replay of a read-only database works and says on stderr that no snapshot was saved', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 1500);
    const before = dumpSqlite(path);
    chmodSync(path, 0o444);
    // The same user, made to honour the file's mode (root would write it anyway).
    const child = spawnBuilt(['replay', '--store', `sqlite:${path}`], { stdio: ['ignore', 'pipe', 'pipe'], honourFileModes: true });
    const r = await finished(child);
    expect(r.stderr).toBe(`rollcall: note: no snapshot saved (sqlite:${path}: save snapshot: attempt to write a readonly database); the replay is complete\n`);
    expect(r.stdout).toContain('rollcall · position 1500');
    expect(r.code).toBe(0);
    chmodSync(path, 0o644);
    expect(dumpSqlite(path)).toBe(before);
  });

  describe('on a full disk', () => {
    const mount = join(tempDir(), 'full');
    mkdirSync(mount);
    let mounted = false;
    afterAll(() => {
      if (mounted) execFileSync('umount', [mount]);
      rmSync(mount, { recursive: true, force: true });
    });

    it('replay works and says no snapshot was saved; append is refused with exit 3', async () => {
      // A 4 MiB tmpfs (we run as root here), filled up once the store is on it.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
      mounted = true;
      const path = await storeWith(mount, 1500);
      const before = dumpSqlite(path);
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(mount, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        // dd stops with "No space left on device": that is the point.
      }
      const r = await finished(spawnBuilt(['replay', '--store', `sqlite:${path}`]));
      expect(r.stderr).toBe(`rollcall: note: no snapshot saved (sqlite:${path}: save snapshot: database or disk is full); the replay is complete\n`);
      expect(r.stdout).toContain('rollcall · position 1500');
      expect(r.code).toBe(0);
      const a = await finished(spawnBuilt(['append', '--store', `sqlite:${path}`, ndjsonFile(registered)]));
      expect(a.code).toBe(3);
      expect(a.stderr.split('\n')).toHaveLength(2);
      rmSync(join(mount, 'filler'));
      expect(dumpSqlite(path)).toBe(before);
    }, 60_000);
  });
});

describe('read-only stores are read, never written (nor anything beside them)', () => {
  /** Runs the built CLI obeying file modes (an operator's process, not root's). */
  const asOperator = (args: string[]) => finished(spawnBuilt(args, { stdio: ['ignore', 'pipe', 'pipe'], honourFileModes: true }));
  const readers = [
    ['replay', ['replay'], 'rollcall · position 1500'],
    ['replay --json', ['replay', '--json'], '"position": "1500"'],
    ['audit', ['audit', 'a1'], 'a1'],
    ['check', ['check'], 'ok: 1500 events'],
    ['explain', ['explain', 'agent', 'a1'], 'agent a1'],
  ] as const;
  /** What a writer says of a store in a read-only directory. */
  const writerRefused = (path: string, dir: string) =>
    `rollcall: cannot open store sqlite:${path} for writing: its directory ${dir} is read-only (SQLite writes its -wal and -shm beside the file); replay, check, audit, explain and watch can still read it\n`;
  const imageNote = (path: string) =>
    `rollcall: note: no snapshot saved (sqlite:${path}: save snapshot: its directory is read-only, so the store was read into memory); the replay is complete\n`;
  /** A store of 1500 events in a directory of its own, then the directory made read-only (0555). */
  const inReadOnlyDir = async (fileMode = 0o644) => {
    const dir = join(tempDir(), 'ro');
    mkdirSync(dir);
    const path = await storeWith(dir, 1500);
    chmodSync(path, fileMode);
    chmodSync(dir, 0o555);
    return { dir, path, bytes: readFileSync(path) };
  };

  it.each(readers)('%s of a store in a read-only directory: exit 0, the file byte for byte as it was, nothing created beside it', async (name, args, expected) => {
    const { dir, path, bytes } = await inReadOnlyDir();
    const r = await asOperator([...args, '--store', `sqlite:${path}`]);
    expect(r.stdout).toContain(expected);
    expect(r.stderr).toBe(name === 'replay' || name === 'replay --json' ? imageNote(path) : '');
    expect(r.code).toBe(0);
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db']);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  }, 60_000);

  it('a read-only file in a read-only directory (0444 in 0555): replay and check work, the file unchanged', async () => {
    const { dir, path, bytes } = await inReadOnlyDir(0o444);
    const r = await asOperator(['replay', '--store', `sqlite:${path}`]);
    expect(r.stdout).toContain('rollcall · position 1500');
    expect(r.stderr).toBe(imageNote(path));
    expect(r.code).toBe(0);
    expect((await asOperator(['check', '--store', `sqlite:${path}`])).code).toBe(0);
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db']);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  }, 60_000);

  it('an empty -wal and a -shm left by an earlier read-only reader, all 0444 in a 0555 directory: replay works, nothing changes', async () => {
    const dir = join(tempDir(), 'ro');
    mkdirSync(dir);
    const path = await storeWith(dir, 1500);
    // A read-only connection leaves its (empty) WAL and index behind when it closes.
    const reader = new Database(path, { readonly: true });
    reader.prepare('SELECT count(*) FROM events').get();
    reader.close();
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db', 'store.db-shm', 'store.db-wal']);
    for (const f of filesIn(dir)) chmodSync(join(dir, f), 0o444);
    chmodSync(dir, 0o555);
    const bytes = readFileSync(path);
    const r = await asOperator(['replay', '--json', '--store', `sqlite:${path}`]);
    expect(JSON.parse(r.stdout).position).toBe('1500');
    expect(r.code).toBe(0);
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db', 'store.db-shm', 'store.db-wal']);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(readFileSync(`${path}-wal`).length).toBe(0);
  }, 60_000);

  it('watch of a store in a read-only directory streams its log from --from 0 and stops on SIGTERM with exit 0', async () => {
    const { dir, path } = await inReadOnlyDir();
    const child = spawnBuilt(['watch', '--from', '0', '--store', `sqlite:${path}`], { stdio: ['ignore', 'pipe', 'pipe'], honourFileModes: true });
    const done = finished(child);
    await outputMatching(child.stdout!, /"position":"1500"/);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.stdout.trim().split('\n')).toHaveLength(1500);
    expect(r.code).toBe(0);
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db']);
  }, 60_000);

  it('a -wal with commits in it beside a store in a read-only directory: exit 3, one line saying what to do, nothing touched', async () => {
    const dir = join(tempDir(), 'ro');
    mkdirSync(dir);
    const path = await storeWith(dir, 10);
    // A writer killed before its last close: its last commit only in the WAL, no -shm left. (Held
    // open by a second connection, the appender's close does not fold the WAL in; the files are
    // taken as they are then.)
    const db = new Database(path);
    db.prepare('SELECT count(*) FROM events').get();
    const appended = await cli(['append', '--store', `sqlite:${path}`, ndjsonFile(registered, tempDir())]);
    expect(appended.code).toBe(0);
    const wal = readFileSync(`${path}-wal`);
    const bytes = readFileSync(path);
    db.close();
    writeFileSync(path, bytes);
    writeFileSync(`${path}-wal`, wal);
    rmSync(`${path}-shm`, { force: true });
    expect(wal.length).toBeGreaterThan(0);
    chmodSync(dir, 0o555);
    for (const args of [['replay'], ['check'], ['audit', 'a1']]) {
      const r = await asOperator([...args, '--store', `sqlite:${path}`]);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(
        `rollcall: cannot read store sqlite:${path}: its directory is read-only and ${path}-wal holds commits not yet in the database file, which SQLite reads only where it may write beside the file; open it once where the directory is writable (any rollcall command folds the log into the file), or copy ${path} and ${path}-wal together to a writable directory and read the copy\n`,
      );
      expect(r.stdout).toBe('');
    }
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db', 'store.db-wal']);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(readFileSync(`${path}-wal`).equals(wal)).toBe(true);
    // Done as the message says: with the directory writable again, every event is there.
    chmodSync(dir, 0o755);
    const r = await asOperator(['replay', '--json', '--store', `sqlite:${path}`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).position).toBe('11');
  }, 60_000);

  it.each([
    ['append', (p: string) => ['append', '--store', `sqlite:${p}`, ndjsonFile(registered)]],
    ['reconcile --once (which may write corrections)', (p: string) => ['reconcile', '--once', '--store', `sqlite:${p}`]],
  ])('%s into a store in a read-only directory: exit 3 or a clean no-op, never a file beside it', async (name, args) => {
    const { dir, path, bytes } = await inReadOnlyDir();
    const r = await asOperator(args(path));
    if (name === 'append') {
      expect(r.stderr).toBe(writerRefused(path, dir));
      expect(r.code).toBe(3);
    } else {
      // Heartbeats only: nothing to correct, so nothing to write.
      expect(r.stdout).toBe('reconcile: at position 1500: 0 corrections appended, 0 already stored, 0 conflicts\n');
      expect(r.code).toBe(0);
    }
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db']);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  }, 60_000);

  it.each([
    ['serve', ['serve', '--port', '0']],
    ['demo', ['demo']],
  ])('%s on a store in a read-only directory: exit 3 with one line naming the directory, nothing created', async (_name, args) => {
    const { dir, path, bytes } = await inReadOnlyDir();
    const r = await asOperator([...args, '--store', `sqlite:${path}`]);
    expect(r.stderr).toBe(writerRefused(path, dir));
    expect(r.code).toBe(3);
    expect(filesIn(dir)).toEqual(['events.ndjson', 'store.db']);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  }, 60_000);

  it('time travel on a store in a read-only directory: replay --until answers the past, with no note (a cut-short replay saves nothing)', async () => {
    const { path } = await inReadOnlyDir();
    const r = await asOperator(['replay', '--json', '--until', '700', '--store', `sqlite:${path}`]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).position).toBe('700');
    expect(r.code).toBe(0);
  }, 60_000);

  it('append of a new store into a read-only directory: exit 3, one line, nothing created', async () => {
    const dir = join(tempDir(), 'ro');
    mkdirSync(dir, 0o555);
    chmodSync(dir, 0o555);
    const path = join(dir, 'new.db');
    const r = await asOperator(['append', '--store', `sqlite:${path}`, ndjsonFile(registered)]);
    expect(r.stderr).toBe(`rollcall: cannot open store sqlite:${path} for writing: its directory ${dir} is read-only (SQLite writes its -wal and -shm beside the file)\n`);
    expect(r.code).toBe(3);
    expect(filesIn(dir)).toEqual([]);
  });

  it('an immutable store (chattr +i) in a read-only directory replays; in a writable one it replays too, and append is refused', async () => {
    const { dir, path, bytes } = await inReadOnlyDir();
    chmodSync(dir, 0o755);
    execFileSync('chattr', ['+i', path]);
    try {
      chmodSync(dir, 0o555);
      const inRo = await asOperator(['replay', '--store', `sqlite:${path}`]);
      expect(inRo.stdout).toContain('rollcall · position 1500');
      expect(inRo.code).toBe(0);
      chmodSync(dir, 0o755);
      // Root too cannot write an immutable file: run as this test's own user.
      const inRw = await finished(spawnBuilt(['replay', '--store', `sqlite:${path}`]));
      expect(inRw.stdout).toContain('rollcall · position 1500');
      expect(inRw.code).toBe(0);
      const a = await finished(spawnBuilt(['append', '--store', `sqlite:${path}`, ndjsonFile(registered)]));
      expect(a.code).toBe(3);
      expect(a.stderr.split('\n')[0]).toMatch(new RegExp(`^rollcall: .*sqlite:${path}.*readonly database`));
    } finally {
      execFileSync('chattr', ['-i', path]);
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
  }, 60_000);

  describe('on a read-only mount', () => {
    const base = tempDir();
    const source = join(base, 'source');
    const mount = join(base, 'mnt');
    mkdirSync(source);
    mkdirSync(mount);
    let mounted = false;
    afterAll(() => {
      if (mounted) execFileSync('umount', [mount]);
    });

    it('replay, check and audit read it (even as root, whom modes do not stop); append is exit 3 naming the directory', async () => {
      const path = await storeWith(source, 1500);
      // A read-only bind mount of the store's directory (we run as root here).
      execFileSync('mount', ['--bind', '-o', 'ro', source, mount]);
      mounted = true;
      const there = join(mount, 'store.db');
      const bytes = readFileSync(path);
      const r = await finished(spawnBuilt(['replay', '--store', `sqlite:${there}`]));
      expect(r.stdout).toContain('rollcall · position 1500');
      expect(r.stderr).toBe(imageNote(there));
      expect(r.code).toBe(0);
      for (const args of [['check'], ['audit', 'a1']]) expect((await finished(spawnBuilt([...args, '--store', `sqlite:${there}`]))).code).toBe(0);
      const a = await finished(spawnBuilt(['append', '--store', `sqlite:${there}`, ndjsonFile(registered)]));
      expect(a.stderr).toBe(writerRefused(there, mount));
      expect(a.code).toBe(3);
      expect(filesIn(source)).toEqual(['events.ndjson', 'store.db']);
      expect(readFileSync(path).equals(bytes)).toBe(true);
    }, 60_000);
  });
});

describe('all or nothing, whatever the size', () => {
  it('a bad line after 60,000 good ones (past any chunk): nothing appended, the line named', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 2, 'big.db');
    const before = dumpSqlite(path);
    const file = ndjsonFile([...heartbeats(60_000, 'b'), { type: 'AgentHeartbeat', data: { agentId: 'b1' }, metadata: { at: at(1), note: 'nul\u0000' } }], dir);
    const r = await cli(['append', '--store', `sqlite:${path}`, file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('rollcall: line 60001: metadata.note: contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it\n');
    expect(dumpSqlite(path)).toBe(before);
  }, 60_000);

  it('two appends at once each print their own positions only', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 1);
    const a = ndjsonFile(heartbeats(20_000, 'x'), join(dir, mkdir(dir, 'a')));
    const b = ndjsonFile(heartbeats(20_000, 'y'), join(dir, mkdir(dir, 'b')));
    const [ra, rb] = await Promise.all([a, b].map((f) => runBuilt(['append', '--store', `sqlite:${path}`, f])));
    const db = new Database(path, { readonly: true });
    for (const [r, agent] of [[ra!, 'x'], [rb!, 'y']] as const) {
      expect(r.code).toBe(0);
      const [, first, last] = /positions (\d+)–(\d+)/.exec(r.stdout)!;
      expect(Number(last) - Number(first) + 1).toBe(20_000);
      const streams = db.prepare('SELECT DISTINCT substr(stream, 7, 1) FROM events WHERE position BETWEEN ? AND ?').pluck().all(first, last);
      expect(streams).toEqual([agent]);
    }
    db.close();
  }, 60_000);
});

const mkdir = (dir: string, name: string) => {
  const p = join(dir, name);
  if (!existsSync(p)) mkdirSync(p);
  return name;
};
