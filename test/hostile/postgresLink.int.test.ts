import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { finished, ndjsonFile, spawnBuilt } from '../support/cli.js';
import { postgresForTests } from '../support/postgres.js';
import { startServe } from '../support/serveProcess.js';
import { startProxy } from '../support/tcpProxy.js';
import { waitFor } from '../support/waitFor.js';

// The connection under an append dies (pg_terminate_backend, as a failover or a restart does):
// the writer answers 503 / exits 3 with one line, and a server lives on to take the next append.

const APPEND_LOCK = '8245928655518264428'; // 0x726f6c6c63616c6c, the default log's append lock
const at = '2026-11-20T10:00:00.000Z';
const line = (agentId: string) => JSON.stringify({ type: 'AgentHeartbeat', data: { agentId }, metadata: { at } });

const { server, freshDatabase } = await postgresForTests('all');

const session = async (url: string) => {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
};

/** Holds the append lock from another session until `release`. */
const holdAppendLock = async (url: string) => {
  const c = await session(url);
  await c.query('SELECT pg_advisory_lock($1)', [APPEND_LOCK]);
  return {
    client: c,
    release: async () => {
      await c.query('SELECT pg_advisory_unlock($1)', [APPEND_LOCK]);
      await c.end();
    },
  };
};

/** Waits until some session waits for the append lock, then terminates every session of the database but `keep`'s. */
const terminateOnceWaiting = async (url: string, keep: pg.Client) => {
  await waitFor('an append waiting for the append lock', async () => {
    const r = await keep.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
    );
    return r.rows[0].n > 0;
  });
  const r = await keep.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  expect(r.rows[0].n).toBeGreaterThan(0);
  void url;
};

describe('a PostgreSQL connection terminated under an append', () => {
  it('serve answers 503, lives on, and takes the next append (201)', async () => {
    if (!server) return;
    const url = await freshDatabase();
    const serve = await startServe(url);
    let exit: number | null | undefined;
    try {
      const post = (body: string) => fetch(`${serve.url}v1/events`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
      expect((await post(line('a1'))).status).toBe(201);

      const lock = await holdAppendLock(url);
      const inFlight = post(line('a2'));
      await terminateOnceWaiting(url, lock.client);
      const res = await inFlight;
      const body = (await res.json()) as { error: string; message: string };
      expect(res.status).toBe(503);
      expect(body.error).toBe('store-unavailable');
      await lock.release();

      expect((await fetch(`${serve.url}healthz`)).status).toBe(200);
      const next = await post(line('a3'));
      expect(next.status).toBe(201);
      expect(((await next.json()) as { last: string }).last).toBe('2');
    } finally {
      exit = await serve.stop();
    }
    expect(exit).toBe(0); // drained and stopped, not crashed earlier
  }, 60_000);

  it('CLI append exits 3 with one line, and nothing is written', async () => {
    if (!server) return;
    const url = await freshDatabase();
    const first = await finished(spawnBuilt(['append', '--store', url, ndjsonFile([line('a1')])], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(first.code).toBe(0);

    const lock = await holdAppendLock(url);
    const run = finished(spawnBuilt(['append', '--store', url, ndjsonFile([line('a2')])], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await terminateOnceWaiting(url, lock.client);
    const r = await run;
    await lock.release();
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^rollcall: postgres:\/\/[^\n]*: append: [^\n]*\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);

    const c = await session(url);
    try {
      expect((await c.query('SELECT count(*)::int AS n FROM rollcall_events')).rows[0].n).toBe(1);
    } finally {
      await c.end();
    }
  }, 60_000);
});

describe('a silent partition (packets held, no reset)', () => {
  it('turns /readyz 503 within seconds (the read timeout), and 200 again once the link resumes', async () => {
    if (!server) return;
    const url = await freshDatabase();
    const proxy = await startProxy(new URL(url));
    const serve = await startServe(`${proxy.url(url)}?read_timeout=1000`);
    try {
      const ready = async () => (await fetch(`${serve.url}readyz`)).status;
      await waitFor('ready before the partition', async () => (await ready()) === 200);
      proxy.pause();
      const started = Date.now();
      await waitFor('readyz 503 during the partition', async () => (await ready()) === 503, { timeoutMs: 20_000, intervalMs: 100 });
      expect(Date.now() - started).toBeLessThan(20_000);
      proxy.resume();
      await waitFor('ready after the partition', async () => (await ready()) === 200, { timeoutMs: 30_000, intervalMs: 100 });
    } finally {
      proxy.resume();
      await serve.stop();
      await proxy.close();
    }
  }, 90_000);

  it('a POST during the partition is answered 503 within statement_timeout + 5 s (the documented bound), and one after it 201', async () => {
    if (!server) return;
    const url = await freshDatabase();
    const proxy = await startProxy(new URL(url));
    const serve = await startServe(`${proxy.url(url)}?read_timeout=1000&statement_timeout=1000`);
    try {
      const post = (agentId: string) => fetch(`${serve.url}v1/events`, { method: 'POST', body: line(agentId), headers: { 'content-type': 'application/x-ndjson' } });
      expect((await post('a1')).status).toBe(201);
      proxy.pause();
      const started = Date.now();
      const res = await post('a2');
      const took = Date.now() - started;
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe('store-unavailable');
      // statement_timeout (1 s) + 5 s, plus a connect timeout (3 s) should the pool open a new connection.
      expect(took).toBeLessThan(1_000 + 5_000 + 3_000 + 2_000);
      proxy.resume();
      await waitFor('an append taken after the partition', async () => (await post('a3')).status === 201, { timeoutMs: 30_000, intervalMs: 200 });
    } finally {
      proxy.resume();
      await serve.stop();
      await proxy.close();
    }
  }, 90_000);
});
