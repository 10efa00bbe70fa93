import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type cliProgress from 'cli-progress';
import type { CliIo } from './cliIo.js';

// cli-progress (~20 ms of loading) is required only when a bar is drawn: most runs draw none
// (stderr is not a terminal, or the work ends within the delay).
const require = createRequire(import.meta.url);
const loadBars = (): typeof cliProgress => require('cli-progress') as typeof cliProgress;

/** A progress display for one long piece of work, counted in events. */
export interface Progress {
  /**
   * `done` events so far (absolute, not a delta). With `measure: 'bytes'`, `bytes` is how much of
   * the input has been read: it drives the bar and the ETA, while the count and rate stay in events.
   */
  update(done: number, bytes?: number): void;
  /** The total became known, or a better estimate of it. */
  setTotal(total: number): void;
  /** Removes the bar (call it before printing anything else, and on errors). */
  stop(): void;
}

export interface ProgressOptions {
  /** What is being done, e.g. "replay". */
  label: string;
  /**
   * Events expected in all (an estimate is fine; it grows if the count passes it), or bytes with
   * `measure: 'bytes'`. `null` when nothing tells (a pipe): then a count and a rate, no bar,
   * percentage or ETA, unless `setTotal` gives one before the display starts.
   */
  total: number | null;
  /** What `total` counts (default `'events'`). */
  measure?: 'events' | 'bytes';
  /**
   * Show nothing before the work has run this long (SPEC §5: work that takes more than a second).
   * Default 1000 ms, or `ROLLCALL_PROGRESS_DELAY_MS` from the environment.
   */
  delayMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

const silent: Progress = { update() {}, setTotal() {}, stop() {} };

type Stream = CliIo['stderr'] & { isTTY?: boolean; columns?: number };

/** True when `stream` is a terminal: progress goes there, and only there. */
export const isTerminal = (stream: CliIo['stderr']): boolean => (stream as Stream).isTTY === true;

const formatRate = (perSecond: number): string => Math.round(perSecond).toLocaleString('en-US');

/** `delayMs`, else `ROLLCALL_PROGRESS_DELAY_MS` from the environment, else 1 s. */
const delayFor = (io: CliIo, delayMs: number | undefined): number => {
  if (delayMs !== undefined) return delayMs;
  const raw = io.env['ROLLCALL_PROGRESS_DELAY_MS'];
  const fromEnv = Number(raw);
  return raw !== undefined && Number.isFinite(fromEnv) ? fromEnv : 1000;
};

/**
 * A progress bar with events/s and an ETA on stderr (cli-progress), shown only when stderr is a
 * terminal and only once the work has taken more than `delayMs`; never anything on stdout. On any
 * other stderr (a file, a pipe, CI logs) it is a no-op.
 */
export const createProgress = (io: CliIo, options: ProgressOptions): Progress => {
  if (!isTerminal(io.stderr)) return silent;
  const now = options.now ?? (() => performance.now());
  const started = now();
  const delayMs = delayFor(io, options.delayMs);
  const byBytes = options.measure === 'bytes';
  let total = options.total === null ? null : Math.max(1, Math.round(options.total));
  let done = 0;
  let value = 0;
  let bar: cliProgress.SingleBar | null = null;
  let stopped = false;

  const rate = () => {
    const seconds = (now() - started) / 1000;
    return seconds > 0 ? done / seconds : 0;
  };
  const payload = () => ({ rate: formatRate(rate()), count: done.toLocaleString('en-US') });

  return {
    update(events, bytes) {
      if (stopped) return;
      done = events;
      value = byBytes ? (bytes ?? value) : events;
      if (total !== null && value > total) total = value;
      if (bar === null) {
        if (now() - started < delayMs) return;
        // Without a total, no bar, percentage or ETA can be honest: the count and the rate only.
        const format =
          total === null
            ? `${options.label} | {count} events | {rate} events/s`
            : `${options.label} [{bar}] {percentage}% | {count} events | {rate} events/s | ETA {eta_formatted}`;
        const bars = loadBars();
        bar = new bars.SingleBar(
          {
            stream: io.stderr as unknown as NodeJS.WritableStream,
            format,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
            fps: 5,
          },
          bars.Presets.shades_classic,
        );
        bar.start(total ?? Math.max(1, value), value, payload());
        return;
      }
      if (total !== null) bar.setTotal(total);
      bar.update(value, payload());
    },
    setTotal(next) {
      total = Math.max(1, Math.round(next), value);
      bar?.setTotal(total);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    },
  };
};

/** A stage whose progress cannot be measured (one transaction): a line naming it, without percentage or ETA. */
export interface Stage {
  /** Removes the line (idempotent). */
  stop(): void;
}

/**
 * Shows `text` on a terminal stderr once the work, counted from `startedAt` (a `now()` reading), has
 * run `delayMs` (default as for `createProgress`); at once if it already has, else from a timer
 * (which cannot fire while a synchronous write holds the thread: such a stage then shows nothing).
 * A no-op on any other stderr.
 */
export const createStage = (io: CliIo, text: string, options: { startedAt: number; delayMs?: number; now?: () => number }): Stage => {
  if (!isTerminal(io.stderr)) return { stop() {} };
  const now = options.now ?? (() => performance.now());
  const columns = (io.stderr as Stream).columns;
  // One line only, so that clearing it leaves nothing behind.
  const line = columns !== undefined && columns > 1 && text.length >= columns ? `${text.slice(0, columns - 2)}…` : text;
  let shown = false;
  let stopped = false;
  const show = () => {
    if (stopped || shown) return;
    shown = true;
    io.stderr.write(`\r\u001b[2K${line}`);
  };
  const wait = delayFor(io, options.delayMs) - (now() - options.startedAt);
  let timer: NodeJS.Timeout | null = null;
  if (wait <= 0) show();
  else {
    timer = setTimeout(show, wait);
    timer.unref();
  }
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      if (shown) io.stderr.write('\r\u001b[2K');
    },
  };
};

/**
 * How many events an NDJSON file probably holds: its size over the mean length of the lines in
 * its first 256 KiB. Only an ETA rests on it; 0 when the file cannot be read (the reader reports it).
 */
export const estimateNdjsonEvents = (path: string): number => {
  if (path === '-') return 0;
  try {
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(size, 1 << 18));
      const read = readSync(fd, buffer, 0, buffer.length, 0);
      let lines = 0;
      for (let i = buffer.indexOf(10); i !== -1 && i < read; i = buffer.indexOf(10, i + 1)) lines++;
      return lines === 0 ? 1 : Math.round((size * lines) / read);
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
};

/**
 * Progress for a replay-like command: `onProgress` for `replayFile`/`replayStore`/`checkLog`
 * sources, with the total from the store, or estimated from the file (`estimate`).
 */
export const replayProgress = (io: CliIo, label: string, estimate: number): Progress & { onProgress: (done: number, total: number | null) => void } => {
  // No estimate (stdin, a store that cannot count its tail): a count and a rate, no made-up percentage.
  const progress = createProgress(io, { label, total: estimate > 0 ? estimate : null });
  let knownTotal: number | null = null;
  return {
    ...progress,
    onProgress(done, total) {
      if (total !== null && total !== knownTotal) {
        knownTotal = total;
        progress.setTotal(total);
      }
      progress.update(done);
    },
  };
};

/**
 * Progress for `append`'s two phases. Validation: a bar over the bytes of the input when its size
 * is known (a regular file), else the count and rate alone (a pipe); in events and events/s either
 * way. The write: one transaction that reports nothing inside it, so a line saying so
 * ("writing N events…") instead of a made-up percentage.
 */
export const appendProgress = (io: CliIo, inputBytes: number | null, now: () => number = () => performance.now()) => {
  const startedAt = now();
  const validating = createProgress(io, { label: 'append: validating', total: inputBytes, measure: 'bytes', now });
  let bytes = 0;
  let writing: Stage | null = null;
  return {
    /** Counts bytes read from the input (they drive the validation bar). */
    read(n: number) {
      bytes += n;
    },
    /** For `appendEvents`' `onProgress`. */
    onProgress(done: number, total: number | null, phase: 'validate' | 'write') {
      if (phase === 'validate') return validating.update(done, bytes);
      if (writing !== null || total === null || done >= total) return;
      validating.stop();
      writing = createStage(io, `append: writing ${total.toLocaleString('en-US')} events…`, { startedAt, now });
    },
    stop() {
      validating.stop();
      writing?.stop();
    },
  };
};

/** The size of an input `append` reads, when it is a regular file (a path, or stdin redirected from one); else null. */
export const inputSize = (path: string): number | null => {
  try {
    const stat = path === '-' ? fstatSync(0) : statSync(path);
    return stat.isFile() ? stat.size : null;
  } catch {
    return null;
  }
};
