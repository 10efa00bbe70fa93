import { closeSync, openSync, readSync, statSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { CliIo } from './cliIo.js';

/** A progress display for one long piece of work, counted in events. */
export interface Progress {
  /** `done` events so far (absolute, not a delta). */
  update(done: number): void;
  /** The total became known, or a better estimate of it. */
  setTotal(total: number): void;
  /** Removes the bar (call it before printing anything else, and on errors). */
  stop(): void;
}

export interface ProgressOptions {
  /** What is being done, e.g. "replay". */
  label: string;
  /** Events expected in all (an estimate is fine; it grows if the count passes it). */
  total: number;
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

/**
 * A progress bar with events/s and an ETA on stderr (cli-progress), shown only when stderr is a
 * terminal and only once the work has taken more than `delayMs`; never anything on stdout. On any
 * other stderr (a file, a pipe, CI logs) it is a no-op.
 */
export const createProgress = (io: CliIo, options: ProgressOptions): Progress => {
  if (!isTerminal(io.stderr)) return silent;
  const now = options.now ?? (() => performance.now());
  const started = now();
  const fromEnv = Number(io.env['ROLLCALL_PROGRESS_DELAY_MS']);
  const delayMs = options.delayMs ?? (io.env['ROLLCALL_PROGRESS_DELAY_MS'] !== undefined && Number.isFinite(fromEnv) ? fromEnv : 1000);
  let total = Math.max(1, Math.round(options.total));
  let done = 0;
  let bar: cliProgress.SingleBar | null = null;
  let stopped = false;

  const rate = () => {
    const seconds = (now() - started) / 1000;
    return seconds > 0 ? done / seconds : 0;
  };
  const payload = () => ({ rate: formatRate(rate()), count: done.toLocaleString('en-US') });

  return {
    update(value) {
      if (stopped) return;
      done = value;
      if (done > total) total = done;
      if (bar === null) {
        if (now() - started < delayMs) return;
        bar = new cliProgress.SingleBar(
          {
            stream: io.stderr as unknown as NodeJS.WritableStream,
            format: `${options.label} [{bar}] {percentage}% | {count} events | {rate} events/s | ETA {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, payload());
        return;
      }
      bar.setTotal(total);
      bar.update(done, payload());
    },
    setTotal(value) {
      total = Math.max(1, Math.round(value), done);
      bar?.setTotal(total);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
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
  const progress = createProgress(io, { label, total: estimate });
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
