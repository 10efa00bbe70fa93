// Follower lag and PostgreSQL load with N `rollcall serve` replicas on one store while a writer
// appends at a target rate: issue 19's row (4 replicas at 2,000 events/s, lag p99 ≤ 100 ms), then
// its goal beyond (and issue 12's: 10,000 events/s), each on a fresh database. Baseline of the same
// run: an in-process store subscription on the same database (NOTIFY + one read, no HTTP, no
// projection). Needs PostgreSQL (ROLLCALL_TEST_PG_URL, or the local server) and dist/ (npm run
// build). BENCH_REPLICAS_N (4), BENCH_REPLICAS_RATES (2000,10000; BENCH_REPLICAS_RATE: one rate),
// BENCH_REPLICAS_SECONDS (15 per rate) override; BENCH_REPLICAS_CLI runs the replicas from another
// build's dist/cli/main.js (an A/B on one harness), BENCH_REPLICAS_NODE_ARGS gives their node
// processes flags (space-separated, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findPostgres } from '../test/support/postgres.js';
import { runReplicas, type LagStats } from '../test/support/serveReplicas.js';

export const benchReplicas = async (): Promise<void> => {
  const n = Number(process.env['BENCH_REPLICAS_N'] ?? 4);
  const rates = (process.env['BENCH_REPLICAS_RATES'] ?? process.env['BENCH_REPLICAS_RATE'] ?? '2000,10000').split(',').map(Number);
  const seconds = Number(process.env['BENCH_REPLICAS_SECONDS'] ?? 15);
  const cli = process.env['BENCH_REPLICAS_CLI'] || undefined;
  const nodeArgs = process.env['BENCH_REPLICAS_NODE_ARGS']?.split(' ').filter(Boolean);
  const server = await findPostgres();
  if (!server) throw new Error('no PostgreSQL server reachable');
  for (const rate of rates) await benchRate(server, n, rate, seconds, { ...(cli ? { cli } : {}), ...(nodeArgs ? { nodeArgs } : {}) });
};

const benchRate = async (
  server: NonNullable<Awaited<ReturnType<typeof findPostgres>>>,
  n: number,
  rate: number,
  seconds: number,
  spawn: { cli?: string; nodeArgs?: string[] },
): Promise<void> => {
  const db = await server.createDatabase();
  try {
    const load = loadavg().map((l) => l.toFixed(1)).join(' ');
    const r = await runReplicas({ url: db.url, replicas: n, rate, seconds, ...spawn });
    const ms = (l: LagStats) => `p50 ${l.p50.toFixed(0).padStart(5)} ms  p99 ${l.p99.toFixed(0).padStart(5)} ms  max ${l.max.toFixed(0).padStart(5)} ms  (${l.samples} batches)`;
    console.log(`\nreplicas: ${n} × rollcall serve on PostgreSQL, writer target ${rate} events/s for ${seconds} s (${cpus().length} cores, load ${load} at start, shared machine)`);
    console.log(`  writer sustained                     ${Math.round(r.sustainedRate).toLocaleString('en-US').padStart(8)} events/s (${r.appended.toLocaleString('en-US')} events in ${r.writerSeconds.toFixed(1)} s)`);
    console.log(`  baseline: in-process subscription    ${ms(r.directLag)}`);
    const cpu = (i: number) => (r.replicaCpuSeconds[i] == null ? '' : `  CPU ${r.replicaCpuSeconds[i]!.toFixed(2)} s`);
    r.lag.forEach((l, i) => console.log(`  replica ${i + 1} /v1/changes              ${ms(l)}${cpu(i)}`));
    const all = r.lag.map((l) => l.p99);
    const worst = Math.max(...all);
    const target = rate <= 2_000 ? 'target ≤ 100 ms at 2,000 events/s' : 'goal beyond: ≤ 100 ms at 10,000 events/s';
    console.log(`  worst replica p99                    ${worst.toFixed(0)} ms (${(worst / Math.max(1, r.directLag.p99)).toFixed(1)}× the in-process subscription's p99; ${target})`);
    console.log(`  converged                            ${r.convergenceSeconds.toFixed(2)} s after the last append, ${new Set(r.projections).size === 1 ? 'identical' : 'DIFFERENT'} /v1/projection on every replica`);
    const p = r.postgres;
    console.log(`  PostgreSQL                           ${Math.round(p.transactionsPerSec)} transactions/s, ${Math.round(p.rowsReturnedPerSec).toLocaleString('en-US')} rows read/s, ${Math.round(p.rowsInsertedPerSec).toLocaleString('en-US')} rows inserted/s over ${p.seconds.toFixed(0)} s`);
    console.log(`  connections (peak)                   ${p.peakConnections}: ${Object.entries(p.connectionsByApplication).map(([a, c]) => `${a} ${c}`).join(', ')}`);
  } finally {
    await db.drop();
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await benchReplicas();
