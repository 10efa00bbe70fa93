import { describe, expect, it, vi } from 'vitest';
import { openRollcall } from '../../src/live/openRollcall.js';
import { lifecycleProjection } from '../../src/projections/lifecycleProjection.js';
import { missingCells } from '../../src/stores/snapshotLadder.js';
import type { Change, Rollcall } from '../../src/live/types.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/stores/postgresStore.js';
import { heartbeats } from '../support/events.js';
import { ladderFillEnded, storeWithRungAtHead } from '../support/ladder.js';
import { agent } from '../support/lifecycle.js';
import { postgresForTests } from '../support/postgres.js';
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
