// The page's model: a patch of the entities a change names gives the same model as loading the
// whole projection again (sorted ids, counts, sessions, the starting/terminating set).
import { describe, expect, it } from 'vitest';
import { fromProjection, patchView, type ViewModel } from '../../src/dashboard/model.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import type { AgentDetailJson, ProjectionJson } from '../../src/projections/viewJson.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';


const comparable = (v: ViewModel) => ({
  position: v.position,
  agentIds: v.agentIds,
  poolIds: v.poolIds,
  running: v.running,
  busy: v.busy,
  pending: [...v.pendingSessionIds].sort(),
  pools: Object.fromEntries(v.pools),
  agents: Object.fromEntries(v.agents),
  sessions: Object.fromEntries([...v.sessions].sort(([a], [b]) => (a < b ? -1 : 1))),
  anomalies: v.anomalies,
});

/** What the page would fetch for each changed id: the pool, or the agent with its sessions (null = gone). */
const patchFrom = (before: ProjectionJson, after: ProjectionJson) => {
  const pools = new Map(
    [...new Set([...Object.keys(before.pools), ...Object.keys(after.pools)])]
      .filter((id) => JSON.stringify(before.pools[id]) !== JSON.stringify(after.pools[id]))
      .map((id) => [id, after.pools[id] ?? null] as const),
  );
  const sessionsOf = (p: ProjectionJson, id: string) => Object.values(p.sessions).filter((s) => s.agentId === id);
  const agents = new Map<string, AgentDetailJson | null>(
    [...new Set([...Object.keys(before.agents), ...Object.keys(after.agents)])]
      .filter(
        (id) =>
          JSON.stringify([before.agents[id], sessionsOf(before, id)]) !== JSON.stringify([after.agents[id], sessionsOf(after, id)]),
      )
      .map((id) => [id, after.agents[id] ? { ...after.agents[id]!, sessions: sessionsOf(after, id) } : null]),
  );
  return { position: after.position, pools, agents, anomalies: after.anomalies };
};

describe('the dashboard model', () => {
  it('patched step by step equals a fresh load at every step of a generated history', async () => {
    const store = openMemoryStore();
    // A short retention makes sessions leave the view, and agents and pools come and go.
    await store.appendBatch([...generateHistory({ agents: 30, events: 1500, seed: 11 })] as LifecycleEvent[]);
    const projection = createLifecycleProjection({ retentionMs: 60_000 });
    const at = async (until: number) =>
      lifecycleView((await replayStore(store, projection, { until: BigInt(until), noSnapshot: true })).state);
    let before = await at(200);
    let model = fromProjection(before);
    let patched = 0;
    for (let until = 250; until <= 1500; until += 50) {
      const after = await at(until);
      const patch = patchFrom(before, after);
      patched += patch.agents.size + patch.pools.size;
      const previousIds = model.agentIds;
      model = patchView(model, patch);
      expect(comparable(model)).toEqual(comparable(fromProjection(after)));
      // The sorted id list is only rebuilt when agents come or go.
      if ([...patch.agents].every(([id, a]) => (a === null) === !previousIds.includes(id))) expect(model.agentIds).toBe(previousIds);
      before = after;
    }
    expect(patched).toBeGreaterThan(100);
  });
});
