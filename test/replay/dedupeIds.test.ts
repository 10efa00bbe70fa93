import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { streamOf, type LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import type { ProjectionJson } from '../../src/projections/lifecycleView.js';
import { replayFile, replayStore } from '../../src/replay/replayLog.js';
import { assembleStore } from '../../src/stores/assembleStore.js';
import type { EventStore, StoredEvent } from '../../src/stores/eventStore.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { withRedeliveries } from '../support/arbitraryHistory.js';
import { tempDir } from '../support/cli.js';
import { T0, agent, ev, foldState, given, pool, spawned, withoutAnomalies } from '../support/lifecycle.js';

const DAY_S = 24 * 3600;
const at = (e: LifecycleEvent, seconds: number): LifecycleEvent => ({ ...e, metadata: { ...e.metadata, at: new Date(T0 + seconds * 1000).toISOString() } });

describe('rule 4: an id already applied changes nothing, however late and whatever its `at`', () => {
  it('a redelivered AgentConnected with a later `at` does not roll the connection back', () => {
    const c1 = ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }, { at: 10 });
    return given(agent('a1'), c1, ev('AgentConnected', { agentId: 'a1', connectionId: 'c2' }, { at: 20 }), at(c1, 30)).thenAnomaly('duplicate', (v) => {
      expect(v.agents['a1']!.connection).toMatchObject({ connectionId: 'c2', state: 'connected' });
    });
  });

  it('a redelivered PoolCreated after the pool was deleted does not create it again', () => {
    const created = pool('p1', 3);
    return given(created, ev('PoolDeleted', { poolId: 'p1' }), at(created, 500)).thenAnomaly('duplicate', (v) => expect(v.pools).toEqual({}));
  });

  it('a redelivery after the retention window is still a duplicate', () => {
    const sp = spawned('a1', 's1', { pid: 4 }, );
    return given(agent('a1'), sp, ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' }), ev('AgentHeartbeat', { agentId: 'a1' }, { at: 3 * DAY_S }), sp).thenAnomaly('duplicate');
  });

  it('a redelivery stamped far in the future does not move the clock (nothing is evicted by it)', async () => {
    const hb = ev('AgentHeartbeat', { agentId: 'a1' }, { at: 10 });
    const events = [at(agent('a1'), 1), at(spawned('a1', 's1'), 2), ev('SessionEnded', { agentId: 'a1', sessionId: 's1', reason: 'done' }, { at: 3 }), hb, at(hb, 30 * DAY_S)];
    const state = await foldState(events);
    expect(state.newestAt).toBe(hb.metadata.at);
    expect(state.sessions.get('s1')?.state).toBe('terminated');
    expect(state.anomalies.byReason).toEqual({ duplicate: 1 });
  });
});

/** A store that, like EventStoreDB, may hand back one id twice: the given rows, positions 1..n. */
const nonUniqueStore = (events: readonly LifecycleEvent[]): EventStore => {
  const memory = openMemoryStore();
  const revisions = new Map<string, bigint>();
  const rows: StoredEvent[] = events.map((e, i) => {
    const stream = streamOf(e);
    const revision = revisions.get(stream) ?? 0n;
    revisions.set(stream, revision + 1n);
    return { position: BigInt(i + 1), stream, revision, id: e.id, type: e.type, data: e.data, metadata: e.metadata };
  });
  return assembleStore({
    ...memory,
    uniqueIds: false,
    async *readPages(options = {}) {
      const after = rows.filter((row) => options.after == null || row.position > options.after);
      const page = after.slice(0, options.limit ?? Infinity);
      if (page.length) yield page;
    },
  });
};

// A quarantine names the positions of its ends: those move with inserted redeliveries too.
const ignoringPositions = (v: ProjectionJson) => ({ ...withoutAnomalies(v), position: null });

describe('property: any redelivery of any earlier event, at any later point, with any `at`, changes nothing but the anomaly count', { timeout: 180_000 }, () => {
  const projection = createLifecycleProjection();
  const dir = tempDir();

  it('through replay --input (an NDJSON file)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(withRedeliveries, async ({ events, redelivered, inserted }) => {
        const file = (xs: LifecycleEvent[]) => {
          const path = join(dir, `h${n++}.ndjson`);
          writeFileSync(path, xs.map((e) => JSON.stringify(e)).join('\n'));
          return path;
        };
        const once = await replayFile(file(events), projection);
        const again = await replayFile(file(redelivered), projection);
        const a = projection.view(once.state);
        const b = projection.view(again.state);
        expect(ignoringPositions(b)).toEqual(ignoringPositions(a));
        expect(b.anomalies.count - a.anomalies.count).toBe(inserted);
        expect((b.anomalies.byReason.duplicate ?? 0) - (a.anomalies.byReason.duplicate ?? 0)).toBe(inserted);
      }),
      { numRuns: 100 },
    );
  });

  it('through replay --store of a store without unique ids, with and without a snapshot taken anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(withRedeliveries, fc.nat(), async ({ events, redelivered, inserted }, cut) => {
        const once = await replayStore(nonUniqueStore(events), projection, { noSnapshot: true });
        const store = nonUniqueStore(redelivered);
        const full = await replayStore(store, projection, { noSnapshot: true });
        // A snapshot after the first k events, then the tail from it.
        const k = redelivered.length === 0 ? 0 : (cut % redelivered.length) + 1;
        const head = nonUniqueStore(redelivered.slice(0, k));
        const tail = nonUniqueStore(redelivered);
        if (k > 0) {
          await replayStore(head, projection, { snapshotEvery: 1 });
          await tail.snapshots!.save((await head.snapshots!.load(projection.name))!);
        }
        const fromSnapshot = await replayStore(tail, projection, { snapshotEvery: 1_000_000 });
        if (k > 0) expect(fromSnapshot.snapshotPosition).toBe(BigInt(k));
        const a = projection.view(once.state);
        for (const r of [full, fromSnapshot]) {
          const b = projection.view(r.state);
          expect(ignoringPositions(b)).toEqual(ignoringPositions(a));
          expect(b.anomalies.count - a.anomalies.count).toBe(inserted);
        }
        expect(projection.view(fromSnapshot.state)).toEqual(projection.view(full.state));
      }),
      { numRuns: 100 },
    );
  });

  it('a snapshot of a store without unique ids that carries no id set is not used', async () => {
    const events = [agent('a1'), spawned('a1', 's1')];
    const store = nonUniqueStore(events);
    const unique = openMemoryStore();
    await unique.appendBatch(events);
    await replayStore(unique, projection, { snapshotEvery: 1 });
    await store.snapshots!.save((await unique.snapshots!.load(projection.name))!);
    const r = await replayStore(store, projection);
    expect(r.snapshotPosition).toBeNull();
    expect(r.snapshotSkipped).toBe('snapshot carries no id set, which this store needs');
  });

  it('stores that guarantee unique ids keep no id set: their snapshots carry none', async () => {
    const store = openMemoryStore();
    await store.appendBatch([agent('a1'), spawned('a1', 's1')]);
    await replayStore(store, projection, { snapshotEvery: 1 });
    const saved = (await store.snapshots!.load(projection.name))!;
    expect(saved.payload).not.toContain('seenIds');
    expect(Object.keys(projection.toJSON!(projection.initialState()) as object)).not.toContain('seenIds');
  });
});

describe('audit and check read an NDJSON file through the same id stage', () => {
  it('audit shows a redelivery as a duplicate that changed nothing', async () => {
    const { auditAgent } = await import('../../src/inspect/auditAgent.js');
    const { readFileSource } = await import('../../src/replay/replayLog.js');
    const c1 = ev('AgentConnected', { agentId: 'a1', connectionId: 'c1' }, { at: 10 });
    const lines = [agent('a1'), c1, ev('AgentConnected', { agentId: 'a1', connectionId: 'c2' }, { at: 20 }), at(c1, 30)];
    const path = join(tempDir(), 'audit.ndjson');
    writeFileSync(path, lines.map((e) => JSON.stringify(e)).join('\n'));
    const audit = await auditAgent(createLifecycleProjection(), readFileSource(path), 'a1');
    expect(audit.entries.map((e) => [e.type, e.anomaly])).toEqual([['AgentRegistered', null], ['AgentConnected', null], ['AgentConnected', null], ['AgentConnected', 'duplicate']]);
    expect(audit.entries[3]!.changes).toEqual([]);
    expect(audit.agent!.connection).toMatchObject({ connectionId: 'c2' });
  });
});
