import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isRollcallError } from '../../src/errors.js';
import { createSnapshotter } from '../../src/live/snapshotter.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import type { StoredEvent } from '../../src/stores/eventStore.js';
import { openSnapshotWriter } from '../../src/stores/snapshotWriter.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { cli, ndjsonFile, tempDir } from '../support/cli.js';
import { heartbeats } from '../support/events.js';
import { startServe, type ServeProcess } from '../support/serveProcess.js';
import { waitFor } from '../support/waitFor.js';

// The store is the file at the path. Deleted or replaced (a backup restored with `mv`) under a
// running process, it gets no write — not into the file the process had open, which is gone, and
// not into a WAL beside the new one — until the process has reopened what is at the path.

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const integrity = (path: string) => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
};
const rows = (path: string) => {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
};
const heartbeat = (agentId: string) => ({ id: randomUUID(), type: 'AgentHeartbeat', data: { agentId }, metadata: { at: '2026-11-20T10:00:00.000Z' } });
const post = (s: ServeProcess, body: unknown) =>
  fetch(`${s.url}v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** A store of `n` heartbeats at dir/name, made by the CLI (closed cleanly: no WAL left beside it). */
const storeWith = async (dir: string, name: string, n: number) => {
  const path = join(dir, name);
  const r = await cli(['append', '--store', `sqlite:${path}`, ndjsonFile(heartbeats(n, { prefix: name }), dir)]);
  expect(r.code).toBe(0);
  return path;
};

let serve: ServeProcess | null = null;
afterEach(async () => {
  await serve?.stop();
  serve = null;
});

describe('a store file deleted or replaced under the library', () => {
  it('deleted: the append is refused (store-unavailable), nothing is created at the path, and a store put back there is reopened', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 'live.db', 3);
    const store = openSqliteStore({ path, create: false });
    try {
      expect((await store.appendBatch(heartbeats(2))).lastPosition).toBe(5n);
      for (const f of readdirSync(dir)) if (f.startsWith('live.db')) rmSync(join(dir, f));
      const refused = await store.appendBatch(heartbeats(1)).catch((e: unknown) => e);
      expect(isRollcallError(refused) && refused.code).toBe('store-unavailable');
      expect((refused as Error).message).toContain('was deleted under this process; nothing written');
      // Refused again while nothing is at the path, and still nothing created there.
      await expect(store.appendBatch(heartbeats(1))).rejects.toMatchObject({ code: 'store-unavailable' });
      expect(readdirSync(dir).filter((f) => f.startsWith('live.db'))).toEqual([]);
      expect(store.incarnation()).toBe(0);

      await storeWith(dir, 'live.db', 2);
      const result = await store.appendBatch(heartbeats(1));
      expect(result.lastPosition).toBe(3n);
      expect(store.incarnation()).toBe(1);
    } finally {
      await store.close();
    }
    expect(integrity(path)).toBe('ok');
    expect(rows(path)).toBe(3);
  });

  it('replaced: the write that finds it is refused and the backup is left byte-identical; the next one goes into the backup, which stays sound', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 'live.db', 10);
    const backup = await storeWith(dir, 'backup.db', 4);
    const store = openSqliteStore({ path, create: false });
    try {
      await store.appendBatch(heartbeats(50)); // frames in this connection's WAL, beside the path
      renameSync(backup, path);
      const restored = sha(path);
      await expect(store.appendBatch(heartbeats(1))).rejects.toThrow(/was replaced under this process; nothing written/);
      expect(sha(path)).toBe(restored);
      expect(integrity(path)).toBe('ok');
      expect(rows(path)).toBe(4);
      // The old connection's WAL frames were never applied to the backup: the next write reopens it.
      expect((await store.appendBatch(heartbeats(1))).lastPosition).toBe(5n);
      expect(await store.head()).toBe(5n);
    } finally {
      await store.close();
    }
    expect(integrity(path)).toBe('ok');
    expect(rows(path)).toBe(5);
  });

  it('a follower sees the loss as store-unavailable instead of reading a file no longer at the path', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 'live.db', 3);
    const store = openSqliteStore({ path, create: false });
    const controller = new AbortController();
    try {
      const pages = store.subscribePages({ after: 0n, signal: controller.signal })[Symbol.asyncIterator]();
      expect((await pages.next()).value).toHaveLength(3);
      for (const f of readdirSync(dir)) if (f.startsWith('live.db')) rmSync(join(dir, f));
      await expect(pages.next()).rejects.toMatchObject({ code: 'store-unavailable' });
    } finally {
      controller.abort();
      await store.close();
    }
  });
});

describe('a store file replaced under the live snapshotter (its worker saves through a connection of its own)', () => {
  const snapshotRows = (path: string) => {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT count(*) FROM snapshots').pluck().get() as number;
    } finally {
      db.close();
    }
  };
  /** The snapshotter over `path` from its head, fed the log's events again as the follower would: `replace` runs before the first is due. */
  const snapshotterRun = async (path: string, replace: () => void) => {
    const store = openSqliteStore({ path, create: false });
    const events: StoredEvent[] = [];
    for await (const e of store.readAll()) events.push(e);
    const snapshotter = createSnapshotter({ store, projection: lifecycleProjection, skipInvalid: false, everyEvents: 40, everyMs: 60_000, fillLadder: false });
    snapshotter.start(null, store.incarnation());
    replace();
    for (const e of events) snapshotter.applied(e);
    await waitFor('the snapshot saved or refused', () => snapshotter.stats.saved + snapshotter.stats.failures > 0, { describe: () => snapshotter.stats });
    await snapshotter.close();
    await store.close();
    return snapshotter.stats;
  };

  it('the writer opened for the file the store had refuses the file now at the path (store-unavailable), and writes nothing into it', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 'live.db', 3);
    const backup = await storeWith(dir, 'backup.db', 2);
    const opened = statSync(path);
    renameSync(backup, path);
    const before = sha(path);
    const writer = await openSnapshotWriter({ url: `sqlite:${path}`, sqlite: { path, busyTimeoutMs: 1000, expected: { dev: opened.dev, ino: opened.ino }, incarnation: 0 } });
    const refused = await writer.save({ name: 'lifecycle', version: 9, position: 3n, payload: 'x'.repeat(3 << 20), at: null }).catch((e: unknown) => e);
    await writer.close();
    expect(isRollcallError(refused) && refused.code).toBe('store-unavailable');
    expect((refused as Error).message).toMatch(/replaced/);
    expect(snapshotRows(path)).toBe(0);
    expect(sha(path)).toBe(before);
  });

  it('a snapshot of the old file never lands in the new one; left alone, the same run saves one', async () => {
    const dir = tempDir();
    const kept = await storeWith(dir, 'kept.db', 100);
    const control = await snapshotterRun(kept, () => undefined);
    expect(control.saved).toBe(1);
    expect(snapshotRows(kept)).toBeGreaterThan(0);

    const path = await storeWith(dir, 'live.db', 100);
    const backup = await storeWith(dir, 'backup.db', 2);
    const stats = await snapshotterRun(path, () => renameSync(backup, path));
    expect(stats.saved).toBe(0);
    expect(stats.failures).toBeGreaterThan(0);
    expect(snapshotRows(path)).toBe(0);
    expect(integrity(path)).toBe('ok');
  });
});

describe('a store file deleted or replaced under rollcall serve', () => {
  it('deleted: POST answers 503 store-unavailable, readyz says so, and after a stop no event exists anywhere', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 'live.db', 5);
    serve = await startServe(`sqlite:${path}`);
    expect((await post(serve, heartbeat('x'))).status).toBe(201);
    for (const f of readdirSync(dir)) if (f.startsWith('live.db')) rmSync(join(dir, f));
    const res = await post(serve, heartbeat('y'));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'store-unavailable' });
    const ready = await waitFor('readyz to report the store unavailable', async () => {
      const r = await fetch(`${serve!.url}readyz`);
      const body = (await r.json()) as { status: string };
      return r.status === 503 && body.status === 'store-unavailable' ? body : null;
    });
    expect(ready.status).toBe('store-unavailable');
    expect(await serve.stop()).toBe(0);
    serve = null;
    expect(readdirSync(dir).filter((f) => f.startsWith('live.db'))).toEqual([]);
  });

  it('replaced by a backup: no POST lands in the file that was replaced; serve reopens the backup, catches up on it, and every 201 is in it, sound', async () => {
    const dir = tempDir();
    const path = await storeWith(dir, 'live.db', 20);
    const backup = await storeWith(dir, 'backup.db', 7);
    serve = await startServe(`sqlite:${path}`);
    for (let i = 0; i < 5; i++) expect((await post(serve, [heartbeat(`p${i}`), heartbeat(`q${i}`)])).status).toBe(201);
    renameSync(backup, path);
    // Each POST now is refused (the one that finds the file replaced, and any before the reopen) or
    // lands in the backup, right after its last event; never in the file that was replaced (31…).
    let landed = 0;
    for (let i = 0; i < 3; i++) {
      const res = await post(serve, heartbeat(`r${i}`));
      const body = (await res.json()) as { error?: string; first?: string };
      if (res.status === 503) expect(body.error).toBe('store-unavailable');
      else {
        expect(res.status).toBe(201);
        expect(body.first).toBe(String(8 + landed++));
      }
    }
    const s = serve;
    const head = String(7 + landed);
    await waitFor('serve to be ready on the restored store at its head', async () => {
      const r = await fetch(`${s.url}readyz`);
      const body = (await r.json()) as { status: string; position: string | null };
      return r.status === 200 && body.position === head;
    });
    expect(((await (await fetch(`${s.url}v1/projection`)).json()) as { position: string }).position).toBe(head);
    const ok = await post(s, heartbeat('after'));
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ first: String(8 + landed), appended: 1 });
    expect(await s.stop()).toBe(0);
    serve = null;
    expect(integrity(path)).toBe('ok');
    expect(rows(path)).toBe(8 + landed);
    const replay = await cli(['replay', '--json', '--no-snapshot', '--store', `sqlite:${path}`]);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout).position).toBe(String(8 + landed));
    // Two serve processes and a replay: the default 5 s ran out under load (a hang is still caught).
  }, 30_000);
});
