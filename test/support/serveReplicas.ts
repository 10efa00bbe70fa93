import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { LifecycleEvent } from '../../src/events/lifecycleEvents.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { openPostgresStore } from '../../src/stores/postgresStore.js';
import { waitFor } from './waitFor.js';

/*
 * N `rollcall serve` processes (the built CLI, dist/) following one PostgreSQL store while a writer
 * appends at a target rate; measures how late each replica sees each committed batch, and what the
 * whole thing costs PostgreSQL. Shared by the replica test (convergence, at whatever rate the
 * machine sustains) and bench/replicas.ts (the figures).
 */

export interface ReplicaRunOptions {
  /** A PostgreSQL database URL (fresh and empty). */
  url: string;
  replicas: number;
  /** Target events per second of the writer. */
  rate: number;
  seconds: number;
  /** Events per append call. Default: a twentieth of a second's worth (at least 1). */
  batch?: number;
  /** Agents of the generated fleet. Default 2,000. */
  agents?: number;
  /** The CLI each replica runs. Default this tree's dist/cli/main.js (another build: an A/B). */
  cli?: string;
  /** Node flags of each replica's process, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  nodeArgs?: string[];
}

export interface LagStats {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ReplicaRunResult {
  appended: number;
  writerSeconds: number;
  /** Events per second the writer achieved (appended / writerSeconds). */
  sustainedRate: number;
  lastPosition: bigint;
  /** Per replica: time from an append's acknowledgement to its last event arriving on the replica's /v1/changes, in ms. */
  lag: LagStats[];
  /** The same for an in-process store subscription on the same database: the floor (NOTIFY, one read). */
  directLag: LagStats;
  /** Each replica's /v1/projection at lastPosition, keys sorted. */
  projections: string[];
  /** Per replica: CPU seconds (user + system, all threads) its process used from the writer's start to the end; null without /proc. */
  replicaCpuSeconds: Array<number | null>;
  /** Seconds from the writer's last acknowledgement until every replica reported lastPosition. */
  convergenceSeconds: number;
  postgres: {
    seconds: number;
    transactionsPerSec: number;
    rowsReturnedPerSec: number;
    rowsInsertedPerSec: number;
    /** Peak connections to the database during the run, and by application_name at that peak. */
    peakConnections: number;
    connectionsByApplication: Record<string, number>;
  };
}

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

const sortKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(sortKeys)
    : v && typeof v === 'object'
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]))
      : v;

export const stats = (values: number[]): LagStats => {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN);
  return { samples: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1]! : NaN };
};

const withParam = (url: string, param: string) => `${url}${url.includes('?') ? '&' : '?'}${param}`;

interface Replica {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

const startReplica = (storeUrl: string, i: number, options: Pick<ReplicaRunOptions, 'cli' | 'nodeArgs'>): Promise<Replica> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), options.cli ?? cli, 'serve', '--store', withParam(storeUrl, `application_name=rollcall-replica-${i}`), '--port', '0', '--log-level', 'silent'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    const timer = setTimeout(() => reject(new Error(`replica ${i} did not start: ${err}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = / on (http:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica ${i} exited ${code}: ${err}`));
    });
  });

/** CPU seconds a process has used so far (Linux /proc; null elsewhere or once it exited). */
const cpuSeconds = (pid: number | undefined): number | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the command name), in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
};

/** Readiness announces nothing: /readyz is looked at until it is 200 (the timeout only catches a hang). */
const waitReady = (url: string, timeoutMs: number) =>
  waitFor(
    `${url} ready`,
    async () => {
      const res = await fetch(`${url}/readyz`).catch(() => null);
      await res?.body?.cancel();
      return res?.status === 200;
    },
    { timeoutMs, intervalMs: 100 },
  );

/**
 * Follows a replica's /v1/changes: arrival time of every position (index = position); `caughtUp`
 * once the replica said `caught-up` (it is following live from then on).
 */
const followChanges = (url: string, arrivals: Float64Array, signal: AbortSignal, caughtUp: () => void): Promise<void> =>
  (async () => {
    const res = await fetch(`${url}/v1/changes?from=0`, { signal, headers: { accept: 'text/event-stream' } });
    if (res.status !== 200 || !res.body) throw new Error(`${url}/v1/changes answered ${res.status}`);
    const decoder = new TextDecoder();
    let rest = '';
    try {
      for await (const chunk of res.body) {
        const now = performance.now();
        const text = rest + decoder.decode(chunk as Uint8Array, { stream: true });
        const cut = text.lastIndexOf('\n');
        rest = text.slice(cut + 1);
        for (const m of text.slice(0, cut).matchAll(/^id: (\d+)$/gm)) {
          const p = Number(m[1]);
          if (p < arrivals.length && arrivals[p] === 0) arrivals[p] = now;
        }
        if (/^event: caught-up$/m.test(text.slice(0, cut))) caughtUp();
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    }
  })();

const pgCounters = async (url: string) => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ xact: string; returned: string; inserted: string }>(
      `SELECT xact_commit + xact_rollback AS xact, tup_returned + tup_fetched AS returned, tup_inserted AS inserted
       FROM pg_stat_database WHERE datname = current_database()`,
    );
    return { xact: Number(rows[0]!.xact), returned: Number(rows[0]!.returned), inserted: Number(rows[0]!.inserted) };
  } finally {
    await c.end();
  }
};

const connections = async (url: string): Promise<Record<string, number>> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ app: string; n: number }>(
      `SELECT coalesce(nullif(application_name, ''), '(none)') AS app, count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1`,
    );
    return Object.fromEntries(rows.map((r) => [r.app, r.n]));
  } finally {
    await c.end();
  }
};

/** Runs the replicas, the writer, and measures; stops every process it started. */
export const runReplicas = async (options: ReplicaRunOptions): Promise<ReplicaRunResult> => {
  const total = Math.round(options.rate * options.seconds);
  const batch = options.batch ?? Math.max(1, Math.round(options.rate / 20));
  const events = [...generateHistory({ agents: options.agents ?? 2_000, events: total, seed: 'replicas' })] as unknown as LifecycleEvent[];

  const writer = await openPostgresStore({ url: withParam(options.url, 'application_name=rollcall-writer') });
  const direct = await openPostgresStore({ url: withParam(options.url, 'application_name=rollcall-direct-follower') });
  const replicas: Replica[] = [];
  const stop = new AbortController();
  try {
    for (let i = 0; i < options.replicas; i++) replicas.push(await startReplica(options.url, i, options));
    await Promise.all(replicas.map((r) => waitReady(r.url, 60_000)));

    // Positions are gapless from 1 on PostgreSQL: arrival times are indexed by position.
    const arrivals = replicas.map(() => new Float64Array(total + 1));
    const directArrivals = new Float64Array(total + 1);
    const live = replicas.map(() => {
      let resolve!: () => void;
      return { promise: new Promise<void>((r) => (resolve = r)), resolve: () => resolve() };
    });
    const following = replicas.map((r, i) => followChanges(r.url, arrivals[i]!, stop.signal, live[i]!.resolve));
    const directFollowing = (async () => {
      for await (const e of direct.subscribe({ signal: stop.signal })) {
        const p = Number(e.position);
        if (p < directArrivals.length) directArrivals[p] = performance.now();
      }
    })();
    // Every replica's stream is live (the in-process follower is on an empty store: live at once).
    await Promise.race([Promise.all(live.map((l) => l.promise)), Promise.all(following).then(() => Promise.reject(new Error('a /v1/changes stream ended before caught-up')))]);

    let peak = 0;
    let peakByApp: Record<string, number> = {};
    const sampling = (async () => {
      while (!stop.signal.aborted) {
        const byApp = await connections(options.url).catch(() => ({}));
        const n = Object.values(byApp).reduce((a, b) => a + b, 0);
        if (n > peak) {
          peak = n;
          peakByApp = byApp;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();

    const cpuBefore = replicas.map((r) => cpuSeconds(r.child.pid));
    const before = await pgCounters(options.url);
    const pgStarted = performance.now();
    const acks: Array<[number, number]> = []; // [last position of the batch, ack time]
    const started = performance.now();
    let last = 0n;
    for (let i = 0, n = 0; i < total; i += batch, n++) {
      const due = started + (n * batch * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const r = await writer.appendBatch(events.slice(i, i + batch));
      if (r.lastPosition !== null) {
        last = r.lastPosition;
        acks.push([Number(r.lastPosition), performance.now()]);
      }
    }
    const writerSeconds = (performance.now() - started) / 1000;
    const wroteAt = performance.now();

    const projections = await Promise.all(
      replicas.map(async (r) => {
        const res = await fetch(`${r.url}/v1/projection?minPosition=${last}&waitMs=30000`);
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${r.url}/v1/projection answered ${res.status}: ${text.slice(0, 300)}`);
        return JSON.stringify(sortKeys(JSON.parse(text)));
      }),
    );
    const convergenceSeconds = (performance.now() - wroteAt) / 1000;
    // Let the last changes reach the SSE followers, then stop following.
    await waitFor('the last change at every follower', () => !arrivals.some((a) => a[Number(last)] === 0) && directArrivals[Number(last)] !== 0, {
      intervalMs: 50,
    }).catch(() => undefined); // measured as missing below, not a failure of the run
    const cpuAfter = replicas.map((r) => cpuSeconds(r.child.pid));
    stop.abort();
    await Promise.allSettled([...following, directFollowing, sampling]);

    // Stopped processes flush their statistics to pg_stat_database.
    await Promise.all(replicas.map((r) => new Promise<void>((res) => (r.child.exitCode !== null ? res() : (r.child.once('exit', () => res()), r.child.kill('SIGTERM'))))));
    const pgSeconds = (performance.now() - pgStarted) / 1000;
    await writer.close();
    await direct.close();
    // Each server backend flushes its counters as it exits: wait until none of ours is left.
    await waitFor('every connection of the run to close', async () => {
      const apps = Object.keys(await connections(options.url));
      return !apps.some((a) => a.startsWith('rollcall-'));
    }, { intervalMs: 50 });
    const after = await pgCounters(options.url);

    const lagsOf = (a: Float64Array) => acks.filter(([p]) => a[p]! > 0).map(([p, t]) => Math.max(0, a[p]! - t));
    return {
      appended: total,
      writerSeconds,
      sustainedRate: total / writerSeconds,
      lastPosition: last,
      lag: arrivals.map((a) => stats(lagsOf(a))),
      directLag: stats(lagsOf(directArrivals)),
      projections,
      replicaCpuSeconds: cpuAfter.map((a, i) => (a === null || cpuBefore[i] === null ? null : a - cpuBefore[i]!)),
      convergenceSeconds,
      postgres: {
        seconds: pgSeconds,
        transactionsPerSec: (after.xact - before.xact) / pgSeconds,
        rowsReturnedPerSec: (after.returned - before.returned) / pgSeconds,
        rowsInsertedPerSec: (after.inserted - before.inserted) / pgSeconds,
        peakConnections: peak,
        connectionsByApplication: peakByApp,
      },
    };
  } finally {
    stop.abort();
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await writer.close().catch(() => undefined);
    await direct.close().catch(() => undefined);
  }
};
