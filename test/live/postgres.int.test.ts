import { describe, expect, it, vi } from 'vitest';
import { openRollcall } from '../../src/live/openRollcall.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import type { LifecycleState } from '../../src/projections/lifecycleState.js';
import { lifecycleView } from '../../src/projections/lifecycleView.js';
import { replayStore } from '../../src/replay/replayLog.js';
import { verifySnapshot } from '../../src/replay/snapshots.js';
import { lockKeys } from '../../src/stores/postgres/schema.js';
import { missingCells } from '../../src/stores/snapshotLadder.js';
import type { Change, Rollcall } from '../../src/live/types.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/stores/postgresStore.js';
import { heartbeats } from '../support/events.js';
import { ladderFillEnded, storeWithRungAtHead } from '../support/ladder.js';
import { agent } from '../support/lifecycle.js';
import { postgresForTests } from '../support/postgres.js';
import pg from 'pg';
import { startProxy } from '../support/tcpProxy.js';
import { waitFor } from '../support/waitFor.js';

const { server, freshDatabase, cleanup } = await postgresForTests('each');
/** A window of time to measure over (CPU while idle), not a wait for anything. */
const measureFor = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const open = async (url: string, options: Partial<PostgresStoreOptions> = {}): Promise<EventStore> => {
  const store = await openPostgresStore({ url, ...options });
  cleanup(() => store.close());
  return store;
};
const live = (store: EventStore): Rollcall => {
  const r = openRollcall({ store });
  cleanup(() => r.close());
  return r;
};
const until = (what: string, ok: () => boolean, timeoutMs = 30_000) => waitFor(what, ok, { timeoutMs });
const fleet = (n: number) => Array.from({ length: n }, (_, i) => agent(`a${i}`));

if (!server) {
  describe.skip('live projection on PostgreSQL (no server reachable)', () => {
    it('needs a server', () => undefined);
  });
} else {
  describe('live projection on PostgreSQL', () => {
    it('fills the snapshot ladder on the snapshot worker through its own connection: never through the serving thread\'s store', async () => {
      const url = await freshDatabase();
      const store = await open(url);
      const { head, bytes } = await storeWithRungAtHead(store, { agents: 30, events: 25_000, seed: 8 });
      expect(missingCells([head], head, bytes).length).toBeGreaterThan(0);
      const saves = vi.spyOn(store.snapshots!, 'save');
      const server = openRollcall({ store, fillLadder: true });
      cleanup(() => server.close());
      await server.whenCaughtUp();
      const stats = await ladderFillEnded(server, 60_000);
      expect(stats.failures).toBe(0);
      expect(saves).not.toHaveBeenCalled();
      const rungs = (await store.snapshots!.rungs!(lifecycleProjection.name)).map((r) => r.position);
      expect(rungs.length).toBe(1 + stats.ladderFilled);
      expect(missingCells(rungs, head, bytes)).toEqual([]);
    }, 120_000);

    it('one runtime of those following a store keeps its snapshot (the lease): the others mirror and save nothing, and take over when it closes or loses its connection', async () => {
      const url = await freshDatabase();
      const writer = await open(url);
      const history = [...generateHistory({ agents: 30, events: 20_000, seed: 21 })] as unknown as LifecycleEvent[];
      let appended = 0;
      /** Appends the next `n` events of the history and waits until every runtime in `rs` applied them. */
      const appendAndApply = async (n: number, rs: Rollcall[]) => {
        const { lastPosition } = await writer.appendBatch(history.slice(appended, (appended += n)));
        await Promise.all(rs.map((r) => r.whenProcessed(lastPosition!, { timeoutMs: 30_000 })));
      };
      await appendAndApply(500, []);
      const runtimes = await Promise.all(
        [0, 1, 2].map(async () => {
          const r = openRollcall({ store: await open(url), fillLadder: true, snapshotEveryEvents: 300, snapshotEveryMs: 60_000 });
          cleanup(() => r.close());
          return r;
        }),
      );
      await Promise.all(runtimes.map((r) => r.whenCaughtUp()));
      const stats = (r: Rollcall) => r.snapshotStats()!;
      const keepers = () => runtimes.filter((r) => stats(r).keeping);
      await until('a keeper', () => keepers().length === 1);
      const keeper = keepers()[0]!;
      const others = runtimes.filter((r) => r !== keeper);
      for (let saved = 1; saved <= 2; saved++) {
        await appendAndApply(400, runtimes);
        await until(`the keeper's snapshot ${saved}`, () => stats(keeper).saved >= saved);
      }
      // Each of the others asked again at every snapshot due, and was refused: nothing mirrored, saved or filled.
      expect(keepers()).toEqual([keeper]);
      for (const r of others) expect(stats(r)).toMatchObject({ saved: 0, failures: 0, ladderFilled: 0, ladderFilling: false, keeping: false });

      // The keeper closes: the next one to ask, at its next snapshot due, keeps it from there.
      await keeper.close();
      await appendAndApply(400, others);
      await until('a second keeper', () => others.filter((r) => stats(r).keeping).length === 1);
      const second = others.find((r) => stats(r).keeping)!;
      const third = others.find((r) => r !== second)!;
      await appendAndApply(700, others);
      await until("the second keeper's snapshot", () => stats(second).saved >= 1);
      expect(stats(third)).toMatchObject({ keeping: false, saved: 0 });

      // The second keeper's lease connection breaks (the server ends that session) while someone
      // else takes the lock: asking again at its next snapshot due, it is refused and stops keeping.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      cleanup(() => admin.end());
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      expect(rowCount).toBe(1);
      const key = lockKeys(undefined).snapshot.toString();
      // Waits until the ended session's lock is gone, then holds it.
      await admin.query('SELECT pg_advisory_lock($1)', [key]);
      for (let i = 0; stats(second).keeping; i++) {
        if (i > 20) throw new Error(`the second keeper kept a lost lease: ${JSON.stringify(stats(second))}`);
        await appendAndApply(200, others);
      }
      expect(others.filter((r) => stats(r).keeping)).toEqual([]);
      // Released: whichever of the two asks first keeps it from there.
      await admin.query('SELECT pg_advisory_unlock($1)', [key]);
      const savedBefore = new Map(others.map((r) => [r, stats(r).saved]));
      for (let i = 0; others.filter((r) => stats(r).keeping).length !== 1; i++) {
        if (i > 20) throw new Error(`no keeper after the lease was released: ${JSON.stringify(others.map(stats))}`);
        await appendAndApply(200, others);
      }
      const last = others.find((r) => stats(r).keeping)!;
      await appendAndApply(700, others);
      await until("the last keeper's snapshot", () => stats(last).saved > savedBefore.get(last)!);
      expect(stats(last).failures).toBe(0);
      expect(stats(others.find((r) => r !== last)!).saved).toBe(savedBefore.get(others.find((r) => r !== last)!));

      // The newest snapshot, saved by a runtime that started keeping mid-stream, is the log's state at its position.
      const snapshot = (await writer.snapshots!.load(lifecycleProjection.name))!;
      expect(snapshot.position).toBeGreaterThan(3_000n);
      const verdict = await verifySnapshot(lifecycleProjection, snapshot, writer);
      expect(verdict.usable).toBe(true);
      const atSnapshot = await replayStore(writer, lifecycleProjection, { noSnapshot: true, until: snapshot.position });
      expect(lifecycleView((verdict as { state: LifecycleState }).state)).toEqual(lifecycleView(atSnapshot.state));
    }, 120_000);

    it('is woken by NOTIFY (not by its slow fallback poll), idles near zero CPU, and its subscribers see every position once under concurrent writers', async () => {
      const url = await freshDatabase();
      const reader = await open(url, { notifyFallbackMs: 60_000, pollIntervalMs: 60_000 });
      const writers = await Promise.all([0, 1, 2].map(() => open(url)));
      await writers[0]!.appendBatch(fleet(10));
      const r = live(reader);
      await r.whenCaughtUp();

      // Latency: one event at a time; with both polls at 60 s only a notification can wake it.
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const { lastPosition } = await writers[0]!.appendBatch(heartbeats(1, { prefix: 'a', agents: 10 }));
        await r.whenProcessed(lastPosition!, { timeoutMs: 5_000 });
        latencies.push(performance.now() - t);
      }
      latencies.sort((a, b) => a - b);
      // Each one arrived within its 5 s timeout, far under the 60 s polls; the median, generously
      // bounded for a loaded machine, shows it is not a lucky poll either.
      expect(latencies[10]!).toBeLessThan(1_000);

      // Idle: the follower waits on its LISTEN connection.
      const before = process.cpuUsage();
      await measureFor(2000);
      const used = process.cpuUsage(before);
      // The whole test process (and its GC), over 2 s: generous; a follower that polled would not pass
      // the latency check above with 60 s polls anyway.
      expect((used.user + used.system) / 1e6).toBeLessThan(0.5);

      const subs: Array<{ from: bigint | null; changes: Change[] }> = [];
      const join = (from: bigint | null) => {
        const s = { from, changes: [] as Change[] };
        r.subscribe((c) => s.changes.push(c), { from });
        subs.push(s);
      };
      join(null);
      join(0n);
      const writing = writers.map(async (w, k) => {
        for (let i = 0; i < 40; i++) {
          await w.appendBatch(heartbeats(1 + ((i + k) % 4), { prefix: 'a', agents: 10 }));
          if (i === 20 && k === 0) join(r.position());
        }
      });
      await Promise.all(writing);
      const head = (await reader.head())!;
      await r.whenProcessed(head, { timeoutMs: 10_000 });
      await until('every subscriber to deliver the head', () => subs.every((s) => s.changes[s.changes.length - 1]?.position === head));
      for (const s of subs) {
        const positions = s.changes.map((c) => c.position);
        const first = positions[0]!;
        expect(positions).toEqual(Array.from({ length: Number(head - first + 1n) }, (_, i) => first + BigInt(i)));
        if (s.from !== null) expect(first).toBe(s.from + 1n);
      }
    }, 60_000);

    it('reports the store unavailable while PostgreSQL is unreachable, even when idle, and resumes when it returns', async () => {
      const url = await freshDatabase();
      const link = await startProxy(new URL(url));
      cleanup(link.close);
      const writer = await open(url);
      await writer.appendBatch(fleet(3));
      const reader = await open(link.url(url), { connectTimeoutMs: 300, pollIntervalMs: 50, reconnectWindowMs: 2_000 });
      const r = live(reader);
      await r.whenCaughtUp();
      const seen: bigint[] = [];
      r.subscribe((c) => seen.push(c.position));
      expect(r.status().storeAvailable).toBe(true);

      link.cut();
      const cutAt = Date.now();
      await until('the outage to be reported', () => !r.status().storeAvailable, 5_000);
      expect(r.status().lastError?.code).toBe('store-unavailable');
      const { lastPosition } = await writer.appendBatch(heartbeats(5, { prefix: 'a', agents: 3 }));
      // Past the store's own reconnect window (2 s) the runtime keeps retrying: a connection is
      // refused after it.
      await until('the reconnect window to pass', () => Date.now() - cutAt > 2_000);
      const refusedAtWindow = link.refused();
      await until('a reconnect attempt after the window', () => link.refused() > refusedAtWindow);
      expect(r.status().storeAvailable).toBe(false);
      expect(r.status().failed).toBe(null);
      expect(seen).toEqual([]);

      link.restore();
      await r.whenProcessed(lastPosition!, { timeoutMs: 15_000 });
      await until('availability to be reported', () => r.status().storeAvailable);
      expect(r.status().lastError).toBe(null);
      expect(seen).toEqual([4n, 5n, 6n, 7n, 8n]);
      // And it is live again, through a fresh LISTEN connection.
      const again = await writer.appendBatch(heartbeats(1, { prefix: 'a', agents: 3 }));
      await r.whenProcessed(again.lastPosition!, { timeoutMs: 5_000 });
      expect(seen.at(-1)).toBe(9n);
    }, 60_000);
  });
}
