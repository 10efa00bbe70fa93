import type { ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/events/decodeEvent.js';
import { generateHistory } from '../../src/generate/generateHistory.js';
import { openSqliteStore } from '../../src/stores/sqliteStore.js';
import { dumpSqlite, finished, runShell, spawnBuilt, tempDir } from '../support/cli.js';
import { waitFor } from '../support/waitFor.js';

// What only a real process shows: how the input is opened, signals, and a failing stdout.

const at = '2026-11-20T10:00:00.000Z';
const lines = (n: number, agent = 'a'): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'AgentHeartbeat', data: { agentId: `${agent}${i % 7}` }, metadata: { at } })).join('\n') + '\n';

/**
 * Writes to a child's stdin and resolves once the child has read most of it: more than a pipe
 * buffer (64 KiB) is written, so the write completes only when the child reads, which it does only
 * after its signal handlers are installed (a signal sent earlier would kill a half-started node).
 */
const feed = (child: ChildProcess, text: string) =>
  new Promise<void>((resolve) => {
    child.stdin!.on('error', () => undefined);
    child.stdin!.write(text, () => resolve());
  });

/** Resolves once a process has `file` open (it is past its start-up and its signal handlers). */
const hasOpen = (pid: number, file: string) => () => {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
};

describe('append reads its input exactly once, whatever it is', () => {
  it.each([
    ['a process substitution <(cat f)', 'cat_f'],
    ['/dev/stdin', 'devstdin'],
    ['a FIFO', 'fifo'],
    ['a pipe to -', 'pipe'],
  ])('%s: every line validated is appended', async (_name, kind) => {
    const dir = tempDir();
    const file = join(dir, 'in.ndjson');
    writeFileSync(file, lines(25));
    const db = join(dir, 's.db');
    const script = {
      cat_f: `$R append --store sqlite:${db} <(cat ${file})`,
      devstdin: `$R append --store sqlite:${db} /dev/stdin < ${file}`,
      fifo: `mkfifo ${dir}/fifo && (cat ${file} > ${dir}/fifo &) && $R append --store sqlite:${db} ${dir}/fifo`,
      pipe: `cat ${file} | $R append --store sqlite:${db} -`,
    }[kind]!;
    const r = await runShell(script);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`appended 25 event(s) to sqlite:${db}, positions 1–25\n`);
    expect(r.code).toBe(0);
    expect(JSON.parse(dumpSqlite(db)).events).toHaveLength(25);
  });

  it('a file growing while append runs adds no line that was not validated', async () => {
    const dir = tempDir();
    const file = join(dir, 'in.ndjson');
    const db = join(dir, 's.db');
    writeFileSync(file, lines(20_000));
    // A writer appends an invalid line to the file once append has it open.
    const child = spawnBuilt(['append', '--store', `sqlite:${db}`, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = finished(child);
    const opened = hasOpen(child.pid!, file);
    await waitFor('append to open its input (or finish)', () => opened() || child.exitCode !== null);
    appendFileSync(file, '{"broken\n');
    const r = await done;
    const count = JSON.parse(dumpSqlite(db) === 'absent' ? '{"events":[]}' : dumpSqlite(db)).events.length;
    // Either append read the file before the line was added (all 20,000 appended) or after (nothing).
    if (r.code === 0) expect(count).toBe(20_000);
    else expect(count).toBe(0);
    expect([0, 2]).toContain(r.code);
  });
});

describe('signals stop cleanly', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s while append is still reading and validating: nothing appended, exit %i', async (signal, code) => {
    const dir = tempDir();
    const db = join(dir, 's.db');
    const child = spawnBuilt(['append', '--store', `sqlite:${db}`, '-']);
    const done = finished(child);
    await feed(child, lines(3000));
    // The producer goes quiet (stdin stays open): append, reading or validating, has appended nothing.
    child.kill(signal);
    const r = await done;
    expect(r.code).toBe(code);
    expect(r.stderr).toBe(`rollcall: interrupted by ${signal} before anything was appended\n`);
    expect(r.stdout).toBe('');
    expect(dumpSqlite(db)).toBe('absent');
  });

  it.each([
    ['replay --input -', 'SIGINT', 130, ['replay', '--input', '-']],
    ['check --input -', 'SIGTERM', 143, ['check', '--input', '-']],
    ['audit --input -', 'SIGINT', 130, ['audit', 'a1', '--input', '-']],
  ] as const)('%s stops on %s with exit %i', async (_name, signal, code, args) => {
    const child = spawnBuilt([...args]);
    const done = finished(child);
    await feed(child, lines(3000));
    child.kill(signal);
    const r = await done;
    expect(r.code).toBe(code);
    expect(r.stderr).toBe(`rollcall: interrupted by ${signal}\n`);
    expect(r.stdout).toBe('');
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('generate stops on %s with exit %i, its output cut at a line', async (signal, code) => {
    const child = spawnBuilt(['generate', '--agents', '50', '--events', '50000000']);
    const done = finished(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('a megabyte of output', () => out.length > 1_000_000);
    child.kill(signal);
    const r = await done;
    expect(r.code).toBe(code);
    // The line says how far it got: the lines on stdout are exactly that many events.
    const m = new RegExp(`^rollcall: interrupted by ${signal}: (\\d+) of 50000000 events written\\n$`).exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.split('\n').length - 1).toBe(Number(m![1]));
  });

  it('replay --store stops on SIGTERM (exit 143) and the store is untouched', async () => {
    const dir = tempDir();
    const db = join(dir, 's.db');
    const store = openSqliteStore({ path: db });
    const events = [...generateHistory({ agents: 50, events: 100_000, seed: 3 })].map((raw) => {
      const d = decodeEvent(raw);
      if (!d.success) throw d.error;
      return d.data;
    });
    await store.appendBatch(events);
    await store.close();
    const before = dumpSqlite(db);
    const child = spawnBuilt(['replay', '--store', `sqlite:${db}`]);
    const done = finished(child);
    await waitFor('the store to be open', hasOpen(child.pid!, db));
    child.kill('SIGTERM');
    const r = await done;
    // Killed as soon as it has the file open: 100,000 events take far longer than that to fold.
    expect(r.code).toBe(143);
    expect(r.stderr).toBe('rollcall: interrupted by SIGTERM\n');
    expect(r.stdout).toBe('');
    expect(dumpSqlite(db)).toBe(before);
  }, 60_000);
});

describe('an append killed while it writes', () => {
  it.each(['SIGKILL', 'SIGTERM'] as const)('%s during the write: the store holds all of it or none of it', async (signal) => {
    const dir = tempDir();
    const db = join(dir, 's.db');
    const file = join(dir, 'in.ndjson');
    writeFileSync(file, lines(80_000));
    const child = spawnBuilt(['append', '--store', `sqlite:${db}`, file]);
    const done = finished(child);
    // The store is opened only after the whole input is valid: from then on, append is writing.
    await waitFor('the store to be open', hasOpen(child.pid!, db), { timeoutMs: 60_000 });
    child.kill(signal);
    const r = await done;
    const dump = dumpSqlite(db);
    const count = dump.startsWith('{') ? JSON.parse(dump).events.length : 0;
    expect([0, 80_000]).toContain(count);
    if (signal === 'SIGKILL') expect(r.signal).toBe('SIGKILL');
    // SIGTERM waits for the transaction: it either committed (and says so, exit 0) or stopped before it.
    else if (r.code === 0) expect([r.stdout, count]).toEqual([`appended 80000 event(s) to sqlite:${db}, positions 1–80000\n`, 80_000]);
    else expect([r.code, count]).toEqual([143, 0]);
  }, 120_000);
});

describe('output that cannot be written', () => {
  it.each([
    ['replay --json', (f: string) => ['replay', '--json', '--input', f]],
    ['generate', () => ['generate', '--agents', '5', '--events', '2000']],
    ['append', (f: string) => ['append', '--store', 'memory:', f]],
  ])('%s > /dev/full: one line on stderr, exit 5, never a stack', async (_name, args) => {
    const dir = tempDir();
    const file = join(dir, 'in.ndjson');
    writeFileSync(file, lines(50));
    const full = openSync('/dev/full', 'w');
    try {
      const child = spawnBuilt(args(file), { stdio: ['ignore', full, 'pipe'] });
      const r = await finished(child);
      expect(r.stderr).toBe('rollcall: cannot write the output: ENOSPC: no space left on device, write\n');
      expect(r.code).toBe(5);
    } finally {
      closeSync(full);
    }
  });

  it.each([
    ['generate | head -1', '$R generate --agents 5 --events 100000 | head -1 > /dev/null; echo "exit=${PIPESTATUS[0]}"'],
    ['replay --json | head -1', 'f=$(mktemp); $R generate --agents 20 --events 3000 > $f; $R replay --json --input $f | head -1 > /dev/null; echo "exit=${PIPESTATUS[1]}"; rm $f'],
    // Against a store, each reading more than a pipe holds; `watch` would otherwise follow forever.
    ...(
      [
        ['watch --from 0', 'watch --from 0'],
        ['replay --json --store', 'replay --json'],
        ['audit', 'audit a1'],
        ['explain', 'explain pool p1'],
      ] as const
    ).map(
      ([name, command]) =>
        [
          `${name} | head -1`,
          `d=$(mktemp -d); $R generate --agents 20 --events 3000 > $d/g; $R append --store sqlite:$d/s.db $d/g > /dev/null; ` +
            `$R ${command} --store sqlite:$d/s.db | head -1 > /dev/null; echo "exit=\${PIPESTATUS[0]}"; rm -r $d`,
        ] as [string, string],
    ),
  ])('%s: a closed pipe is a normal end, exit 0, nothing on stderr', async (_name, script) => {
    const r = await runShell(script);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('exit=0\n');
  });
});
