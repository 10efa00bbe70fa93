import { RollcallError, type RollcallErrorCode } from '../errors.js';

/** Where a command reads and writes; tests pass their own. */
export interface CliIo {
  stdout: { write(chunk: string, callback?: () => void): unknown };
  stderr: { write(chunk: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM so long-running commands (watch, reconcile --every) can stop cleanly. */
  signal?: AbortSignal;
}

/** SPEC §5 exit codes (4 is ours: an internal error, reported as one line, never a bare stack). */
export const EXIT = { ok: 0, checkFailed: 1, badInput: 2, storeUnavailable: 3, internal: 4 } as const;

const exitByCode: Record<RollcallErrorCode, number> = {
  'invalid-event': EXIT.badInput,
  'unknown-event-type': EXIT.badInput,
  'invalid-json': EXIT.badInput,
  'wrong-expected-revision': EXIT.badInput,
  'store-unavailable': EXIT.storeUnavailable,
  'corrupt-store': EXIT.badInput,
  'corrupt-snapshot': EXIT.badInput,
  usage: EXIT.badInput,
  io: EXIT.badInput,
  timeout: EXIT.storeUnavailable,
};

/** Prints an error as one clear line (plus a detail line when there is a cause) and returns the exit code. */
export const reportError = (io: CliIo, error: unknown): number => {
  if (error instanceof RollcallError) {
    io.stderr.write(`rollcall: ${error.message}\n`);
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    if (cause && !error.message.includes(cause)) io.stderr.write(`  detail: ${cause}\n`);
    return exitByCode[error.code];
  }
  const parseArgsCode = (error as { code?: string } | null)?.code;
  if (typeof parseArgsCode === 'string' && parseArgsCode.startsWith('ERR_PARSE_ARGS')) {
    io.stderr.write(`rollcall: ${(error as Error).message} (see rollcall --help)\n`);
    return EXIT.badInput;
  }
  io.stderr.write(`rollcall: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  if (io.env['ROLLCALL_DEBUG'] && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  else io.stderr.write('  detail: set ROLLCALL_DEBUG=1 for the stack trace\n');
  return EXIT.internal;
};

export const usageError = (message: string): RollcallError => new RollcallError('usage', message);
