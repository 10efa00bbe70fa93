import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/ingest/appendEvents.js';
import { openPostgresStore } from '../../src/stores/postgresStore.js';
import { cli, ndjsonFile } from '../support/cli.js';
import { heartbeats as events } from '../support/events.js';
import { postgresForTests } from '../support/postgres.js';
import { waitFor } from '../support/waitFor.js';

// What PostgreSQL itself would refuse (NUL, lone surrogates in jsonb; absurd nesting) is refused at
// validation, so an append past any chunk size is still all or nothing, with the line named.

const at = '2026-11-20T10:00:00.000Z';
const heartbeats = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'AgentHeartbeat', data: { agentId: `a${i % 9}` }, metadata: { at } }));
const deepJson = (n: number): string => `${'{"d":'.repeat(n)}"x"${'}'.repeat(n)}`;

const { server, freshDatabase } = await postgresForTests('all');

const countRows = async (url: string): Promise<number> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query(`SELECT to_regclass('rollcall_events') AS t`);
    if (exists.rows[0].t === null) return 0;
    return Number((await client.query('SELECT count(*) AS n FROM rollcall_events')).rows[0].n);
  } finally {
    await client.end();
  }
};

describe('append to PostgreSQL past 50,000 events is all or nothing', () => {
  it.each([
    ['a NUL in a string', JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'a\u0000' }, metadata: { at } }), 'rollcall: line 60001: data.agentId: contains a NUL character (\\u0000), which PostgreSQL cannot store; no store accepts it'],
    ['a lone surrogate', `{"type":"AgentHeartbeat","data":{"agentId":"a1"},"metadata":{"at":"${at}","source":"\\ud83d"}}`, 'rollcall: line 60001: metadata.source: contains a lone UTF-16 surrogate (an unpaired \\ud800–\\udfff escape), which is not text; no store accepts it'],
    ['metadata nested 5,000 deep', `{"type":"AgentHeartbeat","data":{"agentId":"a1"},"metadata":{"at":"${at}","x":${deepJson(5000)}}}`, 'rollcall: line 60001: metadata.x…: nested deeper than 64 levels'],
  ])('%s on line 60,001: exit 2 naming it, nothing written', async (_name, bad, message) => {
    if (!server) return;
    const url = await freshDatabase();
    expect((await cli(['append', '--store', url, ndjsonFile(heartbeats(3))])).code).toBe(0);
    const r = await cli(['append', '--store', url, ndjsonFile([...heartbeats(60_000), bad])]);
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.code).toBe(2);
    expect(await countRows(url)).toBe(3);
  }, 120_000);

  it('60,001 valid events go in as one transaction: one contiguous range', async () => {
    if (!server) return;
    const url = await freshDatabase();
    const r = await cli(['append', '--store', url, ndjsonFile(heartbeats(60_001))]);
    expect(r.stdout).toMatch(/^appended 60001 event\(s\) to postgres:\/\/.*, positions 1–60001\n$/);
    expect(await countRows(url)).toBe(60_001);
  }, 120_000);

  it('the library append reports index and path, and writes nothing', async () => {
    if (!server) return;
    const store = await openPostgresStore({ url: await freshDatabase() });
    try {
      const events = [...heartbeats(2), { type: 'AgentHeartbeat', data: { agentId: 'x\u0000' }, metadata: { at } }];
      const r = await appendEvents(store, events);
      expect(r.success).toBe(false);
      expect(!r.success && [r.error.code, r.error.index, r.error.path]).toEqual(['invalid-event', 2, 'data.agentId']);
      expect(await store.head()).toBeNull();
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('appends waiting for the append lock never take the connections reads need', () => {
  const APPEND_LOCK = '8245928655518264428'; // the default log's append lock
  const lockWaiters = async (c: pg.Client) =>
    (await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`)).rows[0].n as number;

  it.each([2, 4])('a pool of %i: with the lock held elsewhere and more appends than connections queued, the head and a page still answer at once', async (poolSize) => {
    if (!server) return;
    const url = await freshDatabase();
    const store = await openPostgresStore({ url, poolSize });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      expect((await store.appendBatch(events(1))).lastPosition).toBe(1n);
      await holder.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK]);
      const appends = Array.from({ length: poolSize + 2 }, () => store.appendBatch(events(1)).then(() => 'appended', (e: { code?: string }) => e.code ?? 'thrown'));
      await waitFor('an append waiting for the lock', async () => (await lockWaiters(holder)) > 0);
      // Reads get the connection kept for them, well within the pool's 3 s wait for a client.
      const started = Date.now();
      expect(await store.head()).toBe(1n);
      let read = 0;
      for await (const page of store.readPages()) read += page.length;
      expect(read).toBe(1);
      expect(Date.now() - started).toBeLessThan(2_000);
      // Never more than pool − 1 of this process's connections wait for the lock.
      expect(await lockWaiters(holder)).toBeLessThanOrEqual(poolSize - 1);
      await holder.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK]);
      const outcomes = await Promise.all(appends);
      // Each append is stored or refused as unavailable (its wait for a connection bounded); none lost or doubled.
      for (const o of outcomes) expect(['appended', 'store-unavailable']).toContain(o);
      expect(await countRows(url)).toBe(1 + outcomes.filter((o) => o === 'appended').length);
    } finally {
      await holder.end();
      await store.close();
    }
  }, 60_000);
});
