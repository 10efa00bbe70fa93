// The fleet `npm start` seeds ends when it is seeded, so the dashboard does not open on sessions
// stuck for weeks and the first event a user appends does not push the history out of retention.
import { describe, expect, it } from 'vitest';
import { seededLine, seedFleet } from '../../src/cli/seedFleet.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';

const timesOf = async (store: ReturnType<typeof openMemoryStore>): Promise<number[]> => {
  const out: number[] = [];
  for await (const e of store.readAll()) out.push(Date.parse((e.metadata as { at: string }).at));
  return out;
};

describe('seedFleet', () => {
  it('dates the history so that its last event happens exactly at the end asked for', async () => {
    const store = openMemoryStore();
    const endMs = Date.parse('2031-05-06T07:08:09.010Z');
    const seeded = await seedFleet(store, { agents: 30, events: 2000, seed: 1, endMs });
    const times = await timesOf(store);
    expect(Math.max(...times)).toBe(endMs);
    expect(seeded.endAt).toBe('2031-05-06T07:08:09.010Z');
    // The generator redelivers some ids: the count said is what the store holds, not the lines made.
    expect(seeded.generated).toBe(2000);
    expect(seeded.appended).toBe(times.length);
    expect(seeded.appended).toBeLessThan(2000);
    expect(seededLine(seeded)).toContain(`appended ${times.length.toLocaleString('en-US')} events`);
  });

  it('ends now by default, and an event appended now evicts none of it', async () => {
    const store = openMemoryStore();
    const before = Date.now();
    await seedFleet(store, { agents: 30, events: 2000, seed: 1 });
    const latest = Math.max(...(await timesOf(store)));
    expect(latest).toBeGreaterThanOrEqual(before);
    expect(latest).toBeLessThanOrEqual(Date.now());
    const seededView = lifecycleView((await replayStore(store, lifecycleProjection)).state);
    const agentId = Object.keys(seededView.agents)[0]!;
    await store.appendBatch([
      { id: crypto.randomUUID(), type: 'AgentHeartbeat', data: { agentId }, metadata: { at: new Date().toISOString() } },
    ] as never);
    const after = lifecycleView((await replayStore(store, lifecycleProjection)).state);
    expect(Object.keys(after.sessions)).toEqual(Object.keys(seededView.sessions));
    expect(Object.keys(seededView.sessions).length).toBeGreaterThan(10);
  });
});
