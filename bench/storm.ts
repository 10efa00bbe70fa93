// A resume storm on `rollcall serve` (issue 18.3 / 19.3): right after a restart (an empty ring of
// recent changes), RESUMES SSE clients resume with Last-Event-ID at spread positions, AUDITS agent
// audits and TRAVELS `?until` reads run at once, while /healthz is probed back to back. Reports the
// /healthz latency (max, p99) beside the same probe on the idle server, each resume's time to its
// first change, and the load. Target: /healthz ≤ 50 ms throughout.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { generateHistory } from '../src/generate/generateHistory.js';
import { decodeEvent } from '../src/events/decodeEvent.js';
import type { LifecycleEvent } from '../src/events/lifecycleEvents.js';
import { createLifecycleProjection } from '../src/projections/lifecycleProjection.js';
import { replayStore } from '../src/replay/replayLog.js';
import { openStore } from '../src/stores/openStore.js';
import { startServe } from './serveProcess.js';

const EVENTS = Number(process.env['BENCH_STORM_EVENTS'] ?? 200_000);
const AGENTS = Number(process.env['BENCH_STORM_AGENTS'] ?? 2_000);
const RESUMES = Number(process.env['BENCH_STORM_RESUMES'] ?? 40);
const AUDITS = Number(process.env['BENCH_STORM_AUDITS'] ?? 6);
const TRAVELS = Number(process.env['BENCH_STORM_TRAVELS'] ?? 6);
// A seeded store kept at this path (made on the first run, copied from on the next): A/B runs skip the seeding.
const SEED = process.env['BENCH_STORM_SEED'];

const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-storm-'));
const path = join(dir, 'storm.db');
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;

// Seed, then run `replay --store` once per 10k events so the store holds a ladder, as a live server saving snapshots would.
if (SEED !== undefined && existsSync(SEED)) copyFileSync(SEED, path);
const store = await openStore(`sqlite:${path}`, { create: true });
const seeded = Number((await store.head()) ?? 0) > 0;
const events: LifecycleEvent[] = [];
for (const raw of generateHistory({ agents: AGENTS, events: EVENTS, seed: 'bench-storm' })) {
  const d = decodeEvent(raw);
  if (d.success) events.push(d.data);
}
const agents = [...new Set(events.map((e) => (e.data as { agentId?: string }).agentId).filter((a): a is string => a !== undefined))].slice(0, AUDITS);
for (let i = 0; !seeded && i < events.length; i += 10_000) {
  await store.appendBatch(events.slice(i, i + 10_000));
  await replayStore(store, createLifecycleProjection());
}
const head = Number(await store.head());
await store.close();
if (SEED !== undefined && !seeded) copyFileSync(path, SEED);

// A first server catches up (saving its snapshot); followers would have saved rungs along the way.
let server = await startServe(`sqlite:${path}`);
let url = server.url;
const probe = async (until: () => boolean) => {
  const times: number[] = [];
  while (!until()) {
    const t = performance.now();
    await (await fetch(`${url}/healthz`)).text();
    times.push(performance.now() - t);
  }
  return times;
};
const idleEnd = performance.now() + 2_000;
const idle = await probe(() => performance.now() > idleEnd);
await server.stop();
server = await startServe(`sqlite:${path}`);
url = server.url;

let done = false;
const probing = probe(() => done);
const started = performance.now();
const firsts: number[] = [];
const resumes = Array.from({ length: RESUMES }, (_, i) => {
  const from = head - 200 - i * Math.floor(head / 2 / RESUMES);
  return new Promise<void>((resolve, reject) => {
    const es = new EventSource(`${url}/v1/changes`, { fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), 'last-event-id': String(from) } }) });
    let first = true;
    es.addEventListener('change', (e) => {
      if (first) firsts.push(performance.now() - started);
      first = false;
      if (Number(e.lastEventId) >= head) {
        es.close();
        resolve();
      }
    });
    es.addEventListener('error', () => reject(new Error('stream failed')));
  });
});
const audits = agents.map(async (a) => (await fetch(`${url}/v1/agents/${encodeURIComponent(a)}/audit`)).text());
const travels = Array.from({ length: TRAVELS }, async (_, i) => (await fetch(`${url}/v1/projection?until=${Math.floor((head * (i + 1)) / (TRAVELS + 1))}`)).text());
await Promise.all([...resumes, ...audits, ...travels]);
const stormMs = performance.now() - started;
done = true;
const storm = await probing;
await server.stop();
rmSync(dir, { recursive: true, force: true });

console.log(`\nresume storm on serve (${head} events, sqlite; load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
console.log(`| figure | storm | idle baseline | target |\n|---|---|---|---|`);
console.log(`| /healthz max during ${RESUMES} resumes + ${AUDITS} audits + ${TRAVELS} ?until | ${percentile(storm, 100).toFixed(1)} ms (p99 ${percentile(storm, 99).toFixed(1)} ms, ${storm.length} probes) | ${percentile(idle, 100).toFixed(1)} ms (p99 ${percentile(idle, 99).toFixed(1)} ms) | ≤ 50 ms |`);
console.log(`| resume → first change (median / max) | ${percentile(firsts, 50).toFixed(0)} / ${percentile(firsts, 100).toFixed(0)} ms | — | — |`);
console.log(`| the whole storm answered | ${(stormMs / 1000).toFixed(1)} s | — | — |`);
