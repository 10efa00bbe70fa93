// The live runtime's figures (issue 9 item 1), each beside a baseline measured in the same run:
//   node --import tsx bench/live.ts        (also run by `npm run bench`)
// BENCH_LIVE_EVENTS (default 1,000,000) / BENCH_AGENTS (10,000) size the history.
// `node --import tsx bench/live.ts peer` runs only the Emmett live comparison of bench/peer.ts
// (BENCH_PEER_EVENTS, default 10,000; BENCH_PEER_RUNS pairs, default 3), with CPU time per event:
// both sides in memory and not durable, the projection current after each append on both (rollcall
// awaits whenProcessed of each append's position). rollcall on SQLite (an fsync'd commit per
// append) is an extra row after each pair, beside the same pair's Emmett figure, not like for like.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { enableMapSet, enablePatches, Immer } from 'immer';
import { decodeEvent } from '../src/events/decodeEvent.js';
import type { LifecycleEvent, RecordedEvent } from '../src/events/lifecycleEvents.js';
import { generateHistory } from '../src/generate/generateHistory.js';
import { openRollcall } from '../src/live/openRollcall.js';
import { trackLifecycleChanges } from '../src/projections/lifecycleChanged.js';
import { createLifecycleProjection } from '../src/projections/lifecycleProjection.js';
import { applyItemsInPlace, foldEvents } from '../src/replay/foldEvents.js';
import { openMemoryStore } from '../src/stores/memoryStore.js';
import { encodeSnapshot } from '../src/replay/snapshots.js';
import { openSqliteStore } from '../src/stores/sqliteStore.js';

const EVENTS = Number(process.env['BENCH_LIVE_EVENTS'] ?? 1_000_000);
const AGENTS = Number(process.env['BENCH_AGENTS'] ?? 10_000);
const LIVE = Number(process.env['BENCH_LIVE_TAIL'] ?? 200_000);
const NAIVE = 500;
const dir = process.env['BENCH_LIVE_DIR'] ?? mkdtempSync(join(tmpdir(), 'rollcall-bench-live-'));
process.env['BENCH_LIVE_DIR'] = dir;
const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (n: number, s: number) => `${fmt(n / s).padStart(11)} events/s`;
const row = (name: string, value: string, extra = '') => console.log(`  ${name.padEnd(60)} ${value}  ${extra}`);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const cpuSeconds = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

const phase = process.argv[2];
const runPhase = (name: string) =>
  new Promise<void>((resolve, reject) => {
    // Each phase in a fresh process: the other's heap (and its collections) never skews a timing.
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, name], { stdio: 'inherit' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bench/live.ts ${name} exited ${code}`))));
  });

if (phase === undefined) {
  console.log(`\nlive runtime — a state built from ${fmt(EVENTS)} events / ${fmt(AGENTS)} agents, then events applied live`);
  await runPhase('apply');
  await runPhase('watch');
  rmSync(dir, { recursive: true, force: true });
}

// 1. Applying live events to the big state: the tracker (in place + changed) vs the plain fold.
if (phase === 'apply') {
  const history = [...generateHistory({ agents: AGENTS, events: EVENTS + LIVE, seed: 'bench-live' })] as unknown as LifecycleEvent[];
  const recorded = history.map((e, i) => ({ ...e, stream: '', revision: 0n, position: BigInt(i + 1) }) as RecordedEvent);
  const projection = createLifecycleProjection();
  {
  const base = await foldEvents(projection, [recorded.slice(0, EVENTS)]);
  const tail = recorded.slice(EVENTS);
  const folded = projection.clone!(base.state);
  let t = performance.now();
  for (let i = 0; i < tail.length; i += 512) applyItemsInPlace(projection, folded, tail.slice(i, i + 512));
  const foldS = (performance.now() - t) / 1000;
  row('baseline: batched fold of the tail (no changed, no view)', rate(tail.length, foldS));

  const state = projection.clone!(base.state);
  t = performance.now();
  const tracker = trackLifecycleChanges(projection, state);
  const primeS = (performance.now() - t) / 1000;
  t = performance.now();
  let named = 0;
  for (const e of tail) named += tracker.apply(e).changed.sessions.length;
  const trackS = (performance.now() - t) / 1000;
  row('rollcall: applied in place, each with its changed', rate(tail.length, trackS), `(${(trackS / foldS).toFixed(2)}× the fold's time; index built once in ${(primeS * 1000).toFixed(0)} ms; ${fmt(named)} session ids named)`);

  enableMapSet();
  enablePatches();
  const immer = new Immer({ autoFreeze: false });
  let s = projection.clone!(base.state);
  t = performance.now();
  for (const e of tail.slice(0, NAIVE)) s = immer.produceWithPatches(s, (d) => projection.apply(d, e))[0];
  row(`before: one immer produce + patches per event (first ${fmt(NAIVE)})`, rate(NAIVE, (performance.now() - t) / 1000));
  }

// 2. The whole runtime in process: store subscription + decode + apply + changed + one subscriber.
{
  const store = openMemoryStore();
  for (let i = 0; i < EVENTS; i += 50_000) await store.appendBatch(history.slice(i, Math.min(EVENTS, i + 50_000)));
  let t = performance.now();
  const live = openRollcall({ store, snapshotEveryEvents: 10_000 });
  await live.whenCaughtUp();
  const catchUpS = (performance.now() - t) / 1000;
  let delivered = 0;
  live.subscribe(() => delivered++);
  const tail = history.slice(EVENTS);
  const head = (await store.head())!;
  t = performance.now();
  // Decoding alone, as the runtime does for each stored event: the floor under the runtime's rate.
  for (const e of tail) decodeEvent({ id: e.id, type: e.type, data: e.data, metadata: e.metadata });
  const decodeS = (performance.now() - t) / 1000;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  t = performance.now();
  for (let i = 0; i < tail.length; i += 1_000) await store.appendBatch(tail.slice(i, i + 1_000));
  const appendS = (performance.now() - t) / 1000;
  await live.whenProcessed((await store.head())!);
  const liveS = (performance.now() - t) / 1000;
  loop.disable();
  const applied = Number((await store.head())! - head);
  row('baseline: decodeEvent of the tail alone', rate(tail.length, decodeS));
  row('openRollcall on memory: appended in 1k batches → applied', rate(applied, liveS), `(catch-up of ${fmt(EVENTS)} in ${catchUpS.toFixed(1)} s; appends alone ${appendS.toFixed(2)} s; ${fmt(delivered)} delivered)`);
  t = performance.now();
  const view = live.view();
  const viewMs = performance.now() - t;
  t = performance.now();
  live.view();
  row('view(): the first one, built in full', `${viewMs.toFixed(0).padStart(6)} ms`, `(again at the same position: ${(performance.now() - t).toFixed(3)} ms; ${fmt(Object.keys(view.sessions).length)} sessions in view)`);
  // One more event: the view is rebuilt from the previous one and what that event changed.
  const beat = { type: 'AgentHeartbeat', id: randomUUID(), data: { agentId: live.state().agents.keys().next().value! }, metadata: { at: live.state().newestAt! } } as LifecycleEvent;
  await live.whenProcessed((await store.appendBatch([beat])).lastPosition!);
  t = performance.now();
  live.view();
  row('view() after one more event: rebuilt from the previous one', `${(performance.now() - t).toFixed(1).padStart(6)} ms`, `(baseline: the full build above)`);
  // Snapshots while following: serialized on a worker; the follower only hands the payload over.
  const deadline = Date.now() + 120_000;
  while ((live.snapshotStats()?.saved ?? 0) < 1 && Date.now() < deadline) await sleep(50);
  const stats = live.snapshotStats()!;
  t = performance.now();
  const payload = encodeSnapshot(projection, live.position()!, 'bench', live.state()).payload;
  const mainS = performance.now() - t;
  row('baseline: one snapshot serialized on the follower\'s thread', `${mainS.toFixed(0).padStart(6)} ms`, `(${(payload.length / 1e6).toFixed(1)} MB)`);
  row(`rollcall: follower's stall per snapshot (max of ${stats.saved} taken live)`, `${stats.maxStallMs.toFixed(1).padStart(6)} ms`, `(worker serialized the last in ${stats.lastEncodeMs.toFixed(0)} ms; event loop delay while following: max ${(loop.max / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms)`);
  // What the save of that snapshot costs on SQLite (better-sqlite3 is synchronous; in parts, see
  // relational/snapshots.ts): serve's snapshot worker pays it, on a connection of its own; only a
  // process whose store no other thread can open (memory, EventStoreDB) saves on the follower's thread.
  const sqlite = openSqliteStore({ path: join(dir, 'snapshot.db') });
  t = performance.now();
  await sqlite.snapshots!.save({ name: 'bench', version: 1, position: live.position()!, payload });
  row('rollcall on SQLite: the save of that snapshot (in parts; the snapshot worker\'s cost in serve)', `${(performance.now() - t).toFixed(0).padStart(6)} ms`);
  await sqlite.close();
  await live.close();
}
}

// The live comparison of `npm run bench` (bench/peer.ts (a)), alone and repeated: the pairs run in
// turn in one process, so that each ratio compares two passes under the same load.
if (phase === 'peer') {
  const { emmettLive, rollcallLive, rollcallLiveSqlite } = await import('./peer.js');
  const count = Number(process.env['BENCH_PEER_EVENTS'] ?? 10_000);
  const events: LifecycleEvent[] = [];
  for (const raw of generateHistory({ agents: Math.min(AGENTS, 1000), events: count, seed: 'peer' })) {
    const r = decodeEvent(raw);
    if (!r.success) throw r.error;
    events.push(r.data);
  }
  const timed = async (f: typeof emmettLive) => {
    const before = process.cpuUsage();
    const r = await f(events);
    const cpu = process.cpuUsage(before);
    return { perSecond: r.events / r.seconds, cpuUs: (cpu.user + cpu.system) / r.events };
  };
  for (let i = 0; i < Number(process.env['BENCH_PEER_RUNS'] ?? 3); i++) {
    const theirs = await timed(emmettLive);
    const ours = await timed(rollcallLive);
    const durable = await timed(rollcallLiveSqlite);
    row(`baseline: Emmett in-memory + inline projection (${fmt(count)} events)`, rate(count, count / theirs.perSecond), `(${theirs.cpuUs.toFixed(1)} CPU µs/event)`);
    row('rollcall: memory store + openRollcall, whenProcessed after each', rate(count, count / ours.perSecond), `(${ours.cpuUs.toFixed(1)} CPU µs/event; ${(ours.perSecond / theirs.perSecond).toFixed(1)}× Emmett, goal ≥ 10×)`);
    row('rollcall: SQLite (fsync per append), whenProcessed after each', rate(count, count / durable.perSecond), `(${durable.cpuUs.toFixed(1)} CPU µs/event; durable, Emmett's store is not: ${(durable.perSecond / theirs.perSecond).toFixed(1)}×)`);
  }
}

// 3–5. `rollcall watch` as a process on a SQLite store of EVENTS events.
if (phase === 'watch') {
  const path = join(dir, 'live.db');
  const store = openSqliteStore({ path });
  // Streamed from the generator: this process holds only what it appends next.
  const generator = generateHistory({ agents: AGENTS, events: EVENTS + 60_000, seed: 'bench-live' }) as unknown as Iterator<LifecycleEvent>;
  const take = (n: number): LifecycleEvent[] => {
    const out: LifecycleEvent[] = [];
    for (let r = generator.next(); out.length < n && !r.done; r = out.length < n ? generator.next() : r) out.push(r.value);
    return out;
  };
  for (let i = 0; i < EVENTS; i += 50_000) await store.appendBatch(take(Math.min(50_000, EVENTS - i)));
  // Fresh ids: the generator's redeliveries would be duplicates the store drops, with no position.
  const tail = take(60_000).map((e) => ({ ...e, id: randomUUID() }));

  const startWatch = () => {
    const proc = spawn(process.execPath, [cli, 'watch', '--store', `sqlite:${path}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const arrivals = new Map<string, number>();
    let lines = 0;
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      lines++;
      arrivals.set(/"position":"(\d+)"/.exec(l)![1]!, performance.now());
    });
    return { proc, arrivals, lines: () => lines };
  };
  const waitFor = async (ok: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ok() && Date.now() < deadline) await sleep(2);
    return ok();
  };
  let next = 0;
  const one = () => [tail[next++ % tail.length]!];

  let t = performance.now();
  const w = startWatch();
  // Caught up once an append made after its start is printed.
  for (;;) {
    await store.appendBatch(one());
    if (await waitFor(() => w.lines() > 0, 200)) break;
  }
  const startS = (performance.now() - t) / 1000;
  await sleep(300);

  // Idle CPU over 5 s, beside an idle node process doing nothing but a 1 s timer.
  const idler: ChildProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(1000);
  const c0 = [cpuSeconds(w.proc.pid!), cpuSeconds(idler.pid!)];
  await sleep(5000);
  const idle = [cpuSeconds(w.proc.pid!) - c0[0]!, cpuSeconds(idler.pid!) - c0[1]!];
  idler.kill();
  row('baseline: idle node process (setInterval 1 s), CPU over 5 s', `${(idle[1]! * 1000).toFixed(0).padStart(6)} ms`);
  row('rollcall watch (sqlite, idle), CPU over 5 s', `${(idle[0]! * 1000).toFixed(0).padStart(6)} ms`, `(${((idle[0]! / 5) * 100).toFixed(2)} % of a core)`);

  // Latency at 1k events/s: append returns → the line is read from watch's stdout.
  const baselineLatency: number[] = [];
  {
    const echo = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const sent = new Map<string, number>();
    createInterface({ input: echo.stdout! }).on('line', (l) => baselineLatency.push(performance.now() - sent.get(l)!));
    for (let i = 0; i < 2000; i++) {
      sent.set(String(i), performance.now());
      echo.stdin!.write(`${i}\n`);
      await sleep(1);
    }
    await sleep(200);
    echo.kill();
  }
  const latency: number[] = [];
  {
    const sentAt = new Map<string, number>();
    const started = performance.now();
    let appended = 0;
    while (performance.now() - started < 5000) {
      // Paced at 1k events/s: each tick appends the events due by now, in one append (an fsync'd
      // commit takes about a millisecond here, so one event per commit could not keep the pace).
      const due = Math.min(50, Math.floor(performance.now() - started) - appended);
      if (due > 0) {
        const batch = Array.from({ length: due }, () => one()[0]!);
        const r = await store.appendBatch(batch);
        const at = performance.now();
        for (let k = 0; k < due; k++) sentAt.set(String(r.lastPosition! - BigInt(due - 1 - k)), at);
        appended += due;
      }
      await sleep(1);
    }
    await waitFor(() => [...sentAt.keys()].every((p) => w.arrivals.has(p)), 10_000);
    for (const [p, at] of sentAt) if (w.arrivals.has(p)) latency.push(w.arrivals.get(p)! - at);
    row('baseline: a line through a child process pipe (echo), p50 / p99', `${quantile(baselineLatency, 0.5).toFixed(2)} / ${quantile(baselineLatency, 0.99).toFixed(2)} ms`);
    row(`rollcall watch: append returns → stdout line, p50 / p99 (${fmt(latency.length)} events at ${fmt(appended / 5)}/s)`, `${quantile(latency, 0.5).toFixed(2)} / ${quantile(latency, 0.99).toFixed(2)} ms`, `(target ≤ 20 / ≤ 100 ms: ${quantile(latency, 0.5) <= 20 && quantile(latency, 0.99) <= 100 ? 'met' : 'NOT met'})`);
  }

  // A 20k-event burst, one append per 1,000 events as a busy producer would send them.
  {
    const burst = Array.from({ length: 20_000 }, () => one()[0]!);
    const before = w.lines();
    t = performance.now();
    for (let i = 0; i < burst.length; i += 1_000) await store.appendBatch(burst.slice(i, i + 1_000));
    const appendS = (performance.now() - t) / 1000;
    const done = await waitFor(() => w.lines() >= before + burst.length, 60_000);
    const allS = (performance.now() - t) / 1000;
    row('baseline: appending the 20k burst (20 × 1,000 per commit)', `${appendS.toFixed(2).padStart(6)} s`);
    row(
      `rollcall watch over ${fmt(EVENTS)} events: whole burst printed after`,
      `${allS.toFixed(2).padStart(6)} s`,
      `(${done ? `${(allS - appendS).toFixed(2)} s after the last append returned` : 'NOT all printed within 60 s'}; watch started and caught up in ${startS.toFixed(1)} s)`,
    );
  }
  w.proc.kill();
  await store.close();
}
