// Time travel at the middle of the log (issue 19.3): `GET /v1/projection?until=<middle>` on a
// SQLite store appended by the CLI (so its ladder holds no rung until `serve` fills it), and
// /healthz probed every few ms meanwhile; beside the same run's baselines: a full replay to the same
// position (`replay --until --no-snapshot`) and /healthz on the idle server. Scale with
// BENCH_TRAVEL_EVENTS (default BENCH_EVENTS, else 1,000,000) and BENCH_AGENTS (10,000).
// BENCH_TRAVEL_STORE=<file> keeps the store in that file: generated and appended when it does not
// exist, taken as it is (its ladder already filled, so the run is the travels alone) when it does,
// and left there; an A/B of two builds then runs each on the same store.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/stores/openStore.js';
import { ladderShape, missingCells } from '../src/stores/snapshotLadder.js';

const EVENTS = Number(process.env['BENCH_TRAVEL_EVENTS'] ?? process.env['BENCH_EVENTS'] ?? 1_000_000);
const AGENTS = Number(process.env['BENCH_AGENTS'] ?? 10_000);
const TRAVELS = Number(process.env['BENCH_TRAVELS'] ?? 5);
const PROBE_EVERY_MS = 5;

const main = join(import.meta.dirname, '../dist/cli/main.js');
const kept = process.env['BENCH_TRAVEL_STORE'];
const dir = kept === undefined ? mkdtempSync(join(tmpdir(), 'rollcall-bench-travel-')) : null;
const path = kept ?? join(dir!, 'travel.db');
const url = `sqlite:${path}`;
const ms = (x: number) => `${x.toFixed(0).padStart(6)} ms`;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

console.log(`\n== time travel at the middle of ${EVENTS.toLocaleString('en-US')} events (${AGENTS.toLocaleString('en-US')} agents), SQLite; ${cpus().length} CPUs, load ${load()}`);
if (!existsSync(path)) execFileSync('sh', ['-c', `"${process.execPath}" "${main}" generate --agents ${AGENTS} --events ${EVENTS} --seed travel | "${process.execPath}" "${main}" append --store "${url}" -`], { stdio: ['ignore', 'ignore', 'inherit'] });

const reader = await openStore(url, { create: false });
const head = (await reader.head()) ?? 0n;
const middle = head / 2n;

// Baseline of the same run: a full replay to the middle, as every ?until was before the ladder.
let t = performance.now();
execFileSync(process.execPath, [main, 'replay', '--store', url, '--until', String(middle), '--no-snapshot', '--json'], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
const fullReplayMs = performance.now() - t;

const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--log-level', 'warn', '--store', url], { stdio: ['ignore', 'ignore', 'pipe'] });
const base = await new Promise<string>((resolve, reject) => {
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    const m = / on (http:\/\/[^\s,]+)/.exec(err);
    if (m) resolve(m[1]!);
  });
  child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
});
while ((await fetch(`${base}/readyz`)).status !== 200) await sleep(100);

/** /healthz every PROBE_EVERY_MS while `work` runs: each probe's latency. */
const probeDuring = async <T>(work: () => Promise<T>): Promise<{ result: T; health: number[] }> => {
  const health: number[] = [];
  let done = false;
  const probing = (async () => {
    while (!done) {
      const started = performance.now();
      await (await fetch(`${base}/healthz`)).text();
      health.push(performance.now() - started);
      await sleep(PROBE_EVERY_MS);
    }
  })();
  const result = await work();
  done = true;
  await probing;
  return { result, health };
};

// The ladder a fresh server fills in the background: no cell of the policy left without a rung;
// /healthz probed meanwhile (the newest rung, the one at the head, is loaded once: loading it on
// every poll would hold this process's loop and show up as the probe's latency).
t = performance.now();
let rungs: bigint[] = [];
let bytes = 0;
const { health: duringFill } = await probeDuring(async () => {
  for (;;) {
    rungs = (await reader.snapshots!.rungs!('lifecycle')).map((r) => r.position);
    const newest = rungs[rungs.length - 1];
    if (newest !== undefined) {
      if (bytes === 0) bytes = (await reader.snapshots!.loadAt!('lifecycle', newest))?.payload.length ?? 1;
      if (missingCells(rungs, newest, bytes).length === 0) return;
    }
    await sleep(500);
  }
});
const fillS = (performance.now() - t) / 1000;
// When and how long the fill ran (wall clock), for a probe of serve's own event loop to be read against.
if (process.env['BENCH_TRAVEL_MARKS']) console.log(`  fill window: ${Date.now() - Math.round(fillS * 1000)}..${Date.now()}`);
const { cap } = ladderShape(rungs[rungs.length - 1] ?? head, bytes);
const below = rungs.filter((p) => p <= middle).pop() ?? 0n;

const idle = await probeDuring(() => sleep(1000));
const travelMs: number[] = [];
const during: number[] = [];
for (let i = 0; i < TRAVELS; i++) {
  // Distinct positions around the middle, stepping forward: the first from a rung, each later one
  // going on from the state the one before reached (the worker keeps it); no answer is cached.
  const until = middle + BigInt(i * 997);
  const { result, health } = await probeDuring(async () => {
    const started = performance.now();
    const res = await fetch(`${base}/v1/projection?until=${until}`, { headers: { 'accept-encoding': 'identity' } });
    const size = (await res.arrayBuffer()).byteLength;
    if (res.status !== 200) throw new Error(`?until=${until} answered ${res.status}`);
    return { ms: performance.now() - started, size };
  });
  travelMs.push(result.ms);
  during.push(...health);
  if (i === 0) console.log(`  view at the middle: ${(result.size / 1e6).toFixed(1)} MB of JSON`);
}
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await reader.close();
if (dir !== null) rmSync(dir, { recursive: true, force: true });

const median = percentile(travelMs, 50);
console.log(
  `  ladder filled by serve in the background: ${fillS.toFixed(1)} s, ${rungs.length} rungs of ~${(bytes / 1e6).toFixed(1)} MB, cap ${cap.toLocaleString('en-US')} events; ` +
    `nearest rung below the middle ${(middle - below).toLocaleString('en-US')} events back`,
);
console.log(`  ${'baseline: replay --until <middle> --no-snapshot (full replay)'.padEnd(64)} ${ms(fullReplayMs)}`);
console.log(`  ${`GET /v1/projection?until=<middle> (${TRAVELS} positions), median / max`.padEnd(64)} ${ms(median)} / ${ms(Math.max(...travelMs))}`);
console.log(`  ${'  first (from a rung) / the rest stepping forward, median'.padEnd(64)} ${ms(travelMs[0] ?? NaN)} / ${ms(percentile(travelMs.slice(1), 50))}`);
console.log(`  ${'/healthz during the ladder fill, p99 / max'.padEnd(64)} ${ms(percentile(duringFill, 99))} / ${ms(Math.max(...duringFill))}`);
console.log(`  ${'/healthz while idle, p99 / max'.padEnd(64)} ${ms(percentile(idle.health, 99))} / ${ms(Math.max(...idle.health))}`);
console.log(`  ${'/healthz during time travel, p99 / max'.padEnd(64)} ${ms(percentile(during, 99))} / ${ms(Math.max(...during))}`);
console.log(
  `  → ?until ${(median / fullReplayMs * 100).toFixed(1)} % of the full replay; target ≤ 300 ms: ${verdict(median <= 300)} (goal ≤ 100 ms: ${verdict(median <= 100)}); ` +
    `/healthz ≤ 50 ms meanwhile: ${verdict(Math.max(...during) <= 50)}; load ${load()} at the end`,
);
