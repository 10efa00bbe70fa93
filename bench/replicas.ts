// Follower lag and PostgreSQL load with N `rollcall serve` replicas on one store while a writer
// appends at a target rate (issue 12: 4 replicas, 10,000 events/s for 30 s, goal p99 ≤ 100 ms).
// Baseline of the same run: an in-process store subscription on the same database (NOTIFY + one
// read, no HTTP, no projection). Needs PostgreSQL (ROLLCALL_TEST_PG_URL, or the local server) and
// dist/ (npm run build). BENCH_REPLICAS_N, BENCH_REPLICAS_RATE, BENCH_REPLICAS_SECONDS override.
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findPostgres } from '../test/support/postgres.js';
import { runReplicas, type LagStats } from '../test/support/serveReplicas.js';

export const benchReplicas = async (): Promise<void> => {
  const n = Number(process.env['BENCH_REPLICAS_N'] ?? 4);
  const rate = Number(process.env['BENCH_REPLICAS_RATE'] ?? 10_000);
  const seconds = Number(process.env['BENCH_REPLICAS_SECONDS'] ?? 30);
  const server = await findPostgres();
  if (!server) throw new Error('no PostgreSQL server reachable');
  const db = await server.createDatabase();
  try {
    const load = loadavg().map((l) => l.toFixed(1)).join(' ');
    const r = await runReplicas({ url: db.url, replicas: n, rate, seconds });
    const ms = (l: LagStats) => `p50 ${l.p50.toFixed(0).padStart(5)} ms  p99 ${l.p99.toFixed(0).padStart(5)} ms  max ${l.max.toFixed(0).padStart(5)} ms  (${l.samples} batches)`;
    console.log(`\nreplicas: ${n} × rollcall serve on PostgreSQL, writer target ${rate} events/s for ${seconds} s (${cpus().length} cores, load ${load} at start, shared machine)`);
    console.log(`  writer sustained                     ${Math.round(r.sustainedRate).toLocaleString('en-US').padStart(8)} events/s (${r.appended.toLocaleString('en-US')} events in ${r.writerSeconds.toFixed(1)} s)`);
    console.log(`  baseline: in-process subscription    ${ms(r.directLag)}`);
    r.lag.forEach((l, i) => console.log(`  replica ${i + 1} /v1/changes              ${ms(l)}`));
    const all = r.lag.map((l) => l.p99);
    console.log(`  worst replica p99                    ${Math.max(...all).toFixed(0)} ms (goal ≤ 100 ms)`);
    console.log(`  converged                            ${r.convergenceSeconds.toFixed(2)} s after the last append, ${new Set(r.projections).size === 1 ? 'identical' : 'DIFFERENT'} /v1/projection on every replica`);
    const p = r.postgres;
    console.log(`  PostgreSQL                           ${Math.round(p.transactionsPerSec)} transactions/s, ${Math.round(p.rowsReturnedPerSec).toLocaleString('en-US')} rows read/s, ${Math.round(p.rowsInsertedPerSec).toLocaleString('en-US')} rows inserted/s over ${p.seconds.toFixed(0)} s`);
    console.log(`  connections (peak)                   ${p.peakConnections}: ${Object.entries(p.connectionsByApplication).map(([a, c]) => `${a} ${c}`).join(', ')}`);
  } finally {
    await db.drop();
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await benchReplicas();
