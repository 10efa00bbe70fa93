// Child processes of the benchmark: each measures one pass in a fresh process, so that its peak
// RSS is its own, and prints one JSON line. Rollcall is loaded from the compiled package (dist/),
// as users run it; the module paths are strings so that typechecking never needs dist/.
import { createReadStream } from 'node:fs';
import readline from 'node:readline';

const [mode, ...args] = process.argv.slice(2);
const dist = (path: string) => import(new URL(`../dist/${path}`, import.meta.url).href);
// Module loading is not the work being measured: each mode loads what it needs, then restarts the clock.
let started = performance.now();
let events = 0;
/** When the timed part ended, if something untimed follows it. */
let finished = 0;
const extra: Record<string, unknown> = {};

/** `rollcall ARGS` through the CLI in this process; stdout kept only when short (a summary line). */
const cli = async (argv: string[]): Promise<string> => {
  const { runCli } = await dist('cli/runCli.js');
  await dist(`cli/commands/${argv[0]}.js`);
  if (argv.includes('--store') && /^postgres/.test(argv[argv.indexOf('--store') + 1] ?? '')) await dist('stores/postgresStore.js');
  started = performance.now();
  let out = '';
  const stdout = { write: (s: string, cb?: () => void) => ((out += s.length > 4096 ? '' : s), cb?.(), true) };
  const code = await runCli(argv, { stdout, stderr: process.stderr, env: {} });
  if (code !== 0) throw new Error(`rollcall ${argv.join(' ')} exited ${code}`);
  return out;
};

const PAGE = 10_000;

switch (mode) {
  case 'baseline': {
    // The yardstick of the issue: a bare readline + JSON.parse pass over the same file.
    for await (const line of readline.createInterface({ input: createReadStream(args[0]!), crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      JSON.parse(line);
      events++;
    }
    break;
  }
  case 'decode': {
    // The baseline's pass plus validation alone (`decodeLine`: parse, upcast, validate): with the
    // compiled validator in front of zod (`fast`, what rollcall runs) or with zod alone (`zod`).
    const [file, how] = args as [string, 'fast' | 'zod'];
    const { decodeLine } = await dist('events/decodeEvent.js');
    const options = { fast: how === 'fast', missingId: () => '00000000-0000-4000-8000-000000000000' };
    started = performance.now();
    let line = 0;
    for await (const text of readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      if (!decodeLine(text, { line }, options).success) throw new Error(`line ${line} refused`);
      events++;
    }
    break;
  }
  case 'append-bare': {
    // The yardstick for `rollcall append`: readline + JSON.parse + one prepared insert per
    // row into the same table (rollcall's schema, made untimed by opening the store), all in one
    // transaction, WAL, synchronous=FULL; stream and revision counted as simply as possible.
    // `events` counts the rows written, as `rollcall append` reports them.
    const [path, file] = args as [string, string];
    const { openStore } = await dist('stores/openStore.js');
    await (await openStore(`sqlite:${path}`)).close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    started = performance.now();
    // The history redelivers some ids: skipped as rollcall skips them (the revision does not move).
    const insert = db.prepare('INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
    const revisions = new Map<string, number>();
    db.exec('BEGIN IMMEDIATE');
    for await (const line of readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      const e = JSON.parse(line) as { id: string; type: string; data: Record<string, string>; metadata: unknown };
      const stream = `s-${e.data['agentId'] ?? e.data['poolId'] ?? e.data['host']}`;
      const revision = revisions.get(stream) ?? 0;
      if (insert.run(stream, revision, e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata)).changes === 1) {
        revisions.set(stream, revision + 1);
        events++;
      }
    }
    db.exec('COMMIT');
    db.close();
    break;
  }
  case 'replay': {
    // What `rollcall replay --input FILE --json` does; `in` keeps decoding in this thread.
    const [file, how] = args as [string, 'auto' | 'in'];
    const { replayFile } = await dist('replay/replayLog.js');
    const { lifecycleProjection } = await dist('projections/lifecycleProjection.js');
    const { lifecycleView } = await dist('projections/lifecycleView.js');
    await dist('replay/offThread.js');
    started = performance.now();
    const result: { state: unknown; processed: number } = await replayFile(file, lifecycleProjection, { offThread: how === 'in' ? false : 'auto' });
    JSON.stringify(lifecycleView(result.state));
    events = result.processed;
    break;
  }
  case 'append': {
    // `rollcall append --store URL FILE`: validate everything, then append in the CLI's chunks.
    const [url, file] = args as [string, string];
    const out = await cli(['append', '--store', url, file]);
    events = Number(/appended (\d+)/.exec(out)?.[1]);
    break;
  }
  case 'read-sqlite': {
    // The store's read speed: a bare better-sqlite3 paged read of the same rows + JSON.parse.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(args[0]!, { readonly: true });
    started = performance.now();
    const page = db.prepare('SELECT position, stream, revision, id, type, data, metadata FROM events WHERE position > ? ORDER BY position LIMIT ?').raw(true);
    let after = 0;
    for (;;) {
      const rows = page.all(after, PAGE) as unknown[][];
      for (const r of rows) {
        JSON.parse(r[5] as string);
        JSON.parse(r[6] as string);
      }
      events += rows.length;
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]![0] as number;
    }
    db.close();
    break;
  }
  case 'read-pg': {
    // The same against PostgreSQL: paged `pg` reads, rows as arrays of text, + JSON.parse.
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: args[0]! });
    await client.connect();
    started = performance.now();
    const asText = { getTypeParser: () => (v: string) => v };
    let after = '0';
    for (;;) {
      const { rows } = await client.query<string[]>({
        text: 'SELECT position, stream, revision, id, type, data, metadata FROM rollcall_events WHERE position > $1 ORDER BY position LIMIT $2',
        values: [after, PAGE],
        rowMode: 'array',
        types: asText,
      });
      for (const r of rows) {
        JSON.parse(r[5]!);
        JSON.parse(r[6]!);
      }
      events += rows.length;
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]![0]!;
    }
    await client.end();
    break;
  }
  case 'replay-store': {
    // `rollcall replay --store URL --json`, in full (`full`) or from the snapshot a previous run saved (`restart`).
    const [url, how] = args as [string, 'full' | 'restart' | 'save'];
    await cli(['replay', '--store', url, '--json', ...(how === 'full' ? ['--no-snapshot'] : [])]);
    finished = performance.now();
    const { openStore } = await dist('stores/openStore.js');
    const { lifecycleProjection } = await dist('projections/lifecycleProjection.js');
    const store = await openStore(url);
    const snapshot = await store.snapshots?.load(lifecycleProjection.name);
    events = Number((await store.head()) ?? 0n);
    extra['snapshotBytes'] = snapshot ? Buffer.byteLength(snapshot.payload) : 0;
    extra['snapshotPosition'] = snapshot ? snapshot.position.toString() : null;
    await store.close();
    break;
  }
  case 'replay-store-lib': {
    // The same full store replay through the library, choosing where decoding runs (`in`: this
    // thread, `off`: a worker), and `state`: the state only (no view, no output), in full or from
    // the snapshot (`restart`), which is what a restarting service (watch, serve) waits for.
    const [url, how, what] = args as [string, 'in' | 'off', 'full' | 'restart' | 'state-full' | 'state-restart'];
    const { openStore } = await dist('stores/openStore.js');
    const { replayStore } = await dist('replay/replayLog.js');
    const { lifecycleProjection } = await dist('projections/lifecycleProjection.js');
    const { lifecycleView } = await dist('projections/lifecycleView.js');
    started = performance.now();
    const store = await openStore(url);
    const result = await replayStore(store, lifecycleProjection, {
      noSnapshot: what === 'full' || what === 'state-full',
      offThread: how === 'off',
      snapshotEvery: Infinity,
    });
    if (what === 'full' || what === 'restart') JSON.stringify(lifecycleView(result.state));
    events = result.processed;
    finished = performance.now();
    await store.close();
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
const seconds = ((finished || performance.now()) - started) / 1000;
process.stdout.write(`${JSON.stringify({ mode, events, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024, ...extra })}\n`);
