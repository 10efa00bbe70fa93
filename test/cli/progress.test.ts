import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli.js';
import { createProgress, createStage, estimateNdjsonEvents } from '../../src/cli/progress.js';
import { generateNdjson } from '../../src/generate/generateHistory.js';
import { appendEvents } from '../../src/ingest/appendEvents.js';
import { openMemoryStore } from '../../src/stores/memoryStore.js';
import { dumpSqlite, tempDir } from '../support/cli.js';
import { waitFor } from '../support/waitFor.js';

/** A stand-in for process.stderr: a terminal when `tty` says so. */
const stream = (tty: boolean) => {
  const out = { text: '', isTTY: tty, columns: 120, write: (s: string) => ((out.text += s), true) };
  return out;
};

/**
 * Runs the CLI with a chosen stderr; progress shows at once (no 1 s delay) so that short runs show it
 * too. `stopAfterLines`: a follower (watch) is stopped as by SIGTERM once stdout has that many lines.
 * `order` is which stream each write went to, in order.
 */
const run = async (args: string[], tty: boolean, options: { stopAfterLines?: number } = {}) => {
  let stdout = '';
  let order = '';
  const stderr = stream(tty);
  const stop = new AbortController();
  const code = await runCli(args, {
    stdout: {
      write: (s: string, cb?: () => void) => {
        stdout += s;
        order += 'o';
        if (options.stopAfterLines !== undefined && stdout.split('\n').length > options.stopAfterLines) stop.abort('SIGTERM');
        cb?.();
        return true;
      },
    },
    stderr: { ...stderr, write: (s: string) => ((order += 'e'), stderr.write(s)) },
    env: { ROLLCALL_STORE: 'memory:', ROLLCALL_PROGRESS_DELAY_MS: '0' },
    signal: stop.signal,
  });
  return { code, stdout, stderr: stderr.text, order };
};

describe('createProgress', () => {
  it('draws nothing when stderr is not a terminal', () => {
    const err = stream(false);
    const p = createProgress({ stdout: stream(false), stderr: err, env: {} }, { label: 'replay', total: 100, delayMs: 0 });
    for (let i = 1; i <= 100; i++) p.update(i);
    p.stop();
    expect(err.text).toBe('');
  });

  it('on a terminal: nothing in the first second, then a bar with events/s and an ETA, cleared at the end', () => {
    let clock = 0;
    const err = stream(true);
    const p = createProgress({ stdout: stream(false), stderr: err, env: {} }, { label: 'replay', total: 10_000, now: () => clock });
    clock = 500;
    p.update(2_000);
    expect(err.text).toBe('');
    clock = 1_500;
    p.update(3_000);
    expect(err.text).toMatch(/replay \[.*\] 30% \| 3,000 events \| 2,000 events\/s \| ETA /);
    p.update(12_000); // more than the estimate: the total grows with the count
    p.stop();
    expect(err.text).toContain('\u001b[2K'); // the bar's line is cleared, nothing is left behind
  });

  it('estimates a file’s events from its first lines', () => {
    const path = join(tempDir(), 'e.ndjson');
    writeFileSync(path, [...generateNdjson({ agents: 30, events: 20_000, seed: 1 })].join('\n') + '\n');
    const estimate = estimateNdjsonEvents(path);
    expect(estimate).toBeGreaterThan(18_000);
    expect(estimate).toBeLessThan(22_000);
    expect(estimateNdjsonEvents(join(tempDir(), 'missing.ndjson'))).toBe(0);
  });
});

describe('progress in the commands', { timeout: 60_000 }, () => {
  const dir = tempDir();
  const file = join(dir, 'h.ndjson');
  writeFileSync(file, [...generateNdjson({ agents: 50, events: 30_000, seed: 5 })].join('\n') + '\n');

  it.each([
    ['generate', ['generate', '--agents', '40', '--events', '20000', '--seed', '2']],
    ['replay', ['replay', '--input', file, '--json']],
    ['check', ['check', '--input', file]],
  ])('%s: a bar on a terminal stderr, none otherwise, and stdout byte-identical either way', async (label, args) => {
    const plain = await run(args, false);
    const tty = await run(args, true);
    expect(plain.code).toBe(0);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toBe(plain.stdout);
    expect(plain.stderr).toBe('');
    expect(tty.stderr).toMatch(new RegExp(`${label} \\[.*\\] \\d+% \\| [\\d,]+ events \\| [\\d,]+ events/s \\| ETA `));
    expect(tty.stdout).not.toMatch(/events\/s|\u001b\[/);
  });

  it('replay --store: the bar counts the store’s events', async () => {
    const db = `sqlite:${join(dir, 'p.db')}`;
    expect((await run(['append', '--store', db, file], false)).code).toBe(0);
    const plain = await run(['replay', '--store', db, '--no-snapshot', '--json'], false);
    const tty = await run(['replay', '--store', db, '--no-snapshot', '--json'], true);
    expect(tty.stdout).toBe(plain.stdout);
    expect(plain.stderr).toBe('');
    expect(tty.stderr).toMatch(/replay \[.*\] \d+% \| [\d,]+ events \| [\d,]+ events\/s \| ETA /);
  });

  it('a real terminal (script(1) gives the CLI a pty): the bar reaches it, the NDJSON on stdout is unchanged', () => {
    const out = join(dir, 'pty.ndjson');
    const main = join(import.meta.dirname, '../../src/cli/main.ts');
    const cmd = `node --import tsx ${main} generate --agents 50 --events 30000 --seed 8 > ${out}`;
    const screen = execFileSync('script', ['-q', '-e', '-c', cmd, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, ROLLCALL_PROGRESS_DELAY_MS: '0' },
      cwd: join(import.meta.dirname, '../..'),
    });
    expect(screen).toMatch(/generate \[.*\] \d+% \| [\d,]+ events \| [\d,]+ events\/s \| ETA /);
    const piped = execFileSync(process.execPath, ['--import', 'tsx', main, 'generate', '--agents', '50', '--events', '30000', '--seed', '8'], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      cwd: join(import.meta.dirname, '../..'),
      env: { ...process.env, ROLLCALL_PROGRESS_DELAY_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(readFileSync(out, 'utf8')).toBe(piped);
  });
});

describe('progress without a known total, and stages', () => {
  it('no total (a pipe): the count and the rate, no bar, percentage or ETA', () => {
    const err = stream(true);
    const p = createProgress({ stdout: stream(false), stderr: err, env: {} }, { label: 'append: validating', total: null, delayMs: 0 });
    p.update(1_000);
    p.update(2_000);
    p.stop();
    expect(err.text).toMatch(/append: validating \| [\d,]+ events \| [\d,]+ events\/s/);
    expect(err.text).not.toMatch(/%|ETA/);
  });

  it('measured in bytes: the percentage follows the bytes read, the count stays in events', () => {
    let clock = 0;
    const err = stream(true);
    const p = createProgress({ stdout: stream(false), stderr: err, env: {} }, { label: 'v', total: 1_000, measure: 'bytes', delayMs: 0, now: () => clock });
    clock = 1_000;
    p.update(7, 250); // 7 events in 250 of 1,000 bytes: 25 %, not 1 %
    expect(err.text).toMatch(/v \[.*\] 25% \| 7 events \| 7 events\/s \| ETA /);
    p.stop();
  });

  it('a stage line: at once once the delay has passed, cleared by stop; nothing off a terminal', () => {
    const err = stream(true);
    const stage = createStage({ stdout: stream(false), stderr: err, env: {} }, 'append: writing 5 events…', { startedAt: 0, delayMs: 10, now: () => 20 });
    expect(err.text).toBe('\r\u001b[2Kappend: writing 5 events…');
    stage.stop();
    expect(err.text.endsWith('\r\u001b[2K')).toBe(true);
    const plain = stream(false);
    createStage({ stdout: stream(false), stderr: plain, env: {} }, 'x', { startedAt: 0, delayMs: 0, now: () => 20 }).stop();
    expect(plain.text).toBe('');
  });

  it('a stage line before its delay: shown by its timer if still running, never after stop', async () => {
    const err = stream(true);
    const io = { stdout: stream(false), stderr: err, env: {} };
    const early = createStage(io, 'quick', { startedAt: performance.now(), delayMs: 30 });
    early.stop();
    const slow = createStage(io, 'slow', { startedAt: performance.now(), delayMs: 30 });
    expect(err.text).toBe('');
    // Its timer writes it (quick's, set first, would have written before it).
    await waitFor('the slow stage line', () => err.text !== '');
    slow.stop();
    expect(err.text).toBe('\r\u001b[2Kslow\r\u001b[2K');
  });
});

describe('appendEvents: the progress hook', () => {
  const lines = [...generateNdjson({ agents: 20, events: 3_000, seed: 3 })];

  it('validation after each chunk, then the write as (0, n) and (n, n)', async () => {
    const calls: Array<[number, number | null, string]> = [];
    const store = openMemoryStore();
    const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
    const chunks = (async function* () {
      for (let i = 0; i < bytes.length; i += 1 << 14) yield bytes.subarray(i, i + (1 << 14));
    })();
    const r = await appendEvents(store, chunks, { onProgress: (d, t, p) => calls.push([d, t, p]) });
    expect(r.success).toBe(true);
    const validate = calls.filter((c) => c[2] === 'validate');
    expect(validate.length).toBeGreaterThan(5);
    expect(validate.every((c, i) => c[1] === null && (i === 0 || c[0] >= validate[i - 1]![0]))).toBe(true);
    expect(validate.at(-1)![0]).toBe(3_000);
    expect(calls.filter((c) => c[2] === 'write')).toEqual([
      [0, 3_000, 'write'],
      [3_000, 3_000, 'write'],
    ]);
    expect(calls.findIndex((c) => c[2] === 'write')).toBe(validate.length); // validation first, all of it
  });

  it('an array: validation counted against its length', async () => {
    const calls: Array<[number, number | null, string]> = [];
    const events = lines.slice(0, 2_500).map((l) => JSON.parse(l) as unknown);
    expect((await appendEvents(openMemoryStore(), events, { onProgress: (d, t, p) => calls.push([d, t, p]) })).success).toBe(true);
    expect(calls.filter((c) => c[2] === 'validate')).toEqual([
      [1_000, 2_500, 'validate'],
      [2_000, 2_500, 'validate'],
      [2_500, 2_500, 'validate'],
    ]);
  });

  it('a bad line: no write phase is reported and nothing is written; a throwing hook changes nothing', async () => {
    const store = openMemoryStore();
    const phases: string[] = [];
    const bad = await appendEvents(store, [...lines.slice(0, 10), '{"type":"Nope"}'].join('\n'), { onProgress: (_d, _t, p) => phases.push(p) });
    expect(bad.success).toBe(false);
    expect(phases).not.toContain('write');
    expect(await store.head()).toBeNull();
    const ok = await appendEvents(store, lines.slice(0, 10).join('\n'), {
      onProgress: () => {
        throw new Error('display broke');
      },
    });
    expect(ok.success && ok.data.appended).toBe(10);
  });
});

describe('progress in append and watch', { timeout: 120_000 }, () => {
  const dir = tempDir();
  const file = join(dir, 'h.ndjson');
  writeFileSync(file, [...generateNdjson({ agents: 50, events: 30_000, seed: 5 })].join('\n') + '\n');
  const more = join(dir, 'more.ndjson');
  writeFileSync(more, [...generateNdjson({ agents: 50, events: 5_000, seed: 6, start: '2026-06-01T00:00:00.000Z' })].join('\n') + '\n');
  let n = 0;
  const db = () => join(dir, `s${++n}.db`);
  const bar = (label: string) => new RegExp(`${label} \\[.*\\] \\d+% \\| [\\d,]+ events \\| [\\d,]+ events/s \\| ETA `);

  it('append FILE: the validation bar (over the file’s bytes), then "writing N events…"; none otherwise; stdout byte-identical', async () => {
    const a = db();
    const b = db();
    const plain = await run(['append', '--store', `sqlite:${a}`, file], false);
    const tty = await run(['append', '--store', `sqlite:${b}`, file], true);
    expect(plain.code).toBe(0);
    expect(tty.code).toBe(0);
    expect(tty.stdout.replace(b, a)).toBe(plain.stdout);
    expect(plain.stdout).toMatch(/^appended \d+ event\(s\) to sqlite:/);
    expect(plain.stderr).toBe('');
    expect(tty.stderr).toMatch(bar('append: validating'));
    expect(tty.stderr).toMatch(/100% \| 30,000 events/); // the last rendering: every byte read
    expect(tty.stderr).toContain('\r\u001b[2Kappend: writing 30,000 events…\r\u001b[2K');
    expect(tty.stderr.indexOf('writing')).toBeGreaterThan(tty.stderr.lastIndexOf('validating')); // validation, then the write
    expect(tty.order).toMatch(/^e+o$/); // the bar and the stage are gone before the one line of output
    expect(dumpSqlite(b)).toBe(dumpSqlite(a));
  });

  it('append from a FIFO (size unknown): the count and the rate, no percentage or ETA', async () => {
    const fifo = join(dir, 'in.fifo');
    execFileSync('mkfifo', [fifo]);
    const feed = () => spawn('sh', ['-c', `cat ${file} > ${fifo}`], { stdio: 'ignore' });
    feed();
    const plain = await run(['append', '--store', `sqlite:${db()}`, fifo], false);
    feed();
    const tty = await run(['append', '--store', `sqlite:${db()}`, fifo], true);
    expect(tty.code).toBe(0);
    expect(plain.stderr).toBe('');
    expect(tty.stderr).toMatch(/append: validating \| [\d,]+ events \| [\d,]+ events\/s/);
    expect(tty.stderr).not.toMatch(/%|ETA/);
    expect(tty.stderr).toContain('append: writing 30,000 events…');
    expect(tty.stdout.replace(/s\d+\.db/, '')).toBe(plain.stdout.replace(/s\d+\.db/, ''));
  });

  it('append with a bad line: the bar is cleared before the error, no write stage, exit 2 either way', async () => {
    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, readFileSync(file, 'utf8') + '{"type":"Nope","data":{}}\n');
    const plain = await run(['append', '--store', `sqlite:${db()}`, bad], false);
    const tty = await run(['append', '--store', `sqlite:${db()}`, bad], true);
    expect(plain.code).toBe(2);
    expect(tty.code).toBe(2);
    expect(tty.stdout).toBe('');
    expect(tty.stderr).toMatch(bar('append: validating'));
    expect(tty.stderr).not.toContain('writing');
    const error = plain.stderr;
    expect(error).toMatch(/^rollcall: line 30001: /);
    expect(tty.stderr.endsWith(`\u001b[2K${error}`)).toBe(true); // the line cleared, then the same error
  });

  it('watch: a catch-up bar (head − start), gone before the first line; none otherwise; stdout byte-identical', async () => {
    const source = db();
    expect((await run(['append', '--store', `sqlite:${source}`, file], false)).code).toBe(0);
    const a = db();
    const b = db();
    copyFileSync(source, a);
    copyFileSync(source, b);
    const args = (path: string) => ['watch', '--store', `sqlite:${path}`, '--from', '29695'];
    const plain = await run(args(a), false, { stopAfterLines: 8 });
    const tty = await run(args(b), true, { stopAfterLines: 8 });
    expect(plain.code).toBe(0);
    expect(tty.code).toBe(0);
    expect(plain.stdout.split('\n')).toHaveLength(9);
    expect(tty.stdout).toBe(plain.stdout);
    expect(plain.stderr).toBe('');
    expect(tty.stderr).toMatch(bar('watch: catching up'));
    expect(tty.stderr).toMatch(/100% \| 29,703 events/); // the whole log: there was no snapshot
    expect(tty.stderr.endsWith('\u001b[2K')).toBe(true);
    expect(tty.order).toMatch(/^e+o+$/); // nothing on stderr once output began
    expect(tty.stdout).not.toMatch(/events\/s|\u001b\[/);
  });

  it('watch from a snapshot: the bar counts only the tail after it', async () => {
    const path = db();
    expect((await run(['append', '--store', `sqlite:${path}`, file], false)).code).toBe(0);
    expect((await run(['replay', '--store', `sqlite:${path}`], false)).code).toBe(0); // saves a snapshot at the head
    const appended = await run(['append', '--store', `sqlite:${path}`, more], false);
    const tail = Number(/appended (\d+) event/.exec(appended.stdout)![1]);
    expect(tail).toBeGreaterThan(4_000);
    const tty = await run(['watch', '--store', `sqlite:${path}`, '--from', String(29_703 + tail - 3)], true, { stopAfterLines: 3 });
    expect(tty.code).toBe(0);
    expect(tty.stdout.split('\n')).toHaveLength(4);
    expect(tty.stderr).toMatch(new RegExp(`100% \\| ${tail.toLocaleString('en-US')} events`));
    expect(tty.stderr).not.toMatch(/\| (29,703|3\d,\d{3}) events \|/); // the count, not the rate (events/s)
  });

  const main = join(import.meta.dirname, '../../src/cli/main.ts');
  const cwd = join(import.meta.dirname, '../..');
  const env = { ...process.env, ROLLCALL_PROGRESS_DELAY_MS: '0' };

  it('append on a real terminal (script(1)): validation bar and write stage reach it; stdout unchanged; nothing in a stderr file', () => {
    const [a, b] = [db(), db()];
    const out = join(dir, 'append-pty.out');
    const screen = execFileSync('script', ['-q', '-e', '-c', `node --import tsx ${main} append --store sqlite:${a} ${file} > ${out}`, '/dev/null'], {
      encoding: 'utf8',
      env,
      cwd,
    });
    expect(screen).toMatch(bar('append: validating'));
    expect(screen).toContain('append: writing 30,000 events…');
    const errFile = join(dir, 'append.err');
    const piped = execFileSync('sh', ['-c', `node --import tsx ${main} append --store sqlite:${b} ${file} 2> ${errFile}`], { encoding: 'utf8', env, cwd });
    expect(readFileSync(errFile, 'utf8')).toBe('');
    expect(readFileSync(out, 'utf8').replace(a, b)).toBe(piped);
    expect(piped).toMatch(/^appended /);
  });

  it('watch on a real terminal (script(1)): the catch-up bar reaches it; the NDJSON on stdout is unchanged', () => {
    const source = db();
    expect(execFileSync(process.execPath, ['--import', 'tsx', main, 'append', '--store', `sqlite:${source}`, file], { env, cwd }).length).toBeGreaterThan(0);
    const [a, b] = [db(), db()];
    copyFileSync(source, a);
    copyFileSync(source, b);
    // Follows until stdout has 8 lines (at most 60 s), then stops it as SIGTERM would: exit 0.
    const watch = (path: string, out: string, err: string) =>
      `: > ${out}; node --import tsx ${main} watch --store sqlite:${path} --from 29695 >> ${out} ${err} & pid=$!; ` +
      `i=0; while [ "$(wc -l < ${out})" -lt 8 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; kill -TERM $pid; wait $pid`;
    const ttyOut = join(dir, 'watch-pty.out');
    const screen = execFileSync('script', ['-q', '-e', '-c', watch(a, ttyOut, ''), '/dev/null'], { encoding: 'utf8', env, cwd });
    expect(screen).toMatch(bar('watch: catching up'));
    const plainOut = join(dir, 'watch-plain.out');
    const errFile = join(dir, 'watch.err');
    execFileSync('sh', ['-c', watch(b, plainOut, `2> ${errFile}`)], { env, cwd });
    expect(readFileSync(errFile, 'utf8')).toBe('');
    const lines = readFileSync(plainOut, 'utf8');
    expect(lines.split('\n')).toHaveLength(9);
    expect(readFileSync(ttyOut, 'utf8')).toBe(lines);
  });
});
