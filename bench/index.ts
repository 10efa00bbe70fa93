// `npm run bench`: every figure beside a baseline measured in the same run, on both history
// shapes (generate's dense ~5-hour history and an 11-day sparse one). Scale with BENCH_EVENTS
// (default 1,000,000), BENCH_AGENTS (10,000), BENCH_PEER_EVENTS (10,000), BENCH_PEER_WARMUP (3); skip parts with
// BENCH_STORES=0, BENCH_PG=0, BENCH_MEMORY=0, BENCH_PEER=0, BENCH_TRAVEL=0, BENCH_SHAPES=dense|sparse. The cost of
// the liveness rules (SPEC §7) is the replay of each history beside the same history without its §7 content.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { decodeEvent } from '../src/events/decodeEvent.js';
import type { LifecycleEvent } from '../src/events/lifecycleEvents.js';
import { generateHistory, generateNdjson, type GenerateOptions } from '../src/generate/generateHistory.js';
import { throwawayDatabase } from './throwawayDatabase.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 1_000_000);
const AGENTS = Number(process.env['BENCH_AGENTS'] ?? 10_000);
const PEER_EVENTS = Number(process.env['BENCH_PEER_EVENTS'] ?? 10_000);
const PEER_WARMUP = Number(process.env['BENCH_PEER_WARMUP'] ?? 3);
const SHAPES = (process.env['BENCH_SHAPES'] ?? 'dense,sparse').split(',');
const on = (name: string) => process.env[name] !== '0';
const PG_ADMIN = process.env['ROLLCALL_BENCH_PG_URL'] ?? process.env['ROLLCALL_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const dir = mkdtempSync(join(tmpdir(), 'rollcall-bench-'));
const n = (x: number) => Math.round(x).toLocaleString('en-US');
const rate = (events: number, s: number) => `${n(events / s).padStart(11)} events/s`;
const row = (name: string, events: number, s: number, extra = '') =>
  console.log(`  ${name.padEnd(58)} ${rate(events, s)} ${s.toFixed(2).padStart(8)} s  ${extra}`);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
const rss = (c: Child) => `peak RSS ${c.maxRssMB.toFixed(0)} MB`;

interface Child {
  events: number;
  seconds: number;
  maxRssMB: number;
  snapshotBytes?: number;
}
const child = (mode: string, ...args: string[]): Child =>
  JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'children.ts'), mode, ...args], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  ) as Child;

const writeHistory = async (file: string, options: GenerateOptions): Promise<number> => {
  const t = performance.now();
  const out = createWriteStream(file);
  let buf = '';
  for (const line of generateNdjson(options)) {
    buf += `${line}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'close');
  return (performance.now() - t) / 1000;
};

/** SPEC §7's own event types: what a history written for the v2 rules never holds. */
const LIVENESS_TYPES = new Set(['OrchestratorStarted', 'AgentSuspected', 'AgentReleased', 'SessionLeaseRenewed']);

/**
 * The same history as a v2 producer would have written it: without §7's events and without
 * `leaseMs`/`epoch` on the others (so no lease, epoch fence or restart is in play). Returns how
 * many events it kept. Ids and order are the original's, so the mess (duplicates, late events) stays.
 */
const writeWithoutLiveness = async (from: string, to: string): Promise<number> => {
  const out = createWriteStream(to);
  let buf = '';
  let kept = 0;
  for await (const line of createInterface({ input: createReadStream(from), crlfDelay: Infinity })) {
    if (line === '') continue;
    const e = JSON.parse(line) as { type: string; data: Record<string, unknown> };
    if (LIVENESS_TYPES.has(e.type)) continue;
    delete e.data['leaseMs'];
    delete e.data['epoch'];
    buf += `${JSON.stringify(e)}\n`;
    kept++;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'close');
  return kept;
};

const pgDatabase = async (): Promise<{ url: string; drop: () => Promise<void> } | null> => {
  if (!on('BENCH_PG')) return null;
  try {
    return await throwawayDatabase(PG_ADMIN, 'rollcall_bench');
  } catch {
    return null;
  }
};

const shapes: Record<string, { title: string; options: GenerateOptions }> = {
  dense: { title: "dense: generate's default pace (~5 hours)", options: { agents: AGENTS, events: EVENTS, seed: 'bench' } },
  sparse: { title: 'sparse: 11 days, a quiet half of every day', options: { agents: AGENTS, events: EVENTS, seed: 'bench', days: 11 } },
};

console.log(
  `rollcall bench — ${n(EVENTS)} events, ${n(AGENTS)} agents per shape; node ${process.version}, ${cpus().length} CPUs, ` +
    `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start; ${new Date().toISOString()}`,
);

/** Store figures for one shape: append, the store's bare read, full replay, snapshot restart. */
const storeFigures = (label: string, url: string, file: string, readMode: 'read-sqlite' | 'read-pg', readArg: string, bareAppend?: string) => {
  const append = child('append', url, file);
  if (bareAppend !== undefined) {
    const bare = child('append-bare', bareAppend, file);
    row(`baseline: readline + JSON.parse + one insert per row, one tx`, bare.events, bare.seconds, rss(bare));
    row(`rollcall append (${label}; validate all, then append)`, append.events, append.seconds, rss(append));
    const ratio = append.seconds / bare.seconds;
    console.log(`  → ${ratio.toFixed(2)}× the bare pass (target ≤ 1.2×: ${verdict(ratio <= 1.2)}; goal ≤ 1.0×: ${verdict(ratio <= 1)})`);
  } else row(`rollcall append (${label}; validate all, then append)`, append.events, append.seconds, rss(append));
  const bare = child(readMode, readArg);
  const full = child('replay-store', url, 'full');
  row(`baseline: bare paged read + JSON.parse (${label})`, bare.events, bare.seconds);
  row(`rollcall replay --store ${label} --no-snapshot`, full.events, full.seconds, rss(full));
  const ratio = full.seconds / bare.seconds;
  console.log(`  → ${ratio.toFixed(2)}× the bare read (target ≤ 2×: ${verdict(ratio <= 2)}); peak RSS ≤ 300 MB at 1M: ${verdict(full.maxRssMB <= 300)}`);
  const inThread = child('replay-store-lib', url, 'in', 'full');
  const offThread = child('replay-store-lib', url, 'off', 'full');
  row(`  same through the library, decoded in this thread`, inThread.events, inThread.seconds, rss(inThread));
  row(`  same through the library, decoded in a worker thread`, offThread.events, offThread.seconds, rss(offThread));
  console.log(`  → in one thread ${(inThread.seconds / bare.seconds).toFixed(2)}×, with a worker ${(offThread.seconds / bare.seconds).toFixed(2)}× the bare read`);
  const save = child('replay-store', url, 'save');
  const restart = child('replay-store', url, 'restart');
  row(`rollcall replay --store ${label} (first run: saves a snapshot)`, save.events, save.seconds);
  row(`rollcall replay --store ${label} (restart from the snapshot)`, restart.events, restart.seconds, rss(restart));
  const share = restart.seconds / full.seconds;
  console.log(
    `  → restart is ${(share * 100).toFixed(1)} % of a full replay (target ≤ 5 %: ${verdict(share <= 0.05)}); snapshot ${(restart.snapshotBytes! / 1e6).toFixed(1)} MB`,
  );
  // Both of the above print the whole view (tens of MB of JSON at 1M events), a cost a restart
  // cannot skip; what a restarting service waits for is the state itself.
  const stateFull = child('replay-store-lib', url, 'in', 'state-full');
  const stateRestart = child('replay-store-lib', url, 'in', 'state-restart');
  row(`  state only (no view, no output): full replay`, stateFull.events, stateFull.seconds);
  row(`  state only (no view, no output): from the snapshot`, stateRestart.events, stateRestart.seconds);
  const stateShare = stateRestart.seconds / stateFull.seconds;
  console.log(`  → state-only restart is ${(stateShare * 100).toFixed(1)} % of a state-only full replay (target ≤ 5 %: ${verdict(stateShare <= 0.05)})`);
  return { append, full };
};

for (const shape of SHAPES) {
  const { title, options } = shapes[shape]!;
  const file = join(dir, `${shape}.ndjson`);
  console.log(`\n== ${title}`);
  const genSeconds = await writeHistory(file, options);
  row('rollcall generate (deterministic history → NDJSON file)', EVENTS, genSeconds);

  console.log('\nreplay --input, end to end (read + parse + validate + fold + view), each in a fresh process');
  const base = child('baseline', file);
  const auto = child('replay', file, 'auto');
  const inThread = child('replay', file, 'in');
  row('baseline: readline + JSON.parse', base.events, base.seconds, rss(base));
  row('rollcall replay --input (decoded in a worker thread)', auto.events, auto.seconds, rss(auto));
  row('rollcall replay --input, all in one thread', inThread.events, inThread.seconds, rss(inThread));
  // What validation costs beside the parse: the baseline's pass plus decodeLine, without the fold.
  const decodeFast = child('decode', file, 'fast');
  const decodeZod = child('decode', file, 'zod');
  row('  parse + validate only (compiled validator, then zod)', decodeFast.events, decodeFast.seconds);
  row('  parse + validate only (zod alone)', decodeZod.events, decodeZod.seconds);
  console.log(
    `  → validation adds ${(((decodeFast.seconds - base.seconds) / base.seconds) * 100).toFixed(0)} % to the parse (zod alone: ${(((decodeZod.seconds - base.seconds) / base.seconds) * 100).toFixed(0)} %)`,
  );
  const r = auto.seconds / base.seconds;
  console.log(`  → ${r.toFixed(2)}× the baseline (target ≤ 2×: ${verdict(r <= 2)}; goal 1.5×: ${verdict(r <= 1.5)}); in one thread ${(inThread.seconds / base.seconds).toFixed(2)}×`);

  // SPEC §7's cost: the same replay of the same history with and without its liveness content
  // (restarts, leases, suspicions, quarantines at work), per event, each in a fresh process.
  const v2File = join(dir, `${shape}-v2.ndjson`);
  const kept = await writeWithoutLiveness(file, v2File);
  console.log(`\nthe liveness rules (SPEC §7): the same history without its §7 content (${n(EVENTS - kept)} events and every leaseMs/epoch left out), replayed the same way`);
  const v2 = child('replay', v2File, 'auto');
  const v2InThread = child('replay', v2File, 'in');
  row('rollcall replay --input, history without §7 content (v2)', v2.events, v2.seconds, rss(v2));
  row('rollcall replay --input, the history with it (v3, above)', auto.events, auto.seconds, rss(auto));
  row('… all in one thread, without §7 content', v2InThread.events, v2InThread.seconds, rss(v2InThread));
  const perEvent = (c: Child) => c.seconds / c.events;
  const cost = perEvent(auto) / perEvent(v2) - 1;
  const costInThread = perEvent(inThread) / perEvent(v2InThread) - 1;
  console.log(
    `  → per event, the §7 rules at work cost ${(cost * 100).toFixed(1)} % (target ≤ 15 %: ${verdict(cost <= 0.15)}); ` +
      `in one thread ${(costInThread * 100).toFixed(1)} % (${verdict(costInThread <= 0.15)})`,
  );
  rmSync(v2File, { force: true });

  if (on('BENCH_STORES')) {
    console.log('\nthe embedded store (sqlite), through the CLI, each in a fresh process');
    const db = join(dir, `${shape}.db`);
    const { append } = storeFigures('sqlite:', `sqlite:${db}`, file, 'read-sqlite', db, join(dir, `${shape}-bare.db`));
    console.log(`  → sqlite bulk append ${n(append.events / append.seconds)} events/s (target ≥ 100k: ${verdict(append.events / append.seconds >= 100_000)})`);

    const database = await pgDatabase();
    if (database === null) console.log(`\npostgres: skipped (BENCH_PG=0 or no server at ${PG_ADMIN.replace(/:[^:@/]*@/, ':***@')})`);
    else {
      console.log('\nPostgreSQL, through the CLI, each in a fresh process');
      try {
        storeFigures('postgres:', database.url, file, 'read-pg', database.url);
      } finally {
        await database.drop();
      }
    }
  }
  rmSync(join(dir, `${shape}.db`), { force: true });
}

if (on('BENCH_STORES') && on('BENCH_MEMORY')) {
  for (const shape of SHAPES) {
    // Sparse histories span days, so the 24 h retention window lets sessions go and the state is
    // flat with history; a dense one spans hours, so every session is still in the window and the
    // state (and its memory) grows with it by design.
    console.log(`\nmemory (${shape}): peak RSS of a full store replay, ${n(EVENTS)} vs ${n(2 * EVENTS)} events of the same ${n(AGENTS)} agents (sqlite)`);
    const peaks: Child[] = [];
    for (const events of [EVENTS, 2 * EVENTS]) {
      const file = join(dir, `memory-${events}.ndjson`);
      const db = join(dir, `memory-${events}.db`);
      // The sparse history keeps its pace: twice the events over twice the days.
      // It must end before now: append refuses events stamped in the future (clock skew).
      const spanDays = Math.round((11 * events) / EVENTS);
      const days = shape === 'sparse' ? { days: spanDays, start: new Date(Date.now() - (spanDays + 1) * 86_400_000).toISOString() } : {};
      await writeHistory(file, { ...shapes[shape]!.options, events, ...days, seed: 'memory' });
      child('append', `sqlite:${db}`, file);
      rmSync(file);
      const replay = child('replay-store', `sqlite:${db}`, 'full');
      row(`rollcall replay --store sqlite: --no-snapshot, ${n(events)} events`, replay.events, replay.seconds, rss(replay));
      peaks.push(replay);
      rmSync(db, { force: true });
    }
    const growth = peaks[1]!.maxRssMB / peaks[0]!.maxRssMB;
    console.log(`  → ${growth.toFixed(2)}× from ${n(EVENTS)} to ${n(2 * EVENTS)} events (target ≤ 1.15×: ${verdict(growth <= 1.15)}); ≤ 300 MB at ${n(EVENTS)}: ${verdict(peaks[0]!.maxRssMB <= 300)}`);
  }
}

if (on('BENCH_PEER')) {
  const emmettVersion = (JSON.parse(readFileSync(join(import.meta.dirname, '../node_modules/@event-driven-io/emmett/package.json'), 'utf8')) as { version: string }).version;
  console.log(`\nagainst a peer: Emmett ${emmettVersion}, ${n(PEER_EVENTS)} events of a ${n(Math.min(AGENTS, 1000))}-agent history`);
  const { alternateLive, medianRun, rebuildOnPostgres, rollcallLiveSqlite } = await import('./peer.js');
  const events: LifecycleEvent[] = [];
  for (const raw of generateHistory({ agents: Math.min(AGENTS, 1000), events: PEER_EVENTS, seed: 'peer' })) {
    const r = decodeEvent(raw);
    if (!r.success) throw r.error;
    events.push(r.data);
  }
  // Each side runs PEER_WARMUP + 3 times in this process, alternating, on a fresh store each time:
  // the first run is cold (the JIT has not seen the code); warm is the median of the last three,
  // after both sides' code settled, as a live engine's has after its first minutes. (A second run
  // is not warm yet: rollcall's takes about twice its fifth's time, Emmett's 1.2–1.5×.)
  const runs = await alternateLive(events, PEER_WARMUP + 3);
  const [peerCold, oursCold] = [runs.peer[0]!, runs.ours[0]!];
  const [peer, ours] = [medianRun(runs.peer, PEER_WARMUP), medianRun(runs.ours, PEER_WARMUP)];
  const durable = await rollcallLiveSqlite(events);
  console.log('(a) live: appending event by event, the projection current after each append (both stores in memory, not durable)');
  const perSecond = (r: { events: number; seconds: number }) => r.events / r.seconds;
  console.log('    cold: the first run of each side in this process');
  row(peerCold.name, peerCold.events, peerCold.seconds, peerCold.note);
  row(oursCold.name, oursCold.events, oursCold.seconds, oursCold.note);
  console.log(`  → cold: rollcall ${(perSecond(oursCold) / perSecond(peerCold)).toFixed(1)}× Emmett's events/s`);
  console.log(`    warm: the median of each side's runs ${PEER_WARMUP + 1}–${PEER_WARMUP + 3} (alternating, each on a fresh store)`);
  row(peer.name, peer.events, peer.seconds, peer.note);
  row(ours.name, ours.events, ours.seconds, ours.note);
  const live = perSecond(ours) / perSecond(peer);
  console.log(`  → warm: rollcall ${live.toFixed(1)}× Emmett's events/s (goal ≥ 10×: ${verdict(live >= 10)})`);
  console.log('    extra, no Emmett counterpart: the same on a durable store');
  row(durable.name, durable.events, durable.seconds, durable.note);
  console.log('(b) rebuild: a projection rebuilt from a durable store (PostgreSQL on both sides)');
  try {
    const [theirs, mine] = await rebuildOnPostgres(events, PG_ADMIN);
    row(theirs!.name, theirs!.events, theirs!.seconds, theirs!.note);
    row(mine!.name, mine!.events, mine!.seconds, mine!.note);
    const rebuild = (mine!.events / mine!.seconds) / (theirs!.events / theirs!.seconds);
    console.log(`  → rollcall ${rebuild.toFixed(1)}× Emmett's events/s (goal ≥ 10×: ${verdict(rebuild >= 10)})`);
  } catch (e) {
    console.log(`  skipped: ${(e as Error).message}`);
  }
}

// The live runtime (bench/live.ts): apply rate, append → watch latency, idle CPU, a 20k burst, snapshot stall.
if (process.env['BENCH_LIVE'] !== '0') execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'live.ts')], { stdio: 'inherit', env: { ...process.env, BENCH_LIVE_EVENTS: String(EVENTS), BENCH_AGENTS: String(AGENTS) } });
if (process.env['BENCH_REPLICAS'] !== '0') await (await import('./replicas.js')).benchReplicas().catch((e: Error) => console.log(`\nreplicas: skipped (${e.message})`));

// The whole service path under a fleet's load (bench/fleet.ts, issue 19): 32 writers POSTing one
// event at a time, readers on /v1/pools, an SSE client; each beside a bare one-row-commit loop.
if (process.env['BENCH_FLEET'] !== '0') {
  execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fleet.ts'), '--events', String(EVENTS), '--agents', String(AGENTS), ...(on('BENCH_PG') ? [] : ['--stores', 'sqlite'])], { stdio: 'inherit' });
}
// `rollcall serve` (bench/serve.ts): autocannon on GET /v1/pools while appending through POST, beside GET /healthz.
if (process.env['BENCH_SERVE'] !== '0') execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'serve.ts')], { stdio: 'inherit' });

console.log(`\nload average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
rmSync(dir, { recursive: true, force: true });
// Time travel at the middle of the log, on a store the CLI appended (bench/travel.ts): ?until beside a full replay, /healthz meanwhile.
if (process.env['BENCH_TRAVEL'] !== '0') execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'travel.ts')], { stdio: 'inherit', env: { ...process.env, BENCH_TRAVEL_EVENTS: String(EVENTS), BENCH_AGENTS: String(AGENTS) } });
// Resumes, audits and time travel after a restart (bench/storm.ts): /healthz latency meanwhile.
if (process.env['BENCH_STORM'] !== '0') execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'storm.ts')], { stdio: 'inherit' });
