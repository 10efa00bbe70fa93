import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { RollcallError } from '../errors.js';

/** How long a fold may run on microtasks alone before it lets the event loop see a signal. */
const YIELD_EVERY_MS = 50;

/**
 * Passes a source's chunks through until `signal` aborts, then stops with `interrupted` (its
 * message names the abort reason, e.g. the signal). Checked between chunks: a fold never stops
 * halfway through one. A store read that never waits for I/O (sqlite is synchronous) runs on
 * microtasks only, where no signal handler can run, so every 50 ms it yields one macrotask.
 */
export async function* untilAborted<T>(source: AsyncIterable<T> | Iterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  const check = () => {
    if (signal?.aborted) throw new RollcallError('interrupted', `interrupted by ${String(signal.reason ?? 'an abort')}`);
  };
  if (!signal) {
    yield* source;
    return;
  }
  check();
  let since = performance.now();
  for await (const chunk of source) {
    if (performance.now() - since > YIELD_EVERY_MS) {
      await nextMacrotask();
      since = performance.now();
    }
    check();
    yield chunk;
  }
  check();
}
