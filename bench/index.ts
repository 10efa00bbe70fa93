// `npm run bench`: every figure is printed beside a baseline measured in the same run.
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Immer, enableMapSet } from 'immer';
import { decodeLine } from '../src/events/decodeEvent.js';
import type { RecordedEvent } from '../src/events/lifecycleEvents.js';
import { generateNdjson } from '../src/generate/generateHistory.js';
import { lifecycleProjection } from '../src/projections/lifecycleProjection.js';
import { foldEvents } from '../src/replay/foldEvents.js';
import { readLines } from '../src/replay/readNdjson.js';

// The library loads immer's plugins only on first use; the naive baselines below need MapSet now.
enableMapSet();

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 1_000_000);
const AGENTS = Number(process.env['BENCH_AGENTS'] ?? 10_000);
const NAIVE_EVENTS = Number(process.env['BENCH_NAIVE_EVENTS'] ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-'));
const file = join(dir, 'history.ndjson');
const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString('en-US').padStart(11)} events/s`;
const row = (name: string, n: number, s: number, extra = '') => console.log(`  ${name.padEnd(52)} ${rate(n, s)}  ${s.toFixed(2).padStart(7)} s  ${extra}`);

const child = (mode: string, ...extra: string[]): { events: number; seconds: number; maxRssMB: number } =>
  JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'children.ts'), mode, file, ...extra], { encoding: 'utf8' }));

console.log(`rollcall bench — ${EVENTS.toLocaleString('en-US')} events, ${AGENTS.toLocaleString('en-US')} agents, node ${process.version}, ${new Date().toISOString()}`);

{
  const t = performance.now();
  const out = createWriteStream(file);
  let buf = '';
  for (const line of generateNdjson({ agents: AGENTS, events: EVENTS, seed: 'bench' })) {
    buf += `${line}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'close');
  console.log(`\ngenerate (deterministic history → NDJSON file)`);
  row('rollcall generate', EVENTS, (performance.now() - t) / 1000);
}

console.log(`\nreplay --input, end to end (read + parse + validate + fold + view), each in a fresh process`);
const base = child('baseline');
const replay = child('replay');
row('baseline: readline + JSON.parse', base.events, base.seconds, `peak RSS ${base.maxRssMB.toFixed(0)} MB`);
row('rollcall replay --input', replay.events, replay.seconds, `peak RSS ${replay.maxRssMB.toFixed(0)} MB`);
const ratio = replay.seconds / base.seconds;
console.log(`  → ${ratio.toFixed(2)}× the baseline's time (target ≤ 2×: ${ratio <= 2 ? 'met' : 'NOT met'}); peak RSS target < 300 MB: ${replay.maxRssMB < 300 ? 'met' : 'NOT met'}`);

console.log(`\nthe embedded store through the CLI (each in a fresh process)`);
{
  const db = join(dir, 'bench.db');
  const append = child('append-sqlite', db);
  row('rollcall append FILE (sqlite, validate all, 50k/txn)', append.events, append.seconds, `peak RSS ${append.maxRssMB.toFixed(0)} MB`);
  const replayDb = child('replay-sqlite', db);
  row('rollcall replay --store sqlite: --no-snapshot', append.events, replayDb.seconds, `peak RSS ${replayDb.maxRssMB.toFixed(0)} MB`);
  console.log(`  → replay from sqlite is ${(replayDb.seconds / base.seconds).toFixed(2)}× the readline + JSON.parse baseline above`);
}

console.log(`\nfold only, over the same events already decoded in memory (first ${NAIVE_EVENTS.toLocaleString('en-US')} for the naive reducer)`);
{
  const events: RecordedEvent[] = [];
  let position = 0n;
  outer: for await (const lines of readLines(file)) {
    for (const l of lines) {
      const r = decodeLine(l.text);
      if (!r.success) throw r.error;
      events.push({ ...r.data, stream: '', revision: 0n, position: ++position } as RecordedEvent);
      if (events.length >= Math.min(EVENTS, 300_000)) break outer;
    }
  }
  let t = performance.now();
  let jsonLines = 0;
  for await (const lines of readLines(file)) {
    for (const l of lines) {
      JSON.parse(l.text);
      if (++jsonLines >= events.length) break;
    }
    if (jsonLines >= events.length) break;
  }
  row(`baseline: JSON.parse of the same ${events.length.toLocaleString('en-US')} lines`, jsonLines, (performance.now() - t) / 1000);

  t = performance.now();
  await foldEvents(lifecycleProjection, [events]);
  row('rollcall fold (batched, recipes on an owned state)', events.length, (performance.now() - t) / 1000);

  // The textbook reducer: one produce() per event, auto-freeze on (immer's default).
  const naive = new Immer({ autoFreeze: true });
  const slice = events.slice(0, NAIVE_EVENTS);
  let state = lifecycleProjection.initialState();
  t = performance.now();
  for (const e of slice) state = naive.produce(state, (d) => lifecycleProjection.apply(d, e));
  row('naive: one immer produce() per event', slice.length, (performance.now() - t) / 1000);

  const batched = new Immer({ autoFreeze: false });
  state = lifecycleProjection.initialState();
  t = performance.now();
  for (let i = 0; i < slice.length; i += 4096) {
    const chunk = slice.slice(i, i + 4096);
    state = batched.produce(state, (d) => {
      for (const e of chunk) lifecycleProjection.apply(d, e);
    });
  }
  row('immer: one produce() per 4096-event batch', slice.length, (performance.now() - t) / 1000);
}

if (process.env['BENCH_STORES'] !== '0') {
  try {
    const { benchStores } = await import('./stores.js');
    console.log(`\nstores (bulk append of the same kind of history, then replay through the store)`);
    for (const r of await benchStores({ events: EVENTS })) console.log(`  ${r.name.padEnd(52)} ${r.eventsPerSec ? rate(r.eventsPerSec, 1) : ''}  ${r.note ?? ''}`);
  } catch (e) {
    console.log(`\nstores: skipped (${(e as Error).message})`);
  }
}

// The live runtime (bench/live.ts): apply rate, append → watch latency, idle CPU, a 20k burst, snapshot stall.
if (process.env['BENCH_LIVE'] !== '0') execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'live.ts')], { stdio: 'inherit', env: { ...process.env, BENCH_LIVE_EVENTS: String(EVENTS), BENCH_AGENTS: String(AGENTS) } });
if (process.env['BENCH_REPLICAS'] !== '0') await (await import('./replicas.js')).benchReplicas().catch((e: Error) => console.log(`\nreplicas: skipped (${e.message})`));

// `rollcall serve` (bench/serve.ts): autocannon on GET /v1/pools while appending through POST, beside GET /healthz.
if (process.env['BENCH_SERVE'] !== '0') execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'serve.ts')], { stdio: 'inherit' });

rmSync(dir, { recursive: true, force: true });
