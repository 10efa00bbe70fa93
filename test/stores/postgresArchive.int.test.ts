import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { openPostgresStore } from '../../src/stores/postgresStore.js';
import { cli, tempDir } from '../support/cli.js';
import { postgresForTests } from '../support/postgres.js';
import { collect } from './conformance.js';

/*
 * The archive procedure of docs/scaling.md, run exactly as written there: the SQL blocks marked
 * `-- archive: <step>` are read from the document and executed with :cutoff substituted.
 */

const doc = readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
const steps = new Map([...doc.matchAll(/```sql\n(-- archive: (\w+)[^\n]*\n[\s\S]*?)```/g)].map((m) => [m[2]!, m[1]!]));
const step = (name: string, cutoff: number): string => {
  const sql = steps.get(name);
  if (!sql) throw new Error(`docs/scaling.md has no "-- archive: ${name}" block`);
  return sql.replace(/:cutoff\b/g, String(cutoff));
};

const { server, freshDatabase, cleanup } = await postgresForTests('all');

describe.skipIf(server === null)('archiving old PostgreSQL events (docs/scaling.md)', () => {
  it('export and strip below the snapshot: the snapshot and every later replay stay valid, ids stay unique, a full replay fails loudly', async () => {
    expect([...steps.keys()]).toEqual(['check', 'export', 'strip']);
    const db = { url: await freshDatabase() };
    const events = [...generateHistory({ agents: 40, events: 3500, seed: 'archive' })] as unknown as LifecycleEvent[];
    const head = events.slice(0, 3000);
    const tail = events.slice(3000);
    const store = await openPostgresStore({ url: db.url });
    cleanup(() => store.close());
    await store.appendBatch(head);
    const cutoff = 2000;

    const expectedAtCutoff = await cli(['replay', '--store', db.url, '--json', '--until', String(cutoff), '--no-snapshot']);
    expect(expectedAtCutoff.code).toBe(0);
    const saved = await cli(['replay', '--store', db.url, '--json']); // saves the snapshot
    expect(saved.code).toBe(0);

    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    cleanup(() => admin.end());
    const check = await admin.query<{ name: string; position: string; covers_cutoff: boolean }>(step('check', cutoff));
    expect(check.rows.length).toBeGreaterThan(0);
    expect(check.rows.every((r) => r.covers_cutoff)).toBe(true);

    // The export is an NDJSON log of its own: replaying it gives the state at the cutoff.
    const exported = await admin.query<{ json_build_object: string }>(step('export', cutoff));
    expect(exported.rows).toHaveLength(cutoff);
    const dir = tempDir();
    const archive = join(dir, `rollcall-archive-1-${cutoff}.ndjson`);
    writeFileSync(archive, exported.rows.map((r) => r.json_build_object).join('\n') + '\n');
    const fromArchive = await cli(['replay', '--input', archive, '--json']);
    expect(fromArchive.code).toBe(0);
    expect(JSON.parse(fromArchive.stdout)).toEqual(JSON.parse(expectedAtCutoff.stdout));

    const bytesBefore = (await admin.query<{ b: string }>(`SELECT sum(pg_column_size(data) + pg_column_size(metadata)) AS b FROM rollcall_events WHERE position <= ${cutoff}`)).rows[0]!.b;
    const strip = await admin.query(step('strip', cutoff));
    expect(strip.rowCount).toBe(cutoff);
    const bytesAfter = (await admin.query<{ b: string }>(`SELECT sum(pg_column_size(data) + pg_column_size(metadata)) AS b FROM rollcall_events WHERE position <= ${cutoff}`)).rows[0]!.b;
    expect(Number(bytesAfter)).toBeLessThan(Number(bytesBefore) / 5);
    // Idempotent, and refused above the snapshot.
    expect((await admin.query(step('strip', cutoff))).rowCount).toBe(0);
    expect((await admin.query(step('strip', 3000 + 1))).rowCount).toBe(0);

    // New events keep coming; a replay from the snapshot equals a full replay of the same log in
    // a store that was never archived.
    await store.appendBatch(tail);
    const control = { url: await freshDatabase() };
    const controlStore = await openPostgresStore({ url: control.url });
    await controlStore.appendBatch(head);
    await controlStore.appendBatch(tail);
    await controlStore.close();
    const expected = await cli(['replay', '--store', control.url, '--json', '--no-snapshot']);
    expect(expected.code).toBe(0);
    const afterArchive = await cli(['replay', '--store', db.url, '--json']);
    expect(afterArchive.code).toBe(0);
    expect(JSON.parse(afterArchive.stdout)).toEqual(JSON.parse(expected.stdout));

    // Identity kept: an archived event redelivered is still a duplicate, and revisions continue.
    const again = await store.appendBatch([events[10]!]);
    expect(again).toMatchObject({ appended: 0, duplicates: 1 });
    const stream = (await collect(store.readAll({ limit: 1 })))[0]!.stream;
    const revisions = (await collect(store.readStream(stream))).map((e) => e.revision);
    expect(revisions).toEqual(revisions.map((_, i) => BigInt(i)));

    // A replay that would need the archived payloads stops at once, naming the position.
    const full = await cli(['replay', '--store', db.url, '--json', '--no-snapshot']);
    expect(full.code).toBe(2);
    expect(full.stderr).toMatch(/position 1\b/);
  }, 120_000);
});
