import { RollcallError, type RollcallErrorCode } from '../errors.js';
import { untilAborted } from '../replay/untilAborted.js';
import { maskUrl } from '../stores/maskUrl.js';

/** Where a command reads and writes; tests pass their own. */
export interface CliIo {
  stdout: { write(chunk: string, callback?: () => void): unknown };
  stderr: { write(chunk: string): unknown };
  env: NodeJS.ProcessEnv;
  /**
   * Aborted on SIGINT/SIGTERM (its reason is the signal's name): followers (watch, reconcile --every)
   * stop and exit 0; finite commands stop at the next safe point and exit 130/143.
   */
  signal?: AbortSignal;
}

/**
 * SPEC §5 exit codes, plus two of ours: 5 when the output cannot be written (disk full, a closed
 * terminal; a closed pipe is a normal end, exit 0), and 128 + n when stopped by signal n (130, 143).
 */
export const EXIT = { ok: 0, checkFailed: 1, badInput: 2, storeUnavailable: 3, internal: 4, outputFailed: 5 } as const;

const signalNumbers: Readonly<Record<string, number>> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/** 128 + the signal's number, as a shell reports a command stopped by it. */
export const exitForSignal = (signal: unknown): number => 128 + (signalNumbers[String(signal)] ?? 2);

/** Throws `interrupted` if a signal has arrived: finite commands call it at every safe point. */
export const throwIfInterrupted = (io: CliIo, doing = ''): void => {
  if (io.signal?.aborted) {
    throw new RollcallError('interrupted', `interrupted by ${String(io.signal.reason ?? 'a signal')}${doing ? `: ${doing}` : ''}`);
  }
};

/** Yields a source's chunks until a signal arrives, then stops it with `interrupted`. */
export const untilInterrupted = <T>(io: CliIo, source: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> => untilAborted(source, io.signal);

const exitByCode: Record<RollcallErrorCode, number> = {
  'invalid-event': EXIT.badInput,
  'unknown-event-type': EXIT.badInput,
  'invalid-json': EXIT.badInput,
  'wrong-expected-revision': EXIT.badInput,
  'store-unavailable': EXIT.storeUnavailable,
  'corrupt-store': EXIT.storeUnavailable,
  'corrupt-snapshot': EXIT.badInput,
  'clock-skew': EXIT.badInput,
  usage: EXIT.badInput,
  io: EXIT.badInput,
  interrupted: 130,
  'output-failed': EXIT.outputFailed,
  timeout: EXIT.storeUnavailable,
};

/**
 * Prints an error as one clear line (plus a detail line when there is a cause) and returns the exit
 * code. Every line goes through maskUrl: no password reaches the terminal, whatever a driver says.
 */
export const reportError = (io: CliIo, error: unknown): number => {
  const say = (line: string) => io.stderr.write(`${maskUrl(line)}\n`);
  if (error instanceof RollcallError) {
    say(`rollcall: ${error.message}`);
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    if (cause && !error.message.includes(cause)) say(`  detail: ${cause}`);
    return error.code === 'interrupted' ? exitForSignal(io.signal?.reason) : exitByCode[error.code];
  }
  const parseArgsCode = (error as { code?: string } | null)?.code;
  if (typeof parseArgsCode === 'string' && parseArgsCode.startsWith('ERR_PARSE_ARGS')) {
    // node's parseArgs explains over several lines; one line is the rule here.
    say(`rollcall: ${(error as Error).message.replace(/\s*\n\s*/g, ' ')} (see rollcall --help)`);
    return EXIT.badInput;
  }
  say(`rollcall: internal error: ${error instanceof Error ? error.message : String(error)}`);
  if (io.env['ROLLCALL_DEBUG'] && error instanceof Error && error.stack) say(error.stack);
  else say('  detail: set ROLLCALL_DEBUG=1 for the stack trace');
  return EXIT.internal;
};

export const usageError = (message: string): RollcallError => new RollcallError('usage', message);
