// `rollcall serve` under load: autocannon on GET /v1/pools at a fixed rate while a writer appends
// through POST /v1/events, beside baselines measured in the same run (GET /healthz, and /v1/pools
// without writes). Goal: p99 ≤ 10 ms at 2,000 requests/s while following 5,000 events/s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { generateNdjson } from '../src/generate/generateHistory.js';
import { startServe } from './serveProcess.js';

const RATE = Number(process.env['BENCH_SERVE_RATE'] ?? 2000);
const WRITE_RATE = Number(process.env['BENCH_SERVE_WRITE_RATE'] ?? 5000);
const SECONDS = Number(process.env['BENCH_SERVE_SECONDS'] ?? 10);
const AGENTS = Number(process.env['BENCH_SERVE_AGENTS'] ?? 1000);
const SEED_EVENTS = Number(process.env['BENCH_SERVE_EVENTS'] ?? 100_000);

const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-serve-'));
const { url, stop } = await startServe(`sqlite:${join(dir, 'serve.db')}`);

const post = async (ndjson: string) => {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', body: ndjson, headers: { 'content-type': 'application/x-ndjson' } });
  if (res.status !== 201) throw new Error(`POST /v1/events: ${res.status} ${await res.text()}`);
  return (await res.json()) as { last: string; appended: number };
};

// Seed a fleet through the API itself (2,000 events per request: generated events are ~400 bytes, and a body is at most 1 MiB).
let chunk: string[] = [];
let last = '0';
for (const line of generateNdjson({ agents: AGENTS, events: SEED_EVENTS, seed: 'bench-serve' })) {
  chunk.push(line);
  if (chunk.length === 2_000) {
    last = (await post(chunk.join('\n'))).last;
    chunk = [];
  }
}
if (chunk.length) last = (await post(chunk.join('\n'))).last;
await fetch(`${url}/v1/projection?minPosition=${last}&waitMs=30000`);
const pools = Object.keys((await (await fetch(`${url}/v1/pools`)).json()) as object).length;

const load = (path: string) =>
  autocannon({ url: `${url}${path}`, connections: 20, duration: SECONDS, overallRate: RATE }) as Promise<autocannon.Result>;

/** Appends WRITE_RATE heartbeats/s (in ten requests a second) until stopped; reports what it sustained. */
const writer = () => {
  let stop = false;
  let appended = 0;
  const started = performance.now();
  const batch = Math.round(WRITE_RATE / 10);
  const done = (async () => {
    for (let tick = 0; !stop; tick++) {
      const wait = started + tick * 100 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const at = new Date().toISOString();
      const body = Array.from({ length: batch }, (_, i) => JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: `bench-${(appended + i) % AGENTS}` }, metadata: { at } })).join('\n');
      appended += (await post(body)).appended;
    }
  })();
  return async () => {
    stop = true;
    await done;
    return appended / ((performance.now() - started) / 1000);
  };
};

const row = (name: string, r: autocannon.Result, extra = '') =>
  console.log(
    `  ${name.padEnd(50)} ${Math.round(r.requests.average).toLocaleString('en-US').padStart(7)} req/s  p50 ${String(r.latency.p50).padStart(4)} ms  p99 ${String(r.latency.p99).padStart(4)} ms  errors ${r.errors + r.non2xx}${extra}`,
  );

console.log(`\nserve (autocannon, ${RATE} req/s offered for ${SECONDS} s, 20 connections; ${SEED_EVENTS.toLocaleString('en-US')} events seeded, ${AGENTS} agents, ${pools} pools)`);
row('baseline: GET /healthz (no projection work)', await load('/healthz'));
row('GET /v1/pools, no writes', await load('/v1/pools'));
const stopWriter = writer();
const underWrites = await load('/v1/pools');
const sustained = await stopWriter();
row(`GET /v1/pools while appending ${WRITE_RATE} events/s`, underWrites, `  (writer sustained ${Math.round(sustained).toLocaleString('en-US')} events/s)`);
const met = underWrites.latency.p99 <= 10 && underWrites.requests.average >= RATE * 0.95 && sustained >= WRITE_RATE * 0.95;
console.log(`  → goal p99 ≤ 10 ms at ${RATE} req/s while following ${WRITE_RATE} events/s: ${met ? 'met' : 'NOT met'}`);

await stop();
rmSync(dir, { recursive: true, force: true });
