import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { EventStore, StoredEvent } from '../../src/stores/eventStore.js';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/stores/postgresStore.js';
import { openStore } from '../../src/stores/openStore.js';
import { heartbeats } from '../support/events.js';
import { canStartPgCluster, startPgCluster, type PgCluster } from '../support/pgCluster.js';
import { postgresForTests } from '../support/postgres.js';
import { waitFor } from '../support/waitFor.js';
import { collect, describeEventStoreConformance } from './conformance.js';

/*
 * PostgreSQL the way operators run it: pool size, statement timeout, TLS settings passed through,
 * a schema of its own, and followers reading from a streaming hot standby.
 */

const { server, freshDatabase, cleanup } = await postgresForTests('each');

const withQuery = (url: string, query: string): string => `${url}${url.includes('?') ? '&' : '?'}${query}`;

const open = async (url: string, options: Partial<PostgresStoreOptions> = {}): Promise<EventStore> => {
  const store = await openPostgresStore({ url, pollIntervalMs: 20, ...options });
  cleanup(() => store.close());
  return store;
};

const admin = async <T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
};

const rejection = (p: Promise<unknown>): Promise<Error & { code?: string }> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error & { code?: string }) => e,
  );

if (!server) {
  describe.skip('postgres operations (no PostgreSQL server reachable; see the notice above)', () => {
    it('needs a server', () => undefined);
  });
} else {
  // The whole contract again, on a second database, in a schema that is not the default.
  describeEventStoreConformance(
    'postgres (?schema=rollcall_alt)',
    async () => {
      const db = await server.createDatabase();
      const url = withQuery(db.url, 'schema=rollcall_alt');
      const store = await openPostgresStore({ url, pollIntervalMs: 20 });
      return {
        store,
        async cleanup() {
          await store.close();
          await db.drop();
        },
        async breakServer() {
          await admin(db.url, (c) => c.query('DROP SCHEMA rollcall_alt CASCADE'));
        },
      };
    },
    { gaplessPositions: true, largeBatch: 20_000 },
  );

  describe('postgres URL parameters on the local server', () => {
    it('?schema= keeps the tables in that schema: two schemas of one database are two independent logs', async () => {
      const url = await freshDatabase();
      const a = await open(withQuery(url, 'schema=fleet_a'));
      const b = await openStore(withQuery(url, 'schema=fleet_b'));
      cleanup(() => b.close());
      await a.appendBatch(heartbeats(5, { prefix: 'a' }));
      await b.appendBatch(heartbeats(3, { prefix: 'b' }));
      expect(await a.head()).toBe(5n);
      expect(await b.head()).toBe(3n);
      expect((await collect(b.readAll())).map((e) => e.stream)).toEqual(['agent-b0', 'agent-b1', 'agent-b2']);
      const tables = await admin(url, (c) =>
        c.query<{ s: string; t: string }>(
          `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
           WHERE table_name LIKE 'rollcall%' ORDER BY 1, 2`,
        ),
      );
      expect(tables.rows.map((r) => `${r.s}.${r.t}`)).toEqual([
        'fleet_a.rollcall_events',
        'fleet_a.rollcall_head',
        'fleet_a.rollcall_schema',
        'fleet_a.rollcall_snapshots',
        'fleet_b.rollcall_events',
        'fleet_b.rollcall_head',
        'fleet_b.rollcall_schema',
        'fleet_b.rollcall_snapshots',
      ]);
      // The default log of the same database is a third, empty one.
      const plain = await open(url);
      expect(await plain.head()).toBeNull();
    });

    it('?max= bounds the pool, and application_name reaches the server', async () => {
      const url = await freshDatabase();
      const name = `rc_${randomBytes(4).toString('hex')}`;
      const connections = async () =>
        admin(url, async (c) => {
          const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]);
          return rows[0]!.n;
        });
      const small = await open(withQuery(url, `max=2&application_name=${name}`));
      await Promise.all(Array.from({ length: 30 }, () => small.head()));
      expect(await connections()).toBe(2);
      await small.close();
      const large = await open(withQuery(url, `max=6&application_name=${name}`));
      // Each read holds its connection until its page arrives: 30 at once fill the pool.
      await large.appendBatch(heartbeats(2000));
      await Promise.all(Array.from({ length: 30 }, () => collect(large.readAll())));
      const n = await connections();
      expect(n).toBeGreaterThan(2);
      expect(n).toBeLessThanOrEqual(6);
    });

    it('?statement_timeout= cancels a statement that waits too long: store-unavailable, saying why', async () => {
      const url = await freshDatabase();
      const store = await open(withQuery(url, 'statement_timeout=200'));
      await store.appendBatch(heartbeats(3));
      const blocker = new pg.Client({ connectionString: url });
      await blocker.connect();
      cleanup(() => blocker.end());
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE rollcall_head IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const error = await rejection(store.head());
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toMatchObject({ code: 'store-unavailable' });
      expect(error.message).toMatch(/statement timeout/);
      await blocker.query('ROLLBACK');
      expect(await store.head()).toBe(3n);
    });

    it('TLS settings reach node-postgres: sslmode=require against a server without TLS is refused, password masked', async () => {
      const u = new URL(await freshDatabase());
      u.password = 'hunter2';
      u.search = '?sslmode=require';
      const error = await rejection(openStore(u.toString()));
      expect(error).toMatchObject({ code: 'store-unavailable' });
      expect(error.message).toMatch(/does not support SSL/);
      expect(error.message).toContain(':***@');
      expect(error.message).not.toContain('hunter2');
    });

    it('a read-only server (as a hot standby is) opens for reading: followers read, appends are refused, snapshots are not written', async () => {
      const url = await freshDatabase();
      const primary = await open(url);
      await primary.appendBatch(heartbeats(10));
      await primary.snapshots!.save({ name: 'lifecycle', version: 1, position: 10n, payload: '{}' });
      const follower = await open(withQuery(url, 'options=-c%20default_transaction_read_only%3Don'));
      expect((await collect(follower.readAll())).map((e) => e.position)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
      expect(await follower.snapshots!.load('lifecycle')).toMatchObject({ position: 10n });
      const refused = await rejection(follower.appendBatch(heartbeats(1)));
      expect(refused).toMatchObject({ code: 'store-unavailable' });
      expect(refused.message).toMatch(/read-only.*appends go to the primary/);
      await follower.snapshots!.save({ name: 'lifecycle', version: 1, position: 99n, payload: '{"x":1}' });
      expect(await primary.snapshots!.load('lifecycle')).toMatchObject({ position: 10n });
      // A database rollcall never created cannot be created from a read-only session.
      const empty = await freshDatabase();
      const never = await rejection(openStore(withQuery(empty, 'options=-c%20default_transaction_read_only%3Don')));
      expect(never).toMatchObject({ code: 'store-unavailable' });
      expect(never.message).toMatch(/read-only .*schema is at version 0.*open the store once on the primary first/);
    });
  });
}

// A private primary with a streaming standby, and TLS, built from the local server binaries.
describe('postgres with a streaming hot standby and TLS (private cluster)', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    if (!canStartPgCluster() && process.env['CI'] !== 'true') {
      throw new Error('PostgreSQL server binaries are not installed (initdb, pg_ctl, pg_basebackup)');
    }
    cluster = await startPgCluster();
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('sslmode=verify-full with sslrootcert, and libpq-style require, connect over TLS; without the CA both verifying modes are refused', async () => {
    const name = `rc_tls_${randomBytes(3).toString('hex')}`;
    const tlsUrl = cluster.primaryUrl.replace('127.0.0.1', 'localhost');
    const verified = await open(withQuery(tlsUrl, `sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.caFile)}&application_name=${name}`));
    await verified.appendBatch(heartbeats(2));
    // node-postgres verifies the certificate for sslmode=require too (as verify-full);
    // uselibpqcompat=true gives libpq's meaning: encrypted, not verified.
    const required = await open(withQuery(cluster.primaryUrl, `uselibpqcompat=true&sslmode=require&application_name=${name}`));
    expect(await required.head()).toBe(2n);
    const ssl = await admin(cluster.primaryUrl, (c) =>
      c.query<{ ssl: boolean }>(
        'SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1',
        [name],
      ),
    );
    expect(ssl.rows.length).toBeGreaterThanOrEqual(2);
    expect(ssl.rows.every((r) => r.ssl)).toBe(true);
    for (const mode of ['sslmode=verify-full', 'sslmode=require']) {
      const untrusted = await rejection(openStore(withQuery(tlsUrl, mode)));
      expect(untrusted, mode).toMatchObject({ code: 'store-unavailable' });
      expect(untrusted.message, mode).toMatch(/certificate/i);
    }
  }, 60_000);

  it('a follower on the standby sees every event the primary commits, later but never skipped or out of order', async () => {
    const db = `rc_${randomBytes(4).toString('hex')}`;
    await admin(cluster.primaryUrl, (c) => c.query(`CREATE DATABASE ${db}`));
    const primaryUrl = cluster.primaryUrl.replace(/\/postgres$/, `/${db}`);
    const standbyUrl = cluster.standbyUrl.replace(/\/postgres$/, `/${db}`);
    const writer = await open(primaryUrl);
    // The standby replays the schema's creation before a follower can open there.
    const follower: EventStore | undefined = await waitFor('the follower to open on the standby', () => open(standbyUrl).catch(() => undefined), { intervalMs: 100 });
    expect(follower, 'the follower opened on the standby').toBeDefined();
    const total = 6_000;
    const controller = new AbortController();
    const seen: StoredEvent[] = [];
    const lags: number[] = [];
    const committedAt = new Map<bigint, number>();
    const following = (async () => {
      for await (const e of follower!.subscribe({ signal: controller.signal })) {
        seen.push(e);
        const t = committedAt.get(e.position);
        if (t !== undefined) lags.push(Date.now() - t);
        if (seen.length >= total) controller.abort();
      }
    })();
    const events = heartbeats(total, { agents: 200 });
    for (let i = 0; i < total; i += 200) {
      const r = await writer.appendBatch(events.slice(i, i + 200));
      committedAt.set(r.lastPosition!, Date.now());
    }
    const timer = setTimeout(() => controller.abort(), 60_000);
    await following;
    clearTimeout(timer);
    expect(seen.map((e) => e.position)).toEqual(Array.from({ length: total }, (_, i) => BigInt(i + 1)));
    expect(seen.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(lags.length).toBeGreaterThan(0);
    const refused = await rejection(follower!.appendBatch(heartbeats(1)));
    expect(refused).toMatchObject({ code: 'store-unavailable' });
    // A snapshot the primary's processes save reaches the standby's followers.
    await writer.snapshots!.save({ name: 'lifecycle', version: 1, position: BigInt(total), payload: '{}' });
    const loaded = await waitFor('the snapshot on the standby', () => follower!.snapshots!.load('lifecycle'), { intervalMs: 50 });
    expect(loaded).toMatchObject({ position: BigInt(total) });
    lags.sort((a, b) => a - b);
    console.log(`standby follower lag over ${lags.length} commits: p50 ${lags[Math.floor(lags.length / 2)]} ms, max ${lags.at(-1)} ms`);
  }, 120_000);
});
