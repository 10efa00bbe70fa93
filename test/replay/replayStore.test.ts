import { describe, expect, it } from 'vitest';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import type { LifecycleState } from '../../src/projections/lifecycleState.js';
import { lifecycleToJson } from '../../src/projections/lifecycleSnapshot.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { packFloat64, packInt32, packStrings, unpackFloat64, unpackInt32 } from '../../src/projections/packedColumns.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { encodeSnapshot, eventIdAt } from '../../src/replay/snapshots.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { agent, ended, ev, pool, spawned } from '../support/lifecycle.js';
import { tempDir } from '../support/cli.js';
import { join } from 'node:path';

const fleet = (n: number) => {
  const events = [pool('p1', 5)];
  for (let i = 0; i < n; i++) events.push(agent(`a${i}`), spawned(`a${i}`, `s${i}`, { poolId: 'p1', pid: 100 + i }));
  for (let i = 0; i < n; i += 2) events.push(ended(`a${i}`, `s${i}`));
  return events;
};

describe('replay from a store with snapshots', () => {
  it('saves a snapshot, then starts from it and applies only the tail, with the same result as a full replay', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet(600));
    const first = await replayStore(store, lifecycleProjection, { snapshotEvery: 100 });
    expect(first.snapshotPosition).toBeNull();
    expect(first.snapshotSaved).toBe(true);

    await store.appendBatch([ended('a1', 's1'), ev('AgentHeartbeat', { agentId: 'a3' })]);
    const second = await replayStore(store, lifecycleProjection, { snapshotEvery: 100 });
    expect(second.snapshotPosition).toBe(first.state.position);
    expect(second.processed).toBe(2);
    const full = await replayStore(store, lifecycleProjection, { noSnapshot: true });
    expect(full.processed).toBe(1503);
    expect(lifecycleView(second.state)).toEqual(lifecycleView(full.state));
  });

  it('ignores a damaged snapshot and one from another projection version (full replay), never trusting them', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet(600));
    await replayStore(store, lifecycleProjection, { snapshotEvery: 1 });
    const saved = (await store.snapshots!.load(lifecycleProjection.name))!;

    await store.snapshots!.save({ ...saved, payload: saved.payload.replace('"s1"', '"s9"') });
    let r = await replayStore(store, lifecycleProjection, { snapshotEvery: 1_000_000 });
    expect(r.snapshotPosition).toBeNull();
    expect(r.snapshotSkipped).toBe('snapshot checksum mismatch');

    await store.snapshots!.save({ ...saved, version: saved.version + 1 });
    r = await replayStore(store, lifecycleProjection, { snapshotEvery: 1_000_000 });
    expect(r.snapshotSkipped).toBe(`snapshot is for lifecycle v${saved.version + 1}`);
    expect(r.processed).toBe(1501);
  });

  it('ignores a snapshot of v9 (lease expiries as an ISO string column) and rebuilds the leases from the log, never misreading it', async () => {
    const store = openMemoryStore();
    await store.appendBatch([...fleet(4), agent('L'), spawned('L', 'sL', { poolId: 'p1', pid: 9, leaseMs: 60_000 }), ev('AgentHeartbeat', { agentId: 'L' })]);
    const full = await replayStore(store, lifecycleProjection, { snapshotEvery: 1 });
    const leased = full.state.sessions.get('sL')!;
    expect(leased.leaseExpiresMs).not.toBeNull();
    const saved = (await store.snapshots!.load(lifecycleProjection.name))!;
    // What v9 wrote for the same state: a tenth string ref per session (leaseExpiresAt), three numbers.
    const v9Columns = (state: LifecycleState) => {
      const json = lifecycleToJson(state);
      const strings = typeof json.strings === 'string' ? json.strings.slice(1).split('\x7f') : [...json.strings];
      const refs10 = unpackInt32(json.sessions.refs, 9 * json.sessions.count);
      const numbers4 = unpackFloat64(json.sessions.numbers, 4 * json.sessions.count);
      const refs = new Int32Array(10 * json.sessions.count);
      const numbers = new Float64Array(3 * json.sessions.count);
      for (let i = 0; i < json.sessions.count; i++) {
        refs.set(refs10.subarray(9 * i, 9 * i + 9), 10 * i);
        const ms = numbers4[4 * i + 3]!;
        refs[10 * i + 9] = Number.isNaN(ms) ? -1 : strings.push(new Date(ms).toISOString()) - 1;
        numbers.set(numbers4.subarray(4 * i, 4 * i + 3), 3 * i);
      }
      return { ...json, strings: packStrings(strings), sessions: { count: json.sessions.count, refs: packInt32(refs), numbers: packFloat64(numbers) } };
    };
    const v9 = { ...lifecycleProjection, version: 9, toJSON: v9Columns };
    const old = encodeSnapshot(v9, saved.position, (await eventIdAt(store, saved.position))!, full.state);
    // Read as v10 its columns would not even have the right widths.
    expect(() => lifecycleProjection.fromJSON!((JSON.parse(old.payload.slice(old.payload.indexOf('\n') + 1)) as { state: unknown }).state)).toThrow(/packed column/);
    await store.snapshots!.save(old);

    const r = await replayStore(store, lifecycleProjection);
    expect(r.snapshotPosition).toBeNull();
    expect(r.snapshotSkipped).toBe('snapshot is for lifecycle v9');
    expect(r.processed).toBe(full.processed);
    expect(r.state.sessions.get('sL')!.leaseExpiresMs).toBe(leased.leaseExpiresMs);
    const view = lifecycleView(r.state);
    expect(view).toEqual(lifecycleView(full.state));
    expect(view.sessions['sL']!.leaseExpiresAt).toBe(new Date(leased.leaseExpiresMs!).toISOString());
  });

  it('ignores a snapshot of a different log (the event at its position is not the one it was taken after)', async () => {
    const a = openMemoryStore();
    const b = openMemoryStore();
    await a.appendBatch(fleet(600));
    await b.appendBatch(fleet(600));
    await replayStore(a, lifecycleProjection, { snapshotEvery: 1 });
    await b.snapshots!.save((await a.snapshots!.load(lifecycleProjection.name))!);
    const r = await replayStore(b, lifecycleProjection);
    expect(r.snapshotSkipped).toMatch(/does not match the log at position 1501/);
  });

  it('does not use snapshots for --until / --as-of replays', async () => {
    const store = openMemoryStore();
    const events = fleet(10);
    await store.appendBatch(events);
    await replayStore(store, lifecycleProjection, { snapshotEvery: 1 });
    const until = await replayStore(store, lifecycleProjection, { until: 5n });
    expect(until.snapshotPosition).toBeNull();
    expect(until.state.position).toBe(5n);
    const asOf = await replayStore(store, lifecycleProjection, { asOf: events[4]!.metadata.at });
    expect(asOf.state.position).toBe(5n);
  });

  it('works the same on the sqlite store, across processes sharing the file', async () => {
    const path = join(tempDir(), 'log.db');
    const writer = openSqliteStore({ path });
    await writer.appendBatch(fleet(600));
    const r1 = await replayStore(writer, lifecycleProjection, { snapshotEvery: 10 });
    await writer.close();
    const reader = openSqliteStore({ path });
    const r2 = await replayStore(reader, lifecycleProjection);
    expect(r2.snapshotPosition).toBe(1501n);
    expect(r2.processed).toBe(0);
    expect(lifecycleView(r2.state)).toEqual(lifecycleView(r1.state));
    await reader.close();
  });
});
