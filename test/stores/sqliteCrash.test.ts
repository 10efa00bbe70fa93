import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/stores/eventStore.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { collect } from './conformance.js';
import { crashEvent } from './fixtures/crashEvents.js';

/*
 * Real processes against one database file: kill -9 in the middle of a bulk append, kill -9 after
 * an acknowledged append, and two processes appending at once.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));

interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with the first stdout line matching, rejects if the process exits first. */
  line(match: RegExp): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

const children: Child[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.proc.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const tempDb = () => {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-crash-'));
  dirs.push(dir);
  return join(dir, 'log.db');
};

const run = (name: string, args: string[]): Child => {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture(name), ...args], { cwd: root });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  const lines: string[] = [];
  const listeners = new Set<(l: string) => void>();
  createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    for (const f of listeners) f(l);
  });
  const line = (match: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const seen = lines.map((l) => match.exec(l)).find(Boolean);
      if (seen) return resolve(seen);
      const f = (l: string) => {
        const m = match.exec(l);
        if (m) {
          listeners.delete(f);
          resolve(m);
        }
      };
      listeners.add(f);
      void exited.then((e) => reject(new Error(`${name} exited (${e.code ?? e.signal}) before printing ${match}: ${e.stderr}`)));
    });
  const child = { proc, line, exited };
  children.push(child);
  return child;
};

const readAllOf = async (path: string): Promise<StoredEvent[]> => {
  const store = openSqliteStore({ path });
  try {
    return await collect(store.readAll());
  } finally {
    await store.close();
  }
};

const expectPrefix = (events: readonly StoredEvent[], length: number) => {
  expect(events).toHaveLength(length);
  events.forEach((e, i) => {
    if (e.position !== BigInt(i + 1) || e.id !== crashEvent(i).id) {
      expect({ position: e.position, id: e.id }, `event ${i}`).toEqual({ position: BigInt(i + 1), id: crashEvent(i).id });
    }
  });
};

/** Releases processes waiting on `ready` at the same moment; resolves with their exits. */
const startTogether = async (procs: Child[]) => {
  await Promise.all(procs.map((p) => p.line(/^ready$/)));
  for (const p of procs) p.proc.stdin.end('go\n');
  return Promise.all(procs.map((p) => p.exited));
};

describe('sqlite store under kill -9 and concurrent processes', () => {
  it('a bulk append killed mid-way leaves an exact prefix; re-running completes it with nothing doubled', async () => {
    const path = tempDb();
    const total = 60_000;
    const chunk = 2_000;
    const first = run('bulkAppend', [path, String(total), String(chunk)]);
    for (let i = 0; i < 4; i++) await first.line(new RegExp(`^chunk ${(i + 1) * chunk}$`));
    first.proc.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const raw = new Database(path);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    const prefix = await readAllOf(path);
    const k = prefix.length;
    expect(k).toBeGreaterThanOrEqual(4 * chunk);
    expect(k).toBeLessThan(total); // really killed in the middle
    expect(k % chunk).toBe(0); // whole chunks only: each is one transaction
    expectPrefix(prefix, k);

    const second = run('bulkAppend', [path, String(total), String(chunk)]);
    const done = await second.line(/^done (\d+) (\d+)$/);
    expect(await second.exited).toMatchObject({ code: 0 });
    expect([Number(done[1]), Number(done[2])]).toEqual([total - k, k]);
    expectPrefix(await readAllOf(path), total);
  }, 60_000);

  it('an acknowledged append survives kill -9', async () => {
    const path = tempDb();
    const child = run('ackAppend', [path, '7']);
    const ack = await child.line(/^ack (\d+)$/);
    child.proc.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    const events = await readAllOf(path);
    expect(events.map((e) => [e.position, e.id, e.stream])).toEqual([[BigInt(ack[1]!), crashEvent(7).id, 'agent-ack']]);
    expect(events[0]!.metadata).toEqual(crashEvent(7).metadata);
  }, 30_000);

  it('two processes appending to the same file at once both succeed and lose nothing', async () => {
    const path = tempDb();
    await openSqliteStore({ path }).close(); // create the schema first, as a deployed log would have it
    const rounds = 120;
    const procs = [run('concurrentAppend', [path, 'p1', String(rounds)]), run('concurrentAppend', [path, 'p2', String(rounds)])];
    const exits = await startTogether(procs);
    expect(exits.map((e) => [e.code, e.stderr])).toEqual([
      [0, ''],
      [0, ''],
    ]);

    const events = await readAllOf(path);
    expect(events).toHaveLength(2 * rounds * 5);
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => BigInt(i + 1)));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const next = new Map<string, bigint>();
    for (const e of events) {
      expect(e.revision, `revision in ${e.stream}`).toBe(next.get(e.stream) ?? 0n);
      next.set(e.stream, e.revision + 1n);
    }
    expect(next.get('agent-p1-own')).toBe(BigInt(rounds));
    expect(next.get('agent-p2-own')).toBe(BigInt(rounds));
    // They really ran at the same time: their appends interleave in the log.
    const sources = events.map((e) => (e.metadata as { source: string }).source);
    const switches = sources.filter((s, i) => i > 0 && s !== sources[i - 1]).length;
    expect(switches).toBeGreaterThan(4);
  }, 60_000);

  it('a bulk import appending chunk after chunk does not starve another process past its busy timeout', async () => {
    const path = tempDb();
    await openSqliteStore({ path }).close();
    // The importer holds the write lock almost continuously for longer than the producer's 1 s
    // busy timeout; the producer must still get each of its appends in.
    const importer = run('concurrentAppend', [path, 'importer', '60', 'bulk']);
    const producer = run('concurrentAppend', [path, 'producer', '40', 'small', '1000']);
    const exits = await startTogether([importer, producer]);
    expect(exits.map((e) => [e.code, e.stderr])).toEqual([
      [0, ''],
      [0, ''],
    ]);
    const importMs = Number((await importer.line(/^done (\d+)$/))[1]);
    const events = await readAllOf(path);
    expect(events).toHaveLength(60 * 2000 + 40 * 5);
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => BigInt(i + 1)));
    // The producer's appends landed while the import was running, not after it.
    const sources = events.map((e) => (e.metadata as { source: string }).source);
    const lastImported = sources.lastIndexOf('importer');
    expect(sources.slice(0, lastImported).filter((s) => s === 'producer').length).toBeGreaterThan(0);
    expect(importMs).toBeGreaterThan(1000); // the lock really was contended for longer than the producer's timeout
  }, 60_000);
});
