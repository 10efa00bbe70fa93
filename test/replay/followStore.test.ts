import { describe, expect, it } from 'vitest';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { followStore, type FollowUpdate } from '../../src/replay/followStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { agent, ev, pool, spawned } from '../support/lifecycle.js';

describe('following a store live (rollcall watch)', () => {
  it('catches up silently, then yields one update per new event with what it changed', async () => {
    const store = openMemoryStore();
    await store.appendBatch([pool('p1', 2), agent('a1'), agent('d1', 'director')]);
    const controller = new AbortController();
    const updates: FollowUpdate[] = [];
    const done = (async () => {
      for await (const u of followStore(store, lifecycleProjection, { signal: controller.signal })) {
        updates.push(u);
        if (updates.length === 4) controller.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    await store.appendBatch([
      spawned('a1', 's1', { poolId: 'p1', pid: 7 }),
      ev('AgentHeartbeat', { agentId: 'a1' }),
      spawned('d1', 's2', { poolId: 'p1' }),
      ev('SessionEnded', { agentId: 'nobody', sessionId: 's1', reason: 'x' }),
    ]);
    await done;
    expect(updates.map((u) => [u.position, u.type])).toEqual([
      [4n, 'AgentSpawned'],
      [5n, 'AgentHeartbeat'],
      [6n, 'AgentSpawned'],
      [7n, 'SessionEnded'],
    ]);
    // A spawn in a pool changes the session, its agent and the pool's occupancy.
    expect(updates[0]!.changed).toEqual({ pools: ['p1'], agents: ['a1'], sessions: ['s1'] });
    expect(updates[1]!.changed).toEqual({ pools: [], agents: ['a1'], sessions: [] });
    // Directors do not count toward a pool, but the session does go live, so the pool is reported.
    expect(updates[2]!.changed.sessions).toEqual(['s2']);
    // An ignored event changes nothing.
    expect(updates[3]!.changed).toEqual({ pools: [], agents: [], sessions: [] });
    expect(updates[3]!.state.anomalies.count).toBe(1);
  });

  it('with --from, prints every event after that position', async () => {
    const store = openMemoryStore();
    await store.appendBatch([pool('p1', 2), agent('a1'), spawned('a1', 's1', { poolId: 'p1' })]);
    const controller = new AbortController();
    const seen: bigint[] = [];
    for await (const u of followStore(store, lifecycleProjection, { from: 1n, signal: controller.signal })) {
      seen.push(u.position);
      if (seen.length === 2) controller.abort();
    }
    expect(seen).toEqual([2n, 3n]);
  });
});
