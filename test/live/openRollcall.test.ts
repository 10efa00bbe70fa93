import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openRollcall } from '../../src/live/openRollcall.js';
import type { Change, Rollcall } from '../../src/live/types.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { verifySnapshot } from '../../src/replay/snapshots.js';
import { createTraveler, travelTo } from '../../src/replay/travel.js';
import type { LifecycleState } from '../../src/projections/lifecycleState.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { tempDir } from '../support/cli.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { missingCells } from '../../src/stores/snapshotLadder.js';
import { keepingLadder, ladderFillEnded, rungAt, storeWithRungAtHead } from '../support/ladder.js';
import { agent, ended, ev, pool, spawned } from '../support/lifecycle.js';
import { waitFor } from '../support/waitFor.js';

/** Lets the other writers and the follower take a turn (interleaving, not a timing guess). */
const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

const fleet = (n: number) => {
  const events = [pool('p1', 3)];
  for (let i = 0; i < n; i++) events.push(agent(`a${i}`));
  return events;
};

/** Everything the store holds, replayed in full: what the live view must equal at the same position. */
const fullReplay = async (store: EventStore) =>
  lifecycleView((await replayStore(store, lifecycleProjection, { noSnapshot: true })).state);

const collect = (live: Rollcall, from?: bigint | null) => {
  const changes: Change[] = [];
  let caughtUp = 0;
  const errors: unknown[] = [];
  const stop = live.subscribe((c) => changes.push(c), {
    ...(from !== undefined ? { from } : {}),
    onCaughtUp: () => caughtUp++,
    onError: (e) => errors.push(e),
  });
  const reached = (position: bigint) => caughtUp > 0 && (changes[changes.length - 1]?.position ?? -1n) >= position;
  return { changes, stop, caughtUp: () => caughtUp, errors, reached };
};

describe('openRollcall: the live lifecycle projection', () => {
  it('catches up, then follows: view() equals a full replay at the same position, and subscribers get each change with what it changed', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet(3));
    const live = openRollcall({ store });
    expect(live.status().caughtUp).toBe(false);
    await live.whenCaughtUp();
    expect(live.status()).toMatchObject({ position: 4n, head: 4n, caughtUp: true, storeAvailable: true, lastError: null, failed: null });
    const sub = collect(live);
    await waitFor('caught-up', () => sub.caughtUp() > 0);
    expect(sub.caughtUp()).toBe(1);
    const { lastPosition } = await store.appendBatch([
      spawned('a0', 's1', { poolId: 'p1', pid: 7 }),
      ev('AgentHeartbeat', { agentId: 'a1' }),
      ended('nobody', 's1'),
    ]);
    await live.whenProcessed(lastPosition!);
    expect(sub.changes.map((c) => [c.position, c.type])).toEqual([
      [5n, 'AgentSpawned'],
      [6n, 'AgentHeartbeat'],
      [7n, 'SessionEnded'],
    ]);
    expect(sub.changes[0]!.changed).toEqual({ pools: ['p1'], agents: ['a0'], sessions: ['s1'] });
    expect(sub.changes[2]!.changed).toEqual({ pools: [], agents: [], sessions: [] });
    expect(live.view()).toEqual(await fullReplay(store));
    expect(live.view()).toBe(live.view()); // cached per position
    sub.stop();
    await live.close();
    expect(sub.errors).toEqual([]);
  });

  it('every subscriber sees every position exactly once, in order, under concurrent appends, whatever its from', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet(10));
    const live = openRollcall({ store, bufferSize: 64 });
    await live.whenCaughtUp();
    const subs: Array<{ from: bigint | null; joinedAt: bigint; s: ReturnType<typeof collect> }> = [];
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 60; i++) {
        const n = 1 + ((i * 7 + w) % 5);
        await store.appendBatch(Array.from({ length: n }, () => ev('AgentHeartbeat', { agentId: `a${(i + w) % 10}` })));
        if (i % 3 === 0) await yieldTurn();
      }
    });
    // Subscribers join while writing: from now, from a recent position (the ring), from an old one
    // (a private fold from the store, as the ring holds only 64 changes), and from the start.
    const joining = (async () => {
      for (let k = 0; k < 12; k++) {
        await yieldTurn();
        const p = live.position() ?? 0n;
        const choices = [null, p, p > 5n ? p - 5n : 0n, 3n, 0n, p + 3n];
        const from = choices[k % choices.length]!;
        subs.push({ from, joinedAt: p, s: collect(live, from) });
      }
    })();
    await Promise.all([...writers, joining]);
    const head = (await store.head())!;
    await live.whenProcessed(head);
    // Every subscriber (some fold privately from the store) has caught up and delivered the head,
    // or had nothing to deliver after where it started.
    const done = ({ from, joinedAt, s }: (typeof subs)[number]) =>
      s.caughtUp() > 0 && (s.changes.length > 0 ? s.reached(head) : (from ?? joinedAt) >= head);
    await waitFor('every subscriber to deliver the head', () => subs.every(done), {
      describe: () => subs.filter((x) => !done(x)).map(({ from, joinedAt, s }) => ({ from, joinedAt, last: s.changes.at(-1)?.position, caughtUp: s.caughtUp() })),
    });
    const reference = collect(live, 0n);
    await waitFor('the reference subscriber to deliver the head', () => reference.reached(head));
    expect(reference.changes.map((c) => c.position)).toEqual(Array.from({ length: Number(head) }, (_, i) => BigInt(i + 1)));
    const byPosition = new Map(reference.changes.map((c) => [c.position, c]));
    for (const { from, s } of subs) {
      const positions = s.changes.map((c) => c.position);
      const first = positions[0] ?? head + 1n;
      if (from !== null) expect(first).toBe(from + 1n > head ? head + 1n : from + 1n);
      expect(positions).toEqual(Array.from({ length: Number(head - first + 1n) }, (_, i) => first + BigInt(i)));
      for (const c of s.changes) expect(c).toEqual(byPosition.get(c.position));
      expect(s.caughtUp()).toBe(1);
      expect(s.errors).toEqual([]);
    }
    await live.close();
  });

  it('catch-up from a snapshot plus the tail equals a full replay', async () => {
    const store = openMemoryStore();
    const history = [...generateHistory({ agents: 40, events: 6000, seed: 7 })] as unknown as LifecycleEvent[];
    await store.appendBatch(history.slice(0, 4000));
    const head = await store.head();
    const first = openRollcall({ store });
    await first.whenCaughtUp();
    await first.close();
    const snapshot = await store.snapshots!.load(lifecycleProjection.name);
    expect(snapshot?.position).toBe(head);
    await store.appendBatch(history.slice(4000));
    const second = openRollcall({ store });
    await second.whenCaughtUp();
    expect(second.position()).toBe(await store.head());
    expect(second.view()).toEqual(await fullReplay(store));
    await second.close();
  });

  it('keeps the snapshot fresh while following (serialized on a worker thread), and a snapshot taken live restarts to the same view', async () => {
    const store = openMemoryStore();
    const history = [...generateHistory({ agents: 30, events: 3000, seed: 11 })] as unknown as LifecycleEvent[];
    await store.appendBatch(history.slice(0, 500));
    const live = openRollcall({ store, snapshotEveryEvents: 400, snapshotEveryMs: 60_000 });
    await live.whenCaughtUp();
    for (let i = 500; i < history.length; i += 100) {
      await store.appendBatch(history.slice(i, i + 100));
      // Paced by the saves, so that several are taken mid-stream (the worker takes a moment to start).
      await waitFor('the paced snapshot', () => (live.snapshotStats()?.saved ?? 0) >= Math.floor((i - 500) / 1000), { describe: () => live.snapshotStats() });
    }
    const head = (await store.head())!;
    await live.whenProcessed(head);
    await waitFor('three snapshots saved', () => (live.snapshotStats()?.saved ?? 0) >= 3, { describe: () => live.snapshotStats() });
    const stats = live.snapshotStats()!;
    expect(stats.saved).toBeGreaterThanOrEqual(3);
    expect(stats.failures).toBe(0);
    const snapshot = (await store.snapshots!.load(lifecycleProjection.name))!;
    expect(snapshot.position).toBeGreaterThan(500n);
    // The worker's snapshot is the follower's state at that position, exactly.
    const verdict = await verifySnapshot(lifecycleProjection, snapshot, store);
    expect(verdict.usable).toBe(true);
    const atSnapshot = await replayStore(store, lifecycleProjection, { noSnapshot: true, until: snapshot.position });
    expect(lifecycleView((verdict as { state: LifecycleState }).state)).toEqual(lifecycleView(atSnapshot.state));
    await live.close();
    const again = openRollcall({ store });
    await again.whenCaughtUp();
    expect(again.view()).toEqual(await fullReplay(store));
    await again.close();
  }, 60_000);

  it('on an embedded store the worker saves the snapshot through a connection of its own: the follower never calls the store to save, and a restart catches up from it', async () => {
    const path = join(tempDir(), 'live.db');
    const store = openSqliteStore({ path, commitThread: true });
    const history = [...generateHistory({ agents: 30, events: 3000, seed: 12 })] as unknown as LifecycleEvent[];
    await store.appendBatch(history.slice(0, 500));
    const saves = vi.spyOn(store.snapshots!, 'save');
    const live = openRollcall({ store, snapshotEveryEvents: 400, snapshotEveryMs: 60_000 });
    await live.whenCaughtUp();
    // Paced by the saves: events applied while one is being saved do not ask for another.
    for (const [from, to, saved] of [[500, 1500, 1], [1500, 3000, 2]] as const) {
      await store.appendBatch(history.slice(from, to));
      await waitFor(`snapshot ${saved} saved`, () => (live.snapshotStats()?.saved ?? 0) >= saved, { describe: () => live.snapshotStats() });
    }
    await live.whenProcessed((await store.head())!);
    expect(live.snapshotStats()!.failures).toBe(0);
    // Saved, yet never through this thread's store.
    expect(saves).not.toHaveBeenCalled();
    await live.close();
    await store.close();
    // A restart: another process opening the file finds the live rung and catches up from it.
    const reopened = openSqliteStore({ path, create: false });
    const snapshot = (await reopened.snapshots!.load(lifecycleProjection.name))!;
    expect(snapshot.position).toBeGreaterThan(500n);
    const verdict = await verifySnapshot(lifecycleProjection, snapshot, reopened);
    expect(verdict.usable).toBe(true);
    const atSnapshot = await replayStore(reopened, lifecycleProjection, { noSnapshot: true, until: snapshot.position });
    expect(lifecycleView((verdict as { state: LifecycleState }).state)).toEqual(lifecycleView(atSnapshot.state));
    const again = openRollcall({ store: reopened });
    await again.whenCaughtUp();
    expect(again.view()).toEqual(await fullReplay(reopened));
    await again.close();
    await reopened.close();
  }, 60_000);

  it('fills the snapshot ladder only when asked (serve): a follower is idle once caught up; a fill, when asked, ends with every cell holding a rung', async () => {
    const ladder = keepingLadder();
    const store: EventStore = { ...openMemoryStore(), snapshots: ladder };
    await store.appendBatch([...generateHistory({ agents: 30, events: 25_000, seed: 5 })] as unknown as LifecycleEvent[]);
    const head = (await store.head())!;
    // As a CLI-appended store after one replay: a rung at the head, none in the cells below it.
    await ladder.save(await rungAt(store, head));
    const bytes = ladder.byPosition.get(head)!.payload.length;
    expect(missingCells([head], head, bytes).length).toBeGreaterThan(0);

    const follower = openRollcall({ store });
    await follower.whenCaughtUp();
    // A fill would have been started on the turn after catch-up (the snapshotter's setImmediate).
    await yieldTurn();
    await yieldTurn();
    expect(follower.snapshotStats()).toMatchObject({ ladderFilling: false, ladderFilled: 0 });
    expect([...ladder.byPosition.keys()]).toEqual([head]);
    await follower.close();

    const server = openRollcall({ store, fillLadder: true });
    await server.whenCaughtUp();
    const stats = await ladderFillEnded(server);
    expect(stats.failures).toBe(0);
    const rungs = [...ladder.byPosition.keys()].sort((a, b) => (a < b ? -1 : 1));
    expect(rungs.length).toBe(1 + stats.ladderFilled);
    expect(missingCells(rungs, head, bytes)).toEqual([]);
    await server.close();
  }, 60_000);

  it('on an embedded store the ladder is filled on the snapshot worker through its writer, never through the serving thread\'s store, and a restart travels from its rungs', async () => {
    const path = join(tempDir(), 'ladder.db');
    const store = openSqliteStore({ path, commitThread: true });
    // As a CLI-appended store after one replay: a rung at the head, none in the cells below it.
    const { head, bytes } = await storeWithRungAtHead(store, { agents: 30, events: 45_000, seed: 7 });
    expect(missingCells([head], head, bytes).length).toBeGreaterThan(0);
    const saves = vi.spyOn(store.snapshots!, 'save');

    const server = openRollcall({ store, fillLadder: true });
    await server.whenCaughtUp();
    const stats = await ladderFillEnded(server);
    expect(stats.failures).toBe(0);
    // Every rung saved, yet never through this thread's store.
    expect(saves).not.toHaveBeenCalled();
    const rungs = (await store.snapshots!.rungs!(lifecycleProjection.name)).map((r) => r.position);
    // Several rungs: each saved while the fold went on toward the next.
    expect(stats.ladderFilled).toBeGreaterThan(1);
    expect(rungs.length).toBe(1 + stats.ladderFilled);
    expect(missingCells(rungs, head, bytes)).toEqual([]);
    await server.close();
    await store.close();

    // A restart: time travel on the reopened file starts from a filled rung and answers as a full replay.
    const reopened = openSqliteStore({ path, create: false });
    const filled = rungs.filter((p) => p < head);
    const from = filled[Math.floor(filled.length / 2)]!;
    const until = from + 3n;
    const traveler = createTraveler({ retentionMs: lifecycleProjection.retentionMs });
    try {
      const travelled = await travelTo(traveler, reopened, lifecycleProjection, { until }, { skipInvalid: false });
      expect(travelled.startedAfter).toBe(from);
      const expected = lifecycleView((await replayStore(reopened, lifecycleProjection, { noSnapshot: true, until })).state);
      expect(JSON.parse(new TextDecoder().decode(travelled.json))).toEqual(JSON.parse(JSON.stringify(expected)));
    } finally {
      await traveler.close();
      await reopened.close();
    }
  }, 120_000);

  it('whenProcessed waits for a position, times out, and honours an abort signal', async () => {
    const store = openMemoryStore();
    const live = openRollcall({ store });
    await live.whenCaughtUp();
    expect(live.status().position).toBe(null);
    const waiting = live.whenProcessed(2n);
    await store.appendBatch(fleet(1));
    await waiting;
    await expect(live.whenProcessed(10n, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'timeout' });
    const ctl = new AbortController();
    const aborted = live.whenProcessed(10n, { signal: ctl.signal });
    ctl.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    const pending = expect(live.whenProcessed(10n)).rejects.toMatchObject({ code: 'store-unavailable' });
    await live.close();
    await pending;
  });

  it('an undecodable stored event stops following (status.failed, subscribers told); with skipInvalid it is an anomaly', async () => {
    for (const skipInvalid of [false, true]) {
      const store = openMemoryStore();
      await store.appendBatch(fleet(1));
      const live = openRollcall({ store, skipInvalid });
      await live.whenCaughtUp();
      const sub = collect(live);
      await waitFor('caught-up', () => sub.caughtUp() > 0);
      // A row no decoder accepts, as a damaged or foreign writer could leave it.
      await store.appendBatch([{ ...ev('AgentHeartbeat', { agentId: 'a0' }), data: { agentId: 42 } } as never, ev('AgentHeartbeat', { agentId: 'a0' })]);
      // Followed to the end (skipInvalid) or stopped at the bad row.
      await waitFor('the follower to pass or stop at the bad row', () => (skipInvalid ? sub.reached(4n) : sub.errors.length > 0), { describe: () => live.status() });
      if (skipInvalid) {
        expect(live.status().failed).toBe(null);
        expect(sub.changes.map((c) => c.position)).toEqual([3n, 4n]);
        expect(live.view().anomalies.byReason['invalid-event']).toBe(1);
      } else {
        expect(live.status().failed?.code).toBe('invalid-event');
        expect(live.position()).toBe(2n);
        expect(sub.errors).toHaveLength(1);
        await expect(live.whenProcessed(3n)).rejects.toMatchObject({ code: 'invalid-event' });
      }
      await live.close();
    }
  });
});

describe('openRollcall on an in-process store', () => {
  it('applies each append within the turn it was made in: whenProcessed after it resolves before the event loop turns, each view a full replay of its prefix', async () => {
    const store = openMemoryStore();
    await store.appendBatch(fleet(3));
    const live = openRollcall({ store, snapshots: false });
    await live.whenCaughtUp();
    const events = [
      spawned('a0', 's1', { poolId: 'p1', pid: 7 }),
      ev('AgentHeartbeat', { agentId: 'a0' }),
      spawned('a1', 's2', { poolId: 'p1', pid: 8 }),
      ended('a0', 's1'),
      ended('nobody', 's9'),
    ];
    let turns = 0;
    for (const e of events) {
      // Queued now, an immediate runs only when the event loop turns: never before the event is applied.
      let turned = false;
      setImmediate(() => (turned = true));
      const { lastPosition } = await store.appendBatch([e]);
      await live.whenProcessed(lastPosition!);
      if (turned) turns++;
      expect(live.position()).toBe(lastPosition);
      expect(live.view()).toEqual(await fullReplay(store));
      await yieldTurn();
    }
    expect(turns).toBe(0);
    await live.close();
  });
});
