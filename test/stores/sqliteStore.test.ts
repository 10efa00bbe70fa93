import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore, sqliteSchemaVersion } from '../../src/stores/sqliteStore.js';
import { heartbeats } from '../support/events.js';
import { waitFor } from '../support/waitFor.js';
import { collect, describeEventStoreConformance } from './conformance.js';
import { tempDbs } from '../support/tempDb.js';

const tempDb = tempDbs('rollcall-sqlite-');

describeEventStoreConformance(
  'sqlite',
  async () => {
    const path = tempDb();
    const store = openSqliteStore({ path, pollIntervalMs: 20 });
    return {
      store,
      cleanup: () => store.close(),
      // Another process drops the tables: every statement now fails with SQLITE_ERROR.
      async breakServer() {
        const raw = new Database(path);
        raw.exec('DROP TABLE events; DROP TABLE snapshots;');
        raw.close();
      },
    };
  },
  { gaplessPositions: true },
);

// What serve opens: groups committed by a worker thread's connection, everything else on this one.
describeEventStoreConformance(
  'sqlite with a commit thread',
  async () => {
    const path = tempDb();
    const store = openSqliteStore({ path, pollIntervalMs: 20, commitThread: true });
    return {
      store,
      cleanup: () => store.close(),
      async breakServer() {
        const raw = new Database(path);
        raw.exec('DROP TABLE events; DROP TABLE snapshots;');
        raw.close();
      },
    };
  },
  { gaplessPositions: true },
);

describe('sqlite store', () => {
  it('subscribePages hands over what was committed since the last page as pages of at most pageSize, in order, each event once', async () => {
    const store = openSqliteStore({ path: tempDb(), pageSize: 40 });
    await store.appendBatch(heartbeats(100));
    const controller = new AbortController();
    const pages: bigint[][] = [];
    const reading = (async () => {
      for await (const page of store.subscribePages({ after: 10n, signal: controller.signal })) pages.push(page.map((e) => e.position));
    })();
    await waitFor('the 90 stored events read', () => pages.flat().length >= 90, { describe: () => pages });
    await store.appendBatch(heartbeats(3));
    await waitFor('the 3 appended read', () => pages.flat().length >= 93, { describe: () => pages });
    controller.abort();
    await reading;
    expect(pages.map((p) => p.length)).toEqual([40, 40, 10, 3]);
    expect(pages.flat()).toEqual(Array.from({ length: 93 }, (_, i) => BigInt(i + 11)));
    await store.close();
  });

  it('readPages hands over pages of at most pageSize after a position, stopping exactly at a limit', async () => {
    const store = openSqliteStore({ path: tempDb(), pageSize: 40 });
    await store.appendBatch(heartbeats(100));
    const lengths = async (options: { after?: bigint; limit?: number }) => (await collect(store.readPages(options))).map((p) => p.length);
    expect(await lengths({ after: 10n })).toEqual([40, 40, 10]);
    expect(await lengths({ after: 10n, limit: 80 })).toEqual([40, 40]);
    expect(await lengths({ after: 10n, limit: 85 })).toEqual([40, 40, 5]);
    expect(await lengths({ after: 100n })).toEqual([]);
    expect((await collect(store.readPages({ after: 10n, limit: 85 }))).flat().map((e) => e.position)).toEqual(Array.from({ length: 85 }, (_, i) => BigInt(i + 11)));
    await store.close();
  });

  it('yields a row whose JSON is damaged with `corrupt` set, and keeps reading', async () => {
    const path = tempDb();
    const store = openSqliteStore({ path });
    const events = heartbeats(4);
    await store.appendBatch(events);
    const raw = new Database(path);
    raw.prepare(`UPDATE events SET data = '{"agentId": "a1"' WHERE position = 2`).run();
    raw.prepare(`UPDATE events SET metadata = 'not json' WHERE position = 3`).run();
    raw.close();
    const read = await collect(store.readAll());
    expect(read.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(read[0]!.corrupt).toBeUndefined();
    expect(read[1]).toMatchObject({ position: 2n, data: null, corrupt: expect.stringMatching(/^data is not valid JSON/) });
    expect(read[1]!.metadata).toEqual(events[1]!.metadata);
    expect(read[2]).toMatchObject({ metadata: null, corrupt: expect.stringMatching(/^metadata is not valid JSON .*"not json"/) });
    expect(read[3]!.corrupt).toBeUndefined();
    const ctl = new AbortController();
    const live: (string | undefined)[] = [];
    for await (const e of store.subscribe({ signal: ctl.signal })) {
      live.push(e.corrupt);
      if (live.length === 4) ctl.abort();
    }
    expect(live.map(Boolean)).toEqual([false, true, true, false]);
    await store.close();
  });

  it('uses WAL and records its schema version once, however often it is opened', async () => {
    const path = tempDb();
    await openSqliteStore({ path }).close();
    await openSqliteStore({ path }).close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.prepare('SELECT version FROM rollcall_schema').pluck().all()).toEqual([sqliteSchemaVersion]);
    raw.close();
  });

  it('refuses a database whose schema is newer than it understands', async () => {
    const path = tempDb();
    await openSqliteStore({ path }).close();
    const raw = new Database(path);
    raw.prepare(`INSERT INTO rollcall_schema (version, applied_at) VALUES (?, 'later')`).run(sqliteSchemaVersion + 1);
    raw.close();
    expect(() => openSqliteStore({ path })).toThrow(
      expect.objectContaining({ code: 'store-unavailable', message: expect.stringMatching(/newer than this rollcall/) }),
    );
  });

  it('a subscription sees what another connection to the same file appends', async () => {
    const path = tempDb();
    const reader = openSqliteStore({ path, pollIntervalMs: 10 });
    const writer = openSqliteStore({ path });
    const events = heartbeats(5);
    const ctl = new AbortController();
    const seen: bigint[] = [];
    const following = (async () => {
      for await (const e of reader.subscribe({ signal: ctl.signal })) {
        seen.push(e.position);
        if (seen.length === events.length) ctl.abort();
      }
    })();
    for (const e of events) await writer.appendBatch([e]);
    const timer = setTimeout(() => ctl.abort(), 10_000);
    await following;
    clearTimeout(timer);
    expect(seen).toEqual([1n, 2n, 3n, 4n, 5n]);
    await reader.close();
    await writer.close();
  });

  it('ends a subscription quietly when the store is closed', async () => {
    const store = openSqliteStore({ path: tempDb(), pollIntervalMs: 10 });
    // Closed once the subscription is running (its first step has started), whatever it is doing then.
    const live = store.subscribe()[Symbol.asyncIterator]();
    const next = live.next();
    await store.close();
    expect((await next).done).toBe(true);
  });

  it('works on an in-memory database', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    await store.appendBatch(heartbeats(3));
    expect(await store.head()).toBe(3n);
    await store.close();
  });
});

describe('sqlite store waiting for another process', () => {
  it('waits for the write lock without freezing the event loop, then appends', async () => {
    const path = tempDb();
    const store = openSqliteStore({ path });
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run(); // another process holds the write lock
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    let settled = false;
    const append = store.appendBatch(heartbeats(2)).finally(() => (settled = true));
    // Timers keep running while the append waits (a frozen loop would tick only once it gave up).
    await waitFor('timers to tick while the append waits', () => ticks > 5);
    expect(ticks).toBeGreaterThan(5);
    expect(settled).toBe(false);
    other.prepare('COMMIT').run();
    expect(await append).toMatchObject({ appended: 2, lastPosition: 2n });
    clearInterval(ticker);
    other.close();
    await store.close();
  });

  it('gives up after its busy timeout with store-unavailable', async () => {
    const path = tempDb();
    const store = openSqliteStore({ path, busyTimeoutMs: 200 });
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    const started = Date.now();
    await expect(store.appendBatch(heartbeats(1))).rejects.toMatchObject({
      code: 'store-unavailable',
      message: expect.stringMatching(/busy timeout/),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    other.prepare('ROLLBACK').run();
    other.close();
    expect(await store.appendBatch(heartbeats(1))).toMatchObject({ appended: 1 });
    await store.close();
  });
});
