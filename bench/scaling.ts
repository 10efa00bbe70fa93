// The measurements behind docs/scaling.md, run by hand (minutes per size; not part of `npm run bench`):
//   npm run build && node --import tsx bench/scaling.ts [--sizes 1000000,2000000,5000000] [--agents 10000]
//     [--days-per-million 7] [--sqlite-at 1000000] [--keep] [--reuse rc_scale_1000000_123,…]
// --keep leaves each database in place (printed); --reuse measures the replay half again on kept
// databases (no generate, no append), e.g. after the projection code changed.
// Each size: a generated fleet history (constant event rate, so more events = more days), appended
// through the CLI into a fresh PostgreSQL database; then replay --store (full fold, saves the
// snapshot), replay --store again (restart from the snapshot), and the table and snapshot sizes.
// Every child runs under /usr/bin/time for its wall time and peak RSS. The baseline of the same
// run: the same CLI's replay on an empty database (process start, connect, schema check).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,2000000,5000000' },
    agents: { type: 'string', default: '10000' },
    'days-per-million': { type: 'string', default: '7' },
    'sqlite-at': { type: 'string', default: '1000000' },
    'retention-hours': { type: 'string' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'string' },
  },
});
const reuse = values.reuse ? values.reuse.split(',') : null;
const sizes = reuse ? reuse.map((name) => Number(/^rc_scale_(\d+)_/.exec(name)?.[1])) : values.sizes.split(',').map(Number);
const agents = Number(values.agents);
const daysPerMillion = Number(values['days-per-million']);
const sqliteAt = new Set(values['sqlite-at'].split(',').map(Number));
const admin = process.env['ROLLCALL_BENCH_PG_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';
const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'rollcall-scaling-'));

interface Run {
  seconds: number;
  /** User + system CPU seconds: less at the mercy of the machine's load than wall time. */
  cpuSeconds: number;
  maxRssMB: number;
  stdoutBytes: number;
  code: number;
}

/** Runs the CLI under /usr/bin/time; stdout goes to a file (or /dev/null) and is only counted. */
const run = async (args: string[], stdoutFile = '/dev/null'): Promise<Run> => {
  const timeFile = join(dir, 'time.txt');
  const child = spawn('/usr/bin/time', ['-f', '%e %M %U %S', '-o', timeFile, process.execPath, cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(stdoutFile);
  let bytes = 0;
  child.stdout.on('data', (d: Buffer) => {
    bytes += d.length;
    out.write(d);
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  await new Promise<void>((r) => out.end(r));
  if (code !== 0) throw new Error(`rollcall ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  const [elapsed, rssKb, user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ');
  return { seconds: Number(elapsed), cpuSeconds: Number(user) + Number(system), maxRssMB: Number(rssKb) / 1024, stdoutBytes: bytes, code };
};

const sql = async <T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
};

const dbUrl = (name: string) => {
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
};

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const retention = values['retention-hours'] ? ['--retention-hours', values['retention-hours']] : [];

console.log(
  `rollcall scaling — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (shared machine), agents ${agents}, ${daysPerMillion} days per million events${retention.length ? `, retention ${values['retention-hours']} h` : ''}`,
);

// Baseline: the same CLI against an empty database.
{
  const name = `rc_scale_base_${process.pid}`;
  await sql(admin, `CREATE DATABASE ${name}`);
  try {
    await run(['replay', '--store', dbUrl(name), '--json']);
    const r = await run(['replay', '--store', dbUrl(name), '--json']);
    console.log(`baseline: replay --store of an empty database ${r.seconds.toFixed(2)} s (CPU ${r.cpuSeconds.toFixed(2)} s), peak RSS ${r.maxRssMB.toFixed(0)} MB`);
  } finally {
    await sql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

const rows: string[] = [];
for (const [index, events] of sizes.entries()) {
  const file = join(dir, `history-${events}.ndjson`);
  const days = Math.max(1, Math.round((events / 1_000_000) * daysPerMillion));
  const name = reuse?.[index] ?? `rc_scale_${events}_${process.pid}`;
  const url = dbUrl(name);
  try {
    let append: Run = { seconds: NaN, cpuSeconds: NaN, maxRssMB: NaN, stdoutBytes: 0, code: 0 };
    if (reuse) {
      // A fresh full replay: the kept snapshot would otherwise be reused.
      await sql(url, 'DELETE FROM rollcall_snapshots');
    } else {
      await run(['generate', '--agents', String(agents), '--events', String(events), '--seed', 'scaling', '--days', String(days)], file);
      await sql(admin, `CREATE DATABASE ${name}`);
      append = await run(['append', '--store', url, file]);
    }
    const [disk] = await sql<{ total: string; heap: string; indexes: string; db: string; head: string }>(
      url,
      `SELECT pg_total_relation_size('rollcall_events') AS total, pg_relation_size('rollcall_events') AS heap,
              pg_indexes_size('rollcall_events') AS indexes, pg_database_size(current_database()) AS db,
              (SELECT position FROM rollcall_head) AS head`,
    );
    const full = await run(['replay', '--store', url, '--json', ...retention], join(dir, 'view-full.json'));
    const [snap] = await sql<{ bytes: string; position: string }>(
      url,
      `SELECT octet_length(payload) AS bytes, position FROM rollcall_snapshots WHERE name = 'lifecycle'`,
    );
    const restart = await run(['replay', '--store', url, '--json', ...retention], join(dir, 'view-restart.json'));
    const same = readFileSync(join(dir, 'view-full.json'), 'utf8') === readFileSync(join(dir, 'view-restart.json'), 'utf8');
    let sqlite = '';
    if (sqliteAt.has(events) && !reuse) {
      const path = join(dir, `scale-${events}.db`);
      const s = await run(['append', '--store', `sqlite:${path}`, file]);
      sqlite = ` | sqlite: append ${s.seconds.toFixed(0)} s (CPU ${s.cpuSeconds.toFixed(0)} s), file ${mb(statSync(path).size)} MB`;
      rmSync(path, { force: true });
      rmSync(`${path}-wal`, { force: true });
    }
    const perMillion = (Number(disk!.total) / events) * 1e6;
    const line =
      `| ${events.toLocaleString('en-US')} | ${days} | ${reuse ? 'kept' : `${mb(statSync(file).size)} MB`} | ${append.seconds.toFixed(0)} s (CPU ${append.cpuSeconds.toFixed(0)} s), ${append.maxRssMB.toFixed(0)} MB | ` +
      `${mb(Number(disk!.total))} MB (heap ${mb(Number(disk!.heap))}, indexes ${mb(Number(disk!.indexes))}); ${mb(perMillion)} MB per million | ` +
      `${full.seconds.toFixed(1)} s (CPU ${full.cpuSeconds.toFixed(1)} s), ${full.maxRssMB.toFixed(0)} MB | ${snap ? `${mb(Number(snap.bytes))} MB at ${snap.position}` : 'none'} | ` +
      `${restart.seconds.toFixed(1)} s (CPU ${restart.cpuSeconds.toFixed(1)} s), ${restart.maxRssMB.toFixed(0)} MB | ${mb(full.stdoutBytes)} MB${same ? '' : ' (DIFFERENT)'} |${sqlite}`;
    console.log(line);
    rows.push(line);
    if (!same) process.exitCode = 1;
  } finally {
    if (values.keep || reuse) console.log(`kept database ${name}`);
    else await sql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    rmSync(file, { force: true });
  }
}

console.log('\n| events | days | NDJSON | append (PostgreSQL), peak RSS | rollcall_events on disk | full replay, peak RSS | snapshot | restart from snapshot, peak RSS | view JSON |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
rmSync(dir, { recursive: true, force: true });
