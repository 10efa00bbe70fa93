import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/stores/eventStore.js';
import { createRelationalSnapshots } from '../../src/stores/relational/snapshots.js';
import { createSqliteDb } from '../../src/stores/sqlite/db.js';
import { openDatabase } from '../../src/stores/sqlite/open.js';
import { tempDir } from '../support/cli.js';

// An embedded store keeps a snapshot's payload in parts, each written in a short transaction of its
// own, and publishes the rung last (relational/snapshots.ts): the write lock is never held for a
// whole payload. A store written before parts existed (whole payloads in rung rows) still loads.

const opened: Database.Database[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

const open = () => {
  const path = join(tempDir(), 'parts.db');
  const db = openDatabase(path, `sqlite:${path}`, { busyTimeoutMs: 1000, create: true, verify: false });
  opened.push(db);
  const sql = createSqliteDb(db, `sqlite:${path}`, () => false, 1000);
  return { db, sql, path };
};

const snap = (position: number, payload: string): Snapshot => ({ name: 'lifecycle', version: 9, position: BigInt(position), payload, at: '2026-12-01T00:00:00.000Z' });
const payloadOf = (position: number, chars: number) => `${position}:`.padEnd(chars, String.fromCharCode(97 + (position % 26)));
const names = (db: Database.Database, infix: string) =>
  db.prepare(`SELECT name FROM snapshots WHERE instr(name, ?) > 0 ORDER BY name`).pluck().all(infix) as string[];

describe('sqlite: snapshots saved in parts', () => {
  it('a payload of several parts loads whole; the rung is the last row written; pruned rungs leave no parts', async () => {
    const { db, sql } = open();
    const snapshots = createRelationalSnapshots(sql, { partChars: 1000 });
    await snapshots.save(snap(10, payloadOf(10, 2500)));
    expect(names(db, '@part@')).toHaveLength(3);
    expect((await snapshots.load('lifecycle'))?.payload).toBe(payloadOf(10, 2500));
    // The rung row holds no payload of its own, only what names its parts.
    const rung = db.prepare(`SELECT payload FROM snapshots WHERE instr(name, '@ladder@') > 0`).pluck().get() as string;
    expect(rung.length).toBeLessThan(200);
    for (let p = 20; p <= 400; p += 10) await snapshots.save(snap(p, payloadOf(p, 1500 + p)));
    const rungs = await snapshots.rungs('lifecycle');
    expect(rungs.length).toBeLessThan(40);
    const chars = (p: number) => (p === 10 ? 2500 : 1500 + p);
    // Every part left belongs to a kept rung.
    expect(rungs.map((r) => r.position)).toContain(400n);
    expect(names(db, '@part@')).toHaveLength(rungs.reduce((n, r) => n + Math.ceil(chars(Number(r.position)) / 1000), 0));
    for (const r of rungs) expect((await snapshots.loadAt('lifecycle', r.position))?.payload).toBe(payloadOf(Number(r.position), chars(Number(r.position))));
  });

  it('a store written before parts (whole payloads in the rung rows) loads as before, and its rungs are pruned as before', async () => {
    const { sql } = open();
    const whole = createRelationalSnapshots(sql);
    await whole.save(snap(10, payloadOf(10, 3000)));
    const parts = createRelationalSnapshots(sql, { partChars: 1000 });
    expect((await parts.load('lifecycle'))?.payload).toBe(payloadOf(10, 3000));
    await parts.save(snap(20, payloadOf(20, 3000)));
    expect((await parts.loadAt('lifecycle', 10n))?.payload).toBe(payloadOf(10, 3000));
    expect((await parts.load('lifecycle'))?.payload).toBe(payloadOf(20, 3000));
  });

  it('a rung whose parts are not all there loads as absent; parts no rung names are removed once old, kept while young (another save staging)', async () => {
    const { db, sql } = open();
    const snapshots = createRelationalSnapshots(sql, { partChars: 1000 });
    await snapshots.save(snap(10, payloadOf(10, 2500)));
    db.prepare(`DELETE FROM snapshots WHERE name = ?`).run(names(db, '@part@')[1]);
    expect(await snapshots.load('lifecycle')).toBeNull();
    const orphan = (token: string) =>
      db.prepare(`INSERT INTO snapshots (name, version, position, payload, saved_at) VALUES (?, 9, 5, 'x', ?)`).run(`lifecycle@part@${'5'.padStart(20, '0')}@${token}@000000`, token);
    orphan('2000-01-01T00:00:00.000Z#aaaaaa');
    const young = `${new Date().toISOString()}#bbbbbb`;
    orphan(young);
    await snapshots.save(snap(20, payloadOf(20, 500)));
    const left = names(db, '@part@');
    expect(left.some((n) => n.includes('#aaaaaa'))).toBe(false);
    expect(left.some((n) => n.includes('#bbbbbb'))).toBe(true);
    expect((await snapshots.load('lifecycle'))?.payload).toBe(payloadOf(20, 500));
  });
});
