import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventStore, Snapshot } from '../../src/stores/eventStore.js';
import { openPostgresStore } from '../../src/stores/postgresStore.js';
import { DEFAULT_LADDER } from '../../src/stores/snapshotLadder.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { tempDir } from '../support/cli.js';
import { postgresForTests } from '../support/postgres.js';

const { server, freshDatabase, cleanup } = await postgresForTests('all');

const snap = (position: number, at: string | null = `2026-12-01T00:00:${String(position % 60).padStart(2, '0')}.000Z`): Snapshot => ({
  name: 'lifecycle',
  version: 3,
  position: BigInt(position),
  payload: `payload at ${position}`,
  at,
});

const stores: Array<[string, () => Promise<EventStore> | EventStore]> = [['sqlite', () => openSqliteStore({ path: join(tempDir(), 'rungs.db') })]];
if (server !== null) {
  stores.push([
    'postgres',
    async () => openPostgresStore({ url: await freshDatabase() }),
  ]);
}

describe.each(stores)('%s: a ladder of snapshots', (_kind, open) => {
  it('keeps a rung per save within the ladder policy; load is the newest, loadAt any rung, each with its time', async () => {
    const store = await open();
    cleanup(() => store.close());
    const snapshots = store.snapshots!;
    expect(await snapshots.load('lifecycle')).toBeNull();
    for (let p = 10_000; p <= 400_000; p += 10_000) await snapshots.save(snap(p));
    const rungs = await snapshots.rungs!('lifecycle');
    expect(rungs.length).toBeGreaterThan(8);
    expect(rungs.length).toBeLessThanOrEqual(DEFAULT_LADDER.maxRungs);
    // Oldest first, dense near the head.
    expect(rungs.map((r) => r.position)).toEqual([...rungs.map((r) => r.position)].sort((a, b) => (a < b ? -1 : 1)));
    expect(rungs.slice(-3).map((r) => r.position)).toEqual([380_000n, 390_000n, 400_000n]);
    expect(rungs[0]!.position).toBe(10_000n);
    expect((await snapshots.load('lifecycle'))!).toEqual(snap(400_000));
    const middle = rungs[Math.floor(rungs.length / 2)]!;
    expect(await snapshots.loadAt!('lifecycle', middle.position)).toEqual(snap(Number(middle.position)));
    expect(middle.at).toBe(snap(Number(middle.position)).at);
    expect(await snapshots.loadAt!('lifecycle', 15_000n)).toBeNull();
    // Another projection's ladder is its own.
    await snapshots.save({ ...snap(5), name: 'lifecycle-retention-1' });
    expect((await snapshots.rungs!('lifecycle-retention-1')).map((r) => r.position)).toEqual([5n]);
    expect((await snapshots.rungs!('lifecycle')).length).toBe(rungs.length);
  });

  it('a snapshot without a time is a rung that time travel by time will not pick (its at is null)', async () => {
    const store = await open();
    cleanup(() => store.close());
    await store.snapshots!.save(snap(7, null));
    expect(await store.snapshots!.rungs!('lifecycle')).toEqual([{ position: 7n, at: null }]);
    expect((await store.snapshots!.load('lifecycle'))!.position).toBe(7n);
  });
});
