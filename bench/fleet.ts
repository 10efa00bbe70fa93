// The whole service path under a fleet's load (issue 19): `rollcall serve` on a store seeded with
// --events events, 32 writers each POSTing one event at a time (as an orchestrator reports a
// transition), readers on GET /v1/pools (autocannon in a process of its own), and an SSE client on
// /v1/changes timing how late each POSTed position arrives. Each figure is printed beside what the same run measured without the
// load (/v1/pools idle; the SSE lag of one writer alone) or without rollcall (a bare
// one-row-per-transaction loop on the same disk / server: better-sqlite3 with WAL and
// synchronous=FULL; node-postgres autocommit INSERTs).
// SQLite, then PostgreSQL when a server is reachable (ROLLCALL_BENCH_PG_URL / ROLLCALL_TEST_PG_URL).
// Needs dist/ (npm run build).
//
//   node --import tsx bench/fleet.ts [--events 1000000] [--agents 10000] [--seconds 10]
//                                    [--writers 32] [--readers 8] [--stores sqlite,postgres]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { EventSource } from 'eventsource';
import pg from 'pg';
import type { LifecycleEvent } from '../src/events/lifecycleEvents.js';
import { generateHistory } from '../src/generate/generateHistory.js';
import type { EventStore } from '../src/stores/eventStore.js';
import { openPostgresStore } from '../src/stores/postgresStore.js';
import { openSqliteStore } from '../src/stores/sqliteStore.js';
import { settled, startServe } from './serveProcess.js';
import { throwawayDatabase } from './throwawayDatabase.js';

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: process.env['BENCH_FLEET_EVENTS'] ?? '1000000' },
    agents: { type: 'string', default: process.env['BENCH_AGENTS'] ?? '10000' },
    seconds: { type: 'string', default: process.env['BENCH_FLEET_SECONDS'] ?? '10' },
    writers: { type: 'string', default: '32' },
    readers: { type: 'string', default: '8' },
    stores: { type: 'string', default: process.env['BENCH_FLEET_STORES'] ?? 'sqlite,postgres' },
  },
});
const EVENTS = Number(flags.events);
const AGENTS = Number(flags.agents);
const SECONDS = Number(flags.seconds);
const WRITERS = Number(flags.writers);
const READERS = Number(flags.readers);
const PG_ADMIN = process.env['ROLLCALL_BENCH_PG_URL'] ?? process.env['ROLLCALL_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const percentile = (sorted: readonly number[], p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);
const ms = (v: number) => `${v.toFixed(1).padStart(6)} ms`;

/** Seeds a store through the library (10,000 events per append), as `rollcall append` would. */
const seed = async (store: EventStore) => {
  let batch: LifecycleEvent[] = [];
  for (const e of generateHistory({ agents: AGENTS, events: EVENTS, seed: 'bench-fleet' })) {
    batch.push(e as LifecycleEvent);
    if (batch.length === 10_000) {
      await store.appendBatch(batch);
      batch = [];
    }
  }
  if (batch.length) await store.appendBatch(batch);
};

/** `SECONDS` of a bare loop committing one row per transaction (WAL, synchronous=FULL) on the same disk. */
const bareSqlite = (dir: string): number => {
  const db = new Database(join(dir, 'bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  const body = JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'bench-1' }, metadata: { at: new Date().toISOString() } });
  const end = performance.now() + SECONDS * 1000;
  let rows = 0;
  while (performance.now() < end) {
    insert.run(body);
    rows++;
  }
  db.close();
  return rows / SECONDS;
};

/** The same against PostgreSQL: one connection, one autocommit INSERT per row. */
const barePostgres = async (url: string): Promise<number> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE TABLE bare (id bigserial PRIMARY KEY, body json NOT NULL)');
  const body = JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: 'bench-1' }, metadata: { at: new Date().toISOString() } });
  const end = performance.now() + SECONDS * 1000;
  let rows = 0;
  while (performance.now() < end) {
    await c.query('INSERT INTO bare (body) VALUES ($1)', [body]);
    rows++;
  }
  await c.query('DROP TABLE bare');
  await c.end();
  return rows / SECONDS;
};

const autocannonCli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/**
 * `READERS` connections on GET /v1/pools for `SECONDS`, from autocannon's CLI in a process of its
 * own: in this one the readers would share the event loop with the writers and the SSE client, and
 * the figure would be this loop's, not serve's.
 */
const readers = (url: string) =>
  new Promise<autocannon.Result>((resolve, reject) => {
    const child = spawn(process.execPath, [autocannonCli, '--json', '--connections', String(READERS), '--duration', String(SECONDS), `${url}/v1/pools`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as autocannon.Result);
      else reject(new Error(`autocannon exited ${code}: ${err.trim().split('\n').at(-1) ?? ''}`));
    });
  });

/** The server's group-commit counters (GET /metrics). */
const groupCounts = async (url: string): Promise<{ groups: number; requests: number }> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { groups: read('rollcall_append_groups_total'), requests: read('rollcall_append_requests_total') };
};

interface WriteLoad {
  events: number;
  latencies: number[];
  errors: number;
  /** SSE lag per POSTed position (answer → change frame), ms; a frame that came first counts 0. */
  lags: number[];
  seconds: number;
  /** Requests per append transaction over the run (rollcall_append_requests_total / rollcall_append_groups_total). */
  perGroup: number;
}

/**
 * One writer's keep-alive connection: each POST is written as one piece (the same request line and
 * headers node:http sends) and its answer read by its Content-Length. node:http's request and
 * response objects, parser and events cost the load generator, which shares the two cores with
 * serve, about as much CPU per POST as serve's own main thread; the server sees the same requests.
 */
const writerConnection = async (host: string, port: number) => {
  const socket = connect({ host, port, noDelay: true });
  await once(socket, 'connect');
  const head = `POST /v1/events HTTP/1.1\r\ncontent-type: application/json\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\ncontent-length: `;
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: { resolve: (r: { status: number; text: string }) => void; reject: (e: Error) => void } | null = null;
  const fail = (e: Error) => {
    const w = waiting;
    waiting = null;
    w?.reject(e);
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0 || waiting === null) return;
    const header = buffered.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(header);
    if (length === null) return fail(new Error(`an answer without Content-Length: ${header}`));
    const total = end + 4 + Number(length[1]);
    if (buffered.length < total) return;
    const text = buffered.toString('utf8', end + 4, total);
    buffered = buffered.subarray(total);
    const w = waiting;
    waiting = null;
    w.resolve({ status: Number(header.slice(9, 12)), text });
  });
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('the server closed a writer connection')));
  return {
    post: (body: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        waiting = { resolve, reject };
        socket.write(`${head}${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }),
    close: () => socket.destroy(),
  };
};

/** `writers` loops, each POSTing one heartbeat and waiting for the answer; an SSE client timing each position. */
const writeLoad = async (url: string, durationMs: number, writers = WRITERS): Promise<WriteLoad> => {
  const { hostname, port } = new URL(url);
  const answered = new Map<string, number>();
  const framed = new Map<string, number>();
  const lags: number[] = [];
  const es = new EventSource(`${url}/v1/changes`);
  await new Promise<void>((resolve) => es.addEventListener('caught-up', () => resolve(), { once: true }));
  es.addEventListener('change', (e) => {
    const now = performance.now();
    const at = answered.get(e.lastEventId);
    if (at === undefined) framed.set(e.lastEventId, now);
    else {
      answered.delete(e.lastEventId);
      lags.push(now - at);
    }
  });
  // Heartbeats of the fleet's running agents (else of agents it does not know: anomalies).
  const running = ((await (await fetch(`${url}/v1/running`)).json()) as { running: string[] }).running;
  const agentIds = running.length > 0 ? running : Array.from({ length: 100 }, (_, i) => `bench-${i}`);
  const result: WriteLoad = { events: 0, latencies: [], errors: 0, lags, seconds: 0, perGroup: NaN };
  const connections = await Promise.all(Array.from({ length: writers }, () => writerConnection(hostname, Number(port))));
  const before = await groupCounts(url);
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    connections.map(async ({ post }, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const body = JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: agentIds[(w * 7919 + i) % agentIds.length] }, metadata: { at: new Date().toISOString() } });
        const t0 = performance.now();
        const res = await post(body);
        const t1 = performance.now();
        if (res.status !== 201) {
          result.errors++;
          continue;
        }
        result.events++;
        result.latencies.push(t1 - t0);
        const last = (JSON.parse(res.text) as { last: string }).last;
        const frame = framed.get(last);
        if (frame === undefined) answered.set(last, t1);
        else {
          framed.delete(last);
          lags.push(0);
        }
      }
    }),
  );
  result.seconds = (performance.now() - started) / 1000;
  const after = await groupCounts(url);
  result.perGroup = (after.requests - before.requests) / Math.max(1, after.groups - before.groups);
  // Let the last frames arrive (the SSE stream follows the log), then stop timing.
  const deadline = performance.now() + 5_000;
  while (answered.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  es.close();
  for (const c of connections) c.close();
  result.latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return result;
};

const report = (name: string, bare: number, idle: autocannon.Result, busy: autocannon.Result, w: WriteLoad, alone: WriteLoad, startLoad: string) => {
  const rate = w.events / w.seconds;
  console.log(`\n${name}: rollcall serve, ${fmt(EVENTS)}-event store, ${WRITERS} writers × one event per POST, ${READERS} readers on /v1/pools, ${SECONDS} s per phase (${cpus().length} cores, load ${startLoad} at start, ${load()} at end)`);
  console.log(`  baseline: bare one-row-per-transaction loop     ${fmt(bare).padStart(8)} rows/s`);
  console.log(`  single-event POSTs                              ${fmt(rate).padStart(8)} events/s  p50 ${ms(percentile(w.latencies, 0.5))}  p99 ${ms(percentile(w.latencies, 0.99))}  errors ${w.errors}  (${(rate / bare).toFixed(1)}× the bare loop; ${w.perGroup.toFixed(1)} requests per transaction)`);
  console.log(`  baseline: GET /v1/pools, no writes              ${fmt(idle.requests.average).padStart(8)} req/s     p50 ${ms(idle.latency.p50)}  p99 ${ms(idle.latency.p99)}`);
  console.log(
    `  GET /v1/pools under the writes                  ${fmt(busy.requests.average).padStart(8)} req/s     p50 ${ms(busy.latency.p50)}  p99 ${ms(busy.latency.p99)}  (${((100 * busy.requests.average) / idle.requests.average).toFixed(0)} % of idle req/s, p99 ${(busy.latency.p99 / Math.max(idle.latency.p99, 1)).toFixed(1)}× idle)`,
  );
  console.log(`  baseline: SSE lag, one writer, no readers       ${fmt(alone.lags.length).padStart(8)} frames    p50 ${ms(percentile(alone.lags, 0.5))}  p99 ${ms(percentile(alone.lags, 0.99))}  (${fmt(alone.events / alone.seconds)} events/s)`);
  console.log(
    `  SSE lag, POST answer → change frame             ${fmt(w.lags.length).padStart(8)} frames    p50 ${ms(percentile(w.lags, 0.5))}  p99 ${ms(percentile(w.lags, 0.99))}  (p99 ${(percentile(w.lags, 0.99) / Math.max(percentile(alone.lags, 0.99), 0.1)).toFixed(1)}× the one-writer baseline)`,
  );
  console.log(`  → targets: ≥ ${name === 'sqlite' ? '5,000' : '3,000'} events/s${name === 'sqlite' ? ', p99 ≤ 50 ms' : ''}; /v1/pools p99 ≤ 2× idle and ≥ 70 % of idle req/s; SSE lag p99 ≤ 50 ms`);
};

/** One store: seed, bare baseline, serve, idle readers, then writers + readers + SSE at once. */
const run = async (name: string, open: () => Promise<EventStore>, storeUrl: string, bare: () => Promise<number>) => {
  const startLoad = load();
  const store = await open();
  const t0 = performance.now();
  await seed(store);
  await store.close();
  console.log(`\n${name}: seeded ${fmt(EVENTS)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const bareRate = await bare();
  const server = await startServe(storeUrl);
  const { url, stop } = server;
  try {
    // Steady state: after the background work a fresh start does (the snapshot ladder filled).
    const waited = await settled(server);
    if (waited > 1.5) console.log(`\n${name}: serve was busy for ${waited.toFixed(0)} s after /readyz (filling the snapshot ladder); measured after`);
    const idle = await readers(url);
    // The floor of the path: one writer, nothing else, for a third of a phase.
    const alone = await writeLoad(url, (SECONDS * 1000) / 3, 1);
    const [busy, w] = await Promise.all([readers(url), writeLoad(url, SECONDS * 1000)]);
    report(name, bareRate, idle, busy, w, alone, startLoad);
  } finally {
    await stop();
  }
};

const stores = flags.stores.split(',');
if (stores.includes('sqlite')) {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-fleet-'));
  try {
    const path = join(dir, 'fleet.db');
    await run('sqlite', async () => openSqliteStore({ path }), `sqlite:${path}`, async () => bareSqlite(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (stores.includes('postgres')) {
  let database: Awaited<ReturnType<typeof throwawayDatabase>> | null = null;
  try {
    database = await throwawayDatabase(PG_ADMIN, 'rollcall_bench_fleet');
  } catch (e) {
    console.log(`\npostgres: skipped (no server at ${PG_ADMIN.replace(/:[^:@/]*@/, ':***@')}: ${(e as Error).message})`);
  }
  if (database !== null) {
    const { url: dbUrl } = database;
    try {
      await run('postgres', () => openPostgresStore({ url: dbUrl }), dbUrl, () => barePostgres(dbUrl));
    } finally {
      await database.drop();
    }
  }
}
