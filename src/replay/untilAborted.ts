import { RollcallError } from '../errors.js';

/**
 * Passes a source's chunks through until `signal` aborts, then stops with `interrupted` (its
 * message names the abort reason, e.g. the signal). Checked between chunks: a fold never stops
 * halfway through one.
 */
export async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  const check = () => {
    if (signal?.aborted) throw new RollcallError('interrupted', `interrupted by ${String(signal.reason ?? 'an abort')}`);
  };
  check();
  for await (const chunk of source) {
    check();
    yield chunk;
  }
  check();
}
