import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { tempDir } from '../support/cli.js';
import { agent, ev, pool, spawned } from '../support/lifecycle.js';
import { fleet } from '../serve/harness.js';
import { waitFor } from '../support/waitFor.js';

/*
 * `rollcall watch` as a user runs it: a separate process following a SQLite file that this test
 * process appends to (so the follower only learns of appends through the file, not in process).
 */

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A window of time to measure over (CPU while idle), not a wait for anything. */
const measureFor = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const watch = (args: string[]) => {
  const proc = spawn(process.execPath, ['--import', 'tsx', main, 'watch', ...args], { env: { ...process.env, ROLLCALL_STORE: '' } });
  children.push(proc);
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => proc.on('exit', (code) => resolve({ code, stderr })));
  /** Resolves once `n` lines have been printed (the timeout only catches a hang). */
  const waitLines = (n: number, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (lines.length < n) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`watch printed ${lines.length} of ${n} lines; stderr: ${stderr}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { proc, lines, waitLines, exited };
};

/** User + system CPU time of a process so far, in seconds (Linux /proc). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
};

const dbWithFleet = async () => {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir, 'log.db');
  const store = openSqliteStore({ path });
  await store.appendBatch([pool('p1', 2), agent('a1'), agent('a2')]);
  return { path, store };
};

describe('rollcall watch on a SQLite file written by another process', () => {
  it('prints each appended event at once, idles near zero CPU, and exits 3 when the file is deleted', { timeout: 90_000 }, async () => {
    const { path, store } = await dbWithFleet();
    const w = watch(['--store', `sqlite:${path}`]);
    // The first append after start proves that the follower is live (catch-up prints nothing).
    let warm = 0;
    for (;;) {
      await store.appendBatch([ev('AgentHeartbeat', { agentId: 'a1' })]);
      warm++;
      try {
        await w.waitLines(1, 500);
        break;
      } catch {
        // still starting
      }
    }
    // Only heartbeats appended after it had caught up are printed: it is live, so the last one
    // appended (position 3 + warm) is printed too.
    await waitFor('the last warm-up heartbeat printed', () => w.lines.length > 0 && JSON.parse(w.lines[w.lines.length - 1]!).position === String(3 + warm), {
      describe: () => w.lines,
    });
    const start = w.lines.length;
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThanOrEqual(warm);
    await store.appendBatch([spawned('a1', 's1', { poolId: 'p1', pid: 42 })]);
    await w.waitLines(start + 1);
    const line = JSON.parse(w.lines[start]!);
    expect(line).toEqual({ position: String(Number(JSON.parse(w.lines[start - 1]!).position) + 1), type: 'AgentSpawned', changed: { pools: ['p1'], agents: ['a1'], sessions: ['s1'] } });

    // Idle: nothing appended for 3 s; the follower waits on a file watch with a 1 s fallback poll.
    const before = cpuSeconds(w.proc.pid!);
    await measureFor(3000);
    const idle = cpuSeconds(w.proc.pid!) - before;
    expect(idle).toBeLessThan(0.15); // 5 % of one core, generously: a busy poll would burn far more

    // Latency from the append returning to the line on stdout, one event at a time.
    const latencies: number[] = [];
    for (let i = 0; i < 30; i++) {
      const n = w.lines.length;
      const t = performance.now();
      await store.appendBatch([ev('AgentHeartbeat', { agentId: 'a2' })]);
      await w.waitLines(n + 1);
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    expect(latencies[15]!).toBeLessThan(200); // generous on a shared machine; the bench measures it properly

    await store.close();
    rmSync(path);
    const { code, stderr } = await w.exited;
    expect(code).toBe(3);
    expect(stderr).toMatch(/follow: the database file was deleted under this process/);
  });

  it('once caught up on a store with no rung in the middle of its log, is idle: no ladder fill (that is serve\'s), near zero CPU', { timeout: 120_000 }, async () => {
    // The bench's case, smaller: a log appended with no follower, so no snapshot at all. The
    // catch-up replays it in full and saves a rung at its head; the cells below stay empty, and a
    // follower that filled them would fold the whole log again (seconds of CPU at 1M events).
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'appended.db');
    const store = openSqliteStore({ path });
    await store.appendBatch(fleet(2_000, 60_000, 7));
    const w = watch(['--store', `sqlite:${path}`]);
    // Caught up once a heartbeat appended after the start is printed (catch-up prints nothing).
    for (;;) {
      await store.appendBatch([ev('AgentHeartbeat', { agentId: 'a1' })]);
      try {
        await w.waitLines(1, 200);
        break;
      } catch {
        // still catching up
      }
    }
    const rungs = async () => (await store.snapshots!.rungs!('lifecycle')).map((r) => r.position);
    const atCatchUp = await rungs();
    expect(atCatchUp).toHaveLength(1);

    const before = cpuSeconds(w.proc.pid!);
    await measureFor(3000);
    const idle = cpuSeconds(w.proc.pid!) - before;
    // Idle, it spends a few ms a second at most (a stat and a pragma per poll); the fill it ran
    // here before spent one core and more (the fold on a worker, reads and saves on the main thread).
    expect(idle, `CPU seconds over 3 s idle`).toBeLessThan(0.15);
    // No rung below the head's (a fill's); a live snapshot, due 60 s after catch-up, would be above it.
    const below = async () => (await rungs()).filter((p) => p <= atCatchUp[0]!);
    expect(await below()).toEqual(atCatchUp);
    w.proc.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
    expect(await below()).toEqual(atCatchUp);
    await store.close();
  });

  it('--from POSITION prints every event after it, then follows', { timeout: 60_000 }, async () => {
    const { path, store } = await dbWithFleet();
    await store.appendBatch([spawned('a1', 's1', { poolId: 'p1' }), ev('AgentHeartbeat', { agentId: 'a2' })]);
    const w = watch(['--store', `sqlite:${path}`, '--from', '2']);
    await w.waitLines(3);
    await store.appendBatch([ev('AgentHeartbeat', { agentId: 'a1' })]);
    await w.waitLines(4);
    expect(w.lines.map((l) => JSON.parse(l).position)).toEqual(['3', '4', '5', '6']);
    await store.close();
    w.proc.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
  });

  it('a missing database file is exit 3 naming the path, and is not created', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'typo.db');
    const w = watch(['--store', `sqlite:${path}`]);
    const { code, stderr } = await w.exited;
    expect(code).toBe(3);
    expect(stderr).toContain(path);
    expect(existsSync(path)).toBe(false);
  });
});
