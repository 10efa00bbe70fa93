import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { LifecycleEvent } from '../src/events/lifecycleEvents.js';
import type { EventStore } from '../src/stores/eventStore.js';
import { openSqliteStore } from '../src/stores/sqliteStore.js';

export interface StoreBenchResult {
  name: string;
  eventsPerSec: number;
  note?: string;
}

export interface StoreBenchOptions {
  events: number;
  /** Admin URL of a PostgreSQL server; a throwaway database is created on it. Skipped when absent or unreachable. */
  pgUrl?: string;
  /** Events per appendBatch call. Default 10,000. */
  chunk?: number;
}

/** A realistic mix of small lifecycle events over 1,000 agents (ids are random v4 UUIDs, as producers send). */
const makeEvents = (count: number): LifecycleEvent[] => {
  const events: LifecycleEvent[] = [];
  const t0 = Date.UTC(2026, 10, 20);
  for (let i = 0; i < count; i++) {
    const agentId = `agent-${i % 1000}`;
    const metadata = { at: new Date(t0 + i * 10).toISOString(), source: 'bench', correlationId: `c-${i >> 4}` };
    const id = randomUUID();
    events.push(
      i % 4 === 0
        ? { id, type: 'AgentSpawned', data: { agentId, sessionId: `s-${i}`, poolId: 'pool-1', pid: 1000 + (i % 30000), generation: i % 7 }, metadata }
        : i % 4 === 1
          ? { id, type: 'RunStarted', data: { agentId, sessionId: `s-${i - 1}`, generation: i % 7 }, metadata }
          : { id, type: 'AgentHeartbeat', data: { agentId }, metadata },
    );
  }
  return events;
};

const rate = (count: number, ms: number): number => Math.round((count / ms) * 1000);

const timeAppend = async (store: EventStore, events: readonly LifecycleEvent[], chunk: number): Promise<number> => {
  const started = performance.now();
  for (let i = 0; i < events.length; i += chunk) await store.appendBatch(events.slice(i, i + chunk));
  return performance.now() - started;
};

/** Reads everything back (rows fetched, data and metadata JSON-parsed into StoredEvents). */
const timeRead = async (store: EventStore, expected: number): Promise<number> => {
  const started = performance.now();
  let n = 0;
  for await (const e of store.readAll()) if (e.position > 0n) n++;
  const ms = performance.now() - started;
  if (n !== expected) throw new Error(`read ${n} events, expected ${expected}`);
  return ms;
};

const benchSqlite = async (events: readonly LifecycleEvent[], chunk: number): Promise<StoreBenchResult[]> => {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-'));
  const store = openSqliteStore({ path: join(dir, 'bench.db') });
  try {
    const appendMs = await timeAppend(store, events, chunk);
    const readMs = await timeRead(store, events.length);
    return [
      { name: 'sqlite bulk append', eventsPerSec: rate(events.length, appendMs), note: `${events.length} events, appendBatch chunks of ${chunk}, WAL + synchronous=FULL` },
      { name: 'sqlite readAll', eventsPerSec: rate(events.length, readMs), note: 'pages of 10,000 rows, data + metadata JSON.parse' },
    ];
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

const benchPostgres = async (events: readonly LifecycleEvent[], chunk: number, adminUrl: string): Promise<StoreBenchResult[]> => {
  const skipped = (note: string): StoreBenchResult[] => [
    { name: 'postgres bulk append', eventsPerSec: 0, note },
    { name: 'postgres readAll', eventsPerSec: 0, note },
  ];
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
  } catch (e) {
    return skipped(`skipped: no PostgreSQL server at ${adminUrl.replace(/:[^:@/]*@/, ':***@')} (${(e as Error).message})`);
  }
  const database = `rollcall_bench_${randomUUID().slice(0, 8)}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  // Loaded lazily, like openStore does: the embedded benchmark never needs it.
  const { openPostgresStore } = await import('../src/stores/postgresStore.js');
  const store = await openPostgresStore({ url: url.toString() });
  try {
    const appendMs = await timeAppend(store, events, chunk);
    const readMs = await timeRead(store, events.length);
    return [
      { name: 'postgres bulk append', eventsPerSec: rate(events.length, appendMs), note: `${events.length} events, appendBatch chunks of ${chunk}` },
      { name: 'postgres readAll', eventsPerSec: rate(events.length, readMs), note: 'pages of 10,000 rows, next page prefetched, JSON.parse' },
    ];
  } finally {
    await store.close();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
};

/** Bulk append and full replay throughput of the embedded and PostgreSQL stores. */
export async function benchStores(opts: StoreBenchOptions): Promise<StoreBenchResult[]> {
  const chunk = opts.chunk ?? 10_000;
  const events = makeEvents(opts.events);
  const results = await benchSqlite(events, chunk);
  const pgUrl = opts.pgUrl ?? process.env['ROLLCALL_BENCH_PG_URL'] ?? process.env['ROLLCALL_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  results.push(...(await benchPostgres(events, chunk, pgUrl)));
  return results;
}

// `node --import tsx bench/stores.ts [EVENTS] [CHUNK]`
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const events = Number(process.argv[2] ?? 1_000_000);
  const chunk = Number(process.argv[3] ?? 10_000);
  const results = await benchStores({ events, chunk });
  for (const r of results) {
    console.log(`${r.name.padEnd(22)} ${r.eventsPerSec.toLocaleString('en-US').padStart(12)} events/s${r.note ? `  (${r.note})` : ''}`);
  }
}
