import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { groupCommitFor } from '../../src/ingest/groupCommit.js';
import type { EventStore } from '../../src/stores/eventStore.js';
import { openPostgresStore, postgresSchemaVersion, type PostgresStoreOptions } from '../../src/stores/postgresStore.js';
import { heartbeats, makeEvent } from '../support/events.js';
import { postgresForTests } from '../support/postgres.js';
import { startProxy } from '../support/tcpProxy.js';
import { waitFor } from '../support/waitFor.js';
import { collect, describeEventStoreConformance } from './conformance.js';

const { server, freshDatabase, cleanup } = await postgresForTests('each');

const open = async (url: string, options: Partial<PostgresStoreOptions> = {}): Promise<EventStore> => {
  const store = await openPostgresStore({ url, pollIntervalMs: 20, ...options });
  cleanup(() => store.close());
  return store;
};

/** Jitter inside a writer's transaction and a naive poller's interval: workload, not waiting. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Seen {
  position: bigint;
  id: string;
}

/** What a follower got wrong: events it never saw, saw twice, or saw out of position order. */
const verifyFollow = (seen: readonly Seen[], written: ReadonlySet<string>) => {
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s.id, (counts.get(s.id) ?? 0) + 1);
  const outOfOrder: bigint[] = [];
  const jumps: Array<[bigint, bigint]> = [];
  for (let i = 1; i < seen.length; i++) {
    const prev = seen[i - 1]!.position;
    const cur = seen[i]!.position;
    if (cur <= prev) outOfOrder.push(cur);
    else if (cur !== prev + 1n) jumps.push([prev, cur]);
  }
  return {
    missing: [...written].filter((id) => !counts.has(id)),
    duplicates: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    outOfOrder,
    jumps,
  };
};

/**
 * Several writers append many small batches concurrently while one follower reads the log live;
 * returns the follower's view and every id whose append was acknowledged.
 */
const followWhileWriting = async (opts: {
  writers: number;
  appendsPerWriter: number;
  append: (writer: number, events: LifecycleEvent[]) => Promise<void>;
  follow: (signal: AbortSignal) => AsyncIterable<Seen>;
  /** The highest position committed, once every writer is done: the follower has drained when it saw it. */
  head: () => Promise<bigint>;
}) => {
  const written = new Set<string>();
  const seen: Seen[] = [];
  const ctl = new AbortController();
  const following = (async () => {
    for await (const s of opts.follow(ctl.signal)) seen.push(s);
  })();
  await Promise.all(
    Array.from({ length: opts.writers }, async (_, w) => {
      for (let i = 0; i < opts.appendsPerWriter; i++) {
        const events = heartbeats(1 + ((w + i) % 3), { agents: 3, prefix: `w${w}-` });
        await opts.append(w, events);
        for (const e of events) written.add(e.id);
      }
    }),
  );
  // Let the follower drain: it has read all it ever will once it saw the highest position.
  const head = await opts.head();
  await waitFor('the follower to reach the head', () => (seen[seen.length - 1]?.position ?? 0n) >= head, {
    describe: () => ({ head, last: seen[seen.length - 1]?.position, seen: seen.length, written: written.size }),
  });
  ctl.abort();
  await following;
  return { seen, written, problems: verifyFollow(seen, written) };
};

if (!server) {
  describe.skip('postgres store (no PostgreSQL server reachable; see the notice above)', () => {
    it('needs a server', () => undefined);
  });
} else {
  describeEventStoreConformance(
    'postgres',
    async () => {
      const db = await server.createDatabase();
      const store = await openPostgresStore({ url: db.url, pollIntervalMs: 20 });
      return {
        store,
        async cleanup() {
          await store.close();
          await db.drop();
        },
        // An operator renames the tables away: every query now fails with SQLSTATE 42P01.
        async breakServer() {
          const admin = new pg.Client({ connectionString: db.url });
          await admin.connect();
          try {
            await admin.query('ALTER TABLE rollcall_events RENAME TO gone_events; ALTER TABLE rollcall_head RENAME TO gone_head; ALTER TABLE rollcall_snapshots RENAME TO gone_snapshots');
          } finally {
            await admin.end();
          }
        },
      };
    },
    { gaplessPositions: true },
  );

  describe('postgres store', () => {
    it('subscribePages hands over what was committed since the last page as pages of at most pageSize, in order, each event once', async () => {
      const store = await open(await freshDatabase(), { pageSize: 40 });
      await store.appendBatch(heartbeats(100));
      const controller = new AbortController();
      const pages: bigint[][] = [];
      const reading = (async () => {
        for await (const page of store.subscribePages({ after: 10n, signal: controller.signal })) pages.push(page.map((e) => e.position));
      })();
      await waitFor('the 90 stored events read', () => pages.flat().length >= 90, { describe: () => pages });
      await store.appendBatch(heartbeats(3));
      await waitFor('the 3 appended read', () => pages.flat().length >= 93, { describe: () => pages });
      controller.abort();
      await reading;
      expect(pages.map((p) => p.length)).toEqual([40, 40, 10, 3]);
      expect(pages.flat()).toEqual(Array.from({ length: 93 }, (_, i) => BigInt(i + 11)));
    });

    it('group commit: one NOTIFY per group, and a follower reads the whole group as one page', async () => {
      const url = await freshDatabase();
      const store = await open(url, { notifyFallbackMs: 60_000, pollIntervalMs: 60_000 });
      const listen = new pg.Client({ connectionString: url });
      await listen.connect();
      cleanup(() => listen.end());
      const notified: string[] = [];
      listen.on('notification', (n) => notified.push(n.payload ?? ''));
      await listen.query('LISTEN rollcall_events');
      const controller = new AbortController();
      const pages: bigint[][] = [];
      const reading = (async () => {
        for await (const page of store.subscribePages({ signal: controller.signal })) pages.push(page.map((e) => e.position));
      })();
      const queue = groupCommitFor(store);
      const groupsBefore = queue.stats.groups;
      // Asked in one turn of the event loop: one group, one transaction.
      const events = heartbeats(12, { agents: 12, prefix: 'grp' });
      const answers = await Promise.all(events.map((e) => queue.appendBatch([e])));
      expect(queue.stats.groups - groupsBefore).toBe(1);
      expect(answers.map((a) => a.lastPosition)).toEqual(Array.from({ length: 12 }, (_, i) => BigInt(i + 1)));
      await waitFor('the group read', () => pages.flat().length >= 12, { describe: () => pages });
      // A second group: its notification comes after any the first one sent, so by then both are counted.
      await queue.appendBatch(heartbeats(1, { prefix: 'grp-next' }));
      await waitFor('two notifications', () => notified.length >= 2, { describe: () => notified });
      await waitFor('the second group read', () => pages.flat().length >= 13, { describe: () => pages });
      controller.abort();
      await reading;
      expect(notified).toEqual(['12', '13']);
      expect(pages).toEqual([Array.from({ length: 12 }, (_, i) => BigInt(i + 1)), [13n]]);
    });

    it('readPages hands over pages of at most pageSize after a position, stopping exactly at a limit (reading ahead)', async () => {
      const store = await open(await freshDatabase(), { pageSize: 40 });
      await store.appendBatch(heartbeats(100));
      const lengths = async (options: { after?: bigint; limit?: number }) => (await collect(store.readPages(options))).map((p) => p.length);
      expect(await lengths({ after: 10n })).toEqual([40, 40, 10]);
      expect(await lengths({ after: 10n, limit: 80 })).toEqual([40, 40]);
      expect(await lengths({ after: 10n, limit: 85 })).toEqual([40, 40, 5]);
      expect(await lengths({ after: 100n })).toEqual([]);
      expect((await collect(store.readPages({ after: 10n, limit: 85 }))).flat().map((e) => e.position)).toEqual(Array.from({ length: 85 }, (_, i) => BigInt(i + 11)));
    });

    it('concurrent writers and a live follower: every event seen exactly once, positions 1, 2, 3… never skipped', async () => {
      const url = await freshDatabase();
      // Each writer is its own pool (as separate processes would be), and holds every append
      // transaction open a few random milliseconds before COMMIT, to give a reordering every chance.
      const writers = await Promise.all(
        Array.from({ length: 6 }, () =>
          open(url, { poolSize: 2, beforeCommit: () => sleep(Math.random() * 4) }),
        ),
      );
      const reader = await open(url, { pollIntervalMs: 2, pageSize: 7 });
      const { seen, written, problems } = await followWhileWriting({
        writers: 6,
        appendsPerWriter: 30,
        append: async (w, events) => {
          const store = writers[w]!;
          if (w % 2) await store.appendBatch(events);
          else await store.appendToStream(`agent-w${w}-x`, events);
        },
        follow: async function* (signal) {
          for await (const e of reader.subscribe({ signal })) yield { position: e.position, id: e.id };
        },
        head: async () => (await reader.head()) ?? 0n,
      });
      expect(problems).toEqual({ missing: [], duplicates: [], outOfOrder: [], jumps: [] });
      expect(seen.length).toBe(written.size);
      expect(seen.map((s) => s.position)).toEqual(seen.map((_, i) => BigInt(i + 1)));
    }, 60_000);

    it('the same check catches a naive bigserial log skipping events (so it proves something)', async () => {
      const url = await freshDatabase();
      const setup = new pg.Client({ connectionString: url });
      await setup.connect();
      await setup.query('CREATE TABLE naive_events (position bigserial PRIMARY KEY, id text NOT NULL UNIQUE)');
      await setup.end();
      const pools = Array.from({ length: 6 }, () => new pg.Pool({ connectionString: url, max: 2 }));
      const readerPool = new pg.Pool({ connectionString: url, max: 1 });
      // Dropping the database at cleanup terminates idle connections: not a test failure.
      for (const p of [...pools, readerPool]) p.on('error', () => undefined);
      cleanup(async () => {
        await Promise.all([...pools, readerPool].map((p) => p.end()));
      });
      const { problems } = await followWhileWriting({
        writers: 6,
        appendsPerWriter: 30,
        append: async (w, events) => {
          const c = await pools[w]!.connect();
          try {
            await c.query('BEGIN');
            await c.query('INSERT INTO naive_events (id) SELECT unnest($1::text[])', [events.map((e) => e.id)]);
            await sleep(Math.random() * 4);
            await c.query('COMMIT');
          } finally {
            c.release();
          }
        },
        // The same polling a real follower does: everything after the last position it saw.
        follow: async function* (signal) {
          let after = 0n;
          while (!signal.aborted) {
            const { rows } = await readerPool.query<{ position: string; id: string }>(
              'SELECT position, id FROM naive_events WHERE position > $1 ORDER BY position',
              [after.toString()],
            );
            for (const r of rows) {
              after = BigInt(r.position);
              yield { position: after, id: r.id };
            }
            await sleep(2);
          }
        },
        head: async () => BigInt((await readerPool.query<{ max: string | null }>('SELECT max(position) AS max FROM naive_events')).rows[0]!.max ?? 0),
      });
      expect(problems.missing.length).toBeGreaterThan(0);
    }, 60_000);

    it('a failed bulk append writes nothing and leaves no position gap; re-running completes it once', async () => {
      const url = await freshDatabase();
      let fail = false;
      const store = await open(url, {
        beforeCommit: async () => {
          if (fail) throw new Error('power cut');
        },
      });
      await store.appendBatch(heartbeats(5));
      const batch = heartbeats(20_000, { agents: 50 });
      fail = true;
      await expect(store.appendBatch(batch)).rejects.toMatchObject({ code: 'store-unavailable' });
      expect(await store.head()).toBe(5n);
      fail = false;
      await store.appendBatch(batch.slice(0, 7_000)); // an earlier, partial attempt that did commit
      expect(await store.appendBatch(batch)).toEqual({ appended: 13_000, duplicates: 7_000, lastPosition: 20_005n, firstPosition: 7_006n });
      const read = await collect(store.readAll({ after: 5n }));
      expect(read.map((e) => e.id)).toEqual(batch.map((e) => e.id));
      expect(read.map((e) => e.position)).toEqual(read.map((_, i) => BigInt(i + 6)));
    }, 60_000);

    it('several processes creating the schema at once all succeed; the version is recorded once', async () => {
      const url = await freshDatabase();
      const stores = await Promise.all(Array.from({ length: 4 }, () => open(url)));
      await Promise.all(stores.map((s, i) => s.appendBatch([makeEvent('AgentHeartbeat', { agentId: `p${i}` })])));
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const { rows } = await c.query('SELECT version FROM rollcall_schema');
      await c.end();
      expect(rows).toEqual([{ version: postgresSchemaVersion }]);
      expect(await stores[0]!.head()).toBe(4n);
    });

    it('refuses a database whose schema is newer than it understands', async () => {
      const url = await freshDatabase();
      const first = await open(url);
      await first.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query('INSERT INTO rollcall_schema (version) VALUES ($1)', [postgresSchemaVersion + 1]);
      await c.end();
      await expect(openPostgresStore({ url })).rejects.toMatchObject({
        code: 'store-unavailable',
        message: expect.stringMatching(/newer than this rollcall/),
      });
    });

    it('a live subscription rides out the server being unreachable, and still sees every event once', async () => {
      const url = await freshDatabase();
      const link = await startProxy(new URL(url));
      cleanup(link.close);
      const writer = await open(url);
      const reader = await open(link.url(url), { pollIntervalMs: 10, connectTimeoutMs: 300 });
      const first = heartbeats(3);
      const second = heartbeats(3);
      await writer.appendBatch(first);
      const ctl = new AbortController();
      const seen: string[] = [];
      const timer = setTimeout(() => ctl.abort(), 20_000);
      const following = (async () => {
        for await (const e of reader.subscribe({ signal: ctl.signal })) {
          seen.push(e.id);
          if (seen.length === 6) ctl.abort();
        }
      })();
      await waitFor('the first three events', () => seen.length >= 3);
      link.cut(); // every connection of the reader dies, and new ones are refused
      await writer.appendBatch(second);
      await waitFor('the reader to try again', () => link.refused() > 0);
      expect(link.refused()).toBeGreaterThan(0); // the reader really kept trying meanwhile
      expect(seen).toHaveLength(3);
      link.restore();
      await following;
      clearTimeout(timer);
      expect(seen).toEqual([...first, ...second].map((e) => e.id));
    }, 30_000);

    it('masks the password in its url', async () => {
      const url = new URL(await freshDatabase());
      url.password = 's3cret';
      const store = await open(url.toString());
      expect(store.url).toContain(':***@');
      expect(store.url).not.toContain('s3cret');
    });
  });
}
