import { describe, expect, it } from 'vitest';
import { CompactIdSet } from '../../src/events/compactIdSet.js';
import { createLifecycleProjection, lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { decodeSnapshot, encodeSnapshot, eventIdAt, findSnapshot, saveSnapshot } from '../../src/replay/snapshots.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { openNonUniqueStore } from '../support/nonUniqueStore.js';
import { agent, pool, spawned } from '../support/lifecycle.js';

// The one snapshot module that replays, the live runtime and the snapshot worker share.
const history = [pool('p1', 2), agent('a1'), spawned('a1', 's1', { poolId: 'p1', pid: 7 }), agent('a2')];

const storeWithSnapshot = async () => {
  const store = openMemoryStore();
  await store.appendBatch(history);
  const { state } = await replayStore(store, lifecycleProjection, { noSnapshot: true, until: 3n });
  expect(await saveSnapshot(store, lifecycleProjection, 3n, state)).toBe(true);
  return { store, state };
};

describe('snapshots', () => {
  it('decodeSnapshot (no store needed, as in the worker) gives back the state, position and event id it was saved with', async () => {
    const { store, state } = await storeWithSnapshot();
    const decoded = decodeSnapshot(lifecycleProjection, await store.snapshots!.load(lifecycleProjection.name));
    expect(decoded).toMatchObject({ usable: true, position: 3n, eventId: (await eventIdAt(store, 3n))!, seenIds: null });
    expect(lifecycleView((decoded as { state: typeof state }).state)).toEqual(lifecycleView(state));
  });

  it('decodeSnapshot refuses another projection, a damaged payload, a body that contradicts its header, and (needsIds) one without the ids seen', async () => {
    const { store } = await storeWithSnapshot();
    const saved = (await store.snapshots!.load(lifecycleProjection.name))!;
    expect(decodeSnapshot(createLifecycleProjection({ retentionMs: 1000 }), saved)).toEqual({ usable: false, reason: 'snapshot is for lifecycle v10' });
    expect(decodeSnapshot(lifecycleProjection, { ...saved, payload: saved.payload.replace('"a1"', '"a9"') })).toEqual({ usable: false, reason: 'snapshot checksum mismatch' });
    expect(decodeSnapshot(lifecycleProjection, { ...saved, position: 2n })).toEqual({ usable: false, reason: 'snapshot header does not match its body' });
    expect(decodeSnapshot(lifecycleProjection, saved, { needsIds: true })).toEqual({ usable: false, reason: 'snapshot carries no id set, which this store needs' });
    expect(decodeSnapshot(lifecycleProjection, null)).toEqual({ usable: false, reason: 'no snapshot' });
  });

  it('findSnapshot checks the log, honours atMost, and asks a store without unique ids for the ids seen', async () => {
    const { store } = await storeWithSnapshot();
    expect(await findSnapshot(lifecycleProjection, store)).toMatchObject({ usable: true, position: 3n });
    expect(await findSnapshot(lifecycleProjection, store, { atMost: 3n })).toMatchObject({ usable: true, position: 3n });
    expect(await findSnapshot(lifecycleProjection, store, { atMost: 2n })).toEqual({ usable: false, reason: 'snapshot is after position 2' });

    const other = openNonUniqueStore();
    await other.appendBatch(history);
    await other.snapshots!.save((await store.snapshots!.load(lifecycleProjection.name))!);
    expect(await findSnapshot(lifecycleProjection, other)).toMatchObject({ usable: false, reason: 'snapshot carries no id set, which this store needs' });
    const ids = new CompactIdSet();
    ids.add('x');
    const { state } = await replayStore(other, lifecycleProjection, { noSnapshot: true, until: 3n });
    await other.snapshots!.save(encodeSnapshot(lifecycleProjection, 3n, (await eventIdAt(other, 3n))!, state, ids));
    const found = await findSnapshot(lifecycleProjection, other);
    expect(found).toMatchObject({ usable: true, position: 3n });
    expect((found as { seenIds: CompactIdSet }).seenIds.has('x')).toBe(true);
  });

  it('saveSnapshot saves nothing for a position the log does not hold; eventIdAt names the event at a position or none', async () => {
    const { store } = await storeWithSnapshot();
    expect(await eventIdAt(store, 4n)).toBe((await store.readAll({ after: 3n, limit: 1 })[Symbol.asyncIterator]().next()).value!.id);
    expect(await eventIdAt(store, 5n)).toBeNull();
    expect(await saveSnapshot(store, lifecycleProjection, 9n, (await replayStore(store, lifecycleProjection, { noSnapshot: true })).state)).toBe(false);
    expect((await store.snapshots!.load(lifecycleProjection.name))!.position).toBe(3n);
  });
});
