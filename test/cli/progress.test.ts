import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli.js';
import { createProgress, estimateNdjsonEvents } from '../../src/cli/progress.js';
import { generateNdjson } from '../../src/generate/generateHistory.js';
import { tempDir } from '../support/cli.js';

/** A stand-in for process.stderr: a terminal when `tty` says so. */
const stream = (tty: boolean) => {
  const out = { text: '', isTTY: tty, columns: 120, write: (s: string) => ((out.text += s), true) };
  return out;
};

/** Runs the CLI with a chosen stderr; progress shows at once (no 1 s delay) so that short runs show it too. */
const run = async (args: string[], tty: boolean) => {
  let stdout = '';
  const stderr = stream(tty);
  const code = await runCli(args, {
    stdout: { write: (s: string, cb?: () => void) => ((stdout += s), cb?.(), true) },
    stderr,
    env: { ROLLCALL_STORE: 'memory:', ROLLCALL_PROGRESS_DELAY_MS: '0' },
  });
  return { code, stdout, stderr: stderr.text };
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
